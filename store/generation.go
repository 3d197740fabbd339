package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// generations are counters that move after every committed write a reader
// of the catalog must see, so that a decoded copy kept in memory (the
// server's catalog) is known current without a read transaction: the copy
// was read after its generation was taken, and stays good while the
// generation is unchanged. A counter moves after the commit and before the
// write returns, so whatever a caller does after a write returns sees the
// new generation.
//
//   - catalog moves on every committed update (conservatively: every write
//     that is not known to stay outside apps, channels, bundles and device
//     channels, see updateData). The catalog is written by administrators,
//     rarely.
//   - devices, per app, moves when a device-channel record (an override,
//     an old plugin's self-assignment) is set or cleared: those are written
//     per device, sometimes by devices, and must not make every app's
//     catalog decode again.
type generations struct {
	catalog atomic.Uint64
	devices sync.Map // app -> *atomic.Uint64
}

func (g *generations) catalogChanged() { g.catalog.Add(1) }

func (g *generations) deviceCounter(app string) *atomic.Uint64 {
	if v, ok := g.devices.Load(app); ok {
		return v.(*atomic.Uint64)
	}
	v, _ := g.devices.LoadOrStore(app, new(atomic.Uint64))
	return v.(*atomic.Uint64)
}

// CatalogGeneration changes after every committed write that may have
// changed an app, channel or bundle record (or several apps' device
// channels at once, as a channel's deletion does). A catalog read after
// CatalogGeneration returned g is current for as long as it still returns
// g. It is a number in memory: reading it touches no transaction. On a
// PostgreSQL catalog it is the shared generation, read again per
// Options.CatalogRecheck (cluster.go): another node's write that returned
// before the call is seen.
func (s *Store) CatalogGeneration() uint64 {
	if s.cluster != nil {
		return s.cluster.catalogGeneration(s)
	}
	return s.gens.catalog.Load()
}

// DeviceChannelsGeneration changes after every committed write of one of
// app's device-channel records (overrides and self-assignments, see
// AppDeviceChannels); a write that changes CatalogGeneration may change
// them too, so readers keep both.
//
// On a PostgreSQL catalog it is app's shared row, as CatalogGeneration.
func (s *Store) DeviceChannelsGeneration(app string) uint64 {
	_, devices := s.Generations(app)
	return devices
}

// Generations is CatalogGeneration and app's DeviceChannelsGeneration
// together: what a check compares its cached catalog and device records
// with. On a PostgreSQL catalog both rows come from one query, where the
// two calls would take two.
func (s *Store) Generations(app string) (catalog, devices uint64) {
	if s.cluster != nil {
		return s.cluster.generations(s, app)
	}
	return s.gens.catalog.Load(), s.gens.deviceCounter(app).Load()
}

// deviceChannelsChanged is called after a committed write of app's
// device-channel records.
func (s *Store) deviceChannelsChanged(app string) { s.gens.deviceCounter(app).Add(1) }

// DeviceChannelMaps are an app's device-channel records by lower-case device
// id: the administrators' overrides and the old plugins' self-assignments.
type DeviceChannelMaps struct {
	Override, SelfAssigned map[string]string
}

// AppDeviceChannels reads every override and self-assignment of app in one
// read transaction (keys and short values from the LSM tree). An unknown or
// invalid app has none.
func (s *Store) AppDeviceChannels(ctx context.Context, app string) (DeviceChannelMaps, error) {
	m := DeviceChannelMaps{Override: map[string]string{}, SelfAssigned: map[string]string{}}
	if ValidateAppID(app) != nil {
		return m, nil
	}
	err := s.view(ctx, func(txn kvTxn) error {
		for _, t := range []struct {
			prefix string
			into   map[string]string
		}{{pfxOverride, m.Override}, {pfxSelfAssigned, m.SelfAssigned}} {
			clear(t.into)
			pfx := appScopedPrefix(t.prefix, app)
			err := scan(txn, pfx, true, func(key, v []byte) error {
				t.into[string(key[len(pfx):])] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return DeviceChannelMaps{}, fmt.Errorf("device channels of app %q: %w", app, err)
	}
	return m, nil
}
