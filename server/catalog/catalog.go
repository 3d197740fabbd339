package catalog

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// MaxApps bounds the apps whose catalog is kept decoded; past it the kept
// apps are dropped and read again as devices ask (an attacker naming many
// unknown apps costs memory only up to here).
const MaxApps = 4096

// Catalog keeps the decoded catalog of every app devices ask about. It is
// safe for concurrent use.
type Catalog struct {
	st   store.Catalog
	apps sync.Map // app id -> *entry
	n    atomic.Int64
}

// New returns an empty Catalog over st; apps are read on first use.
func New(st store.Catalog) *Catalog { return &Catalog{st: st} }

// App is one app's decoded catalog at one store generation. It is
// immutable: share it, never change it.
type App struct {
	// Snapshot is the resolver's view of the app, indexed, with Override
	// and SelfAssigned empty (Catalog.Snapshot sets them per device).
	Snapshot resolver.Snapshot
	// Channels are the stored channels in name order.
	Channels []api.Channel

	gen      uint64
	sequence map[string]uint64
	releases map[string]*api.SignedStatement
}

// Exists reports whether the app exists.
func (a *App) Exists() bool { return a.Snapshot.App.Exists }

// Sequence is the sequence of the named channel (api.Channel.Sequence), 0
// for none.
func (a *App) Sequence(channel string) uint64 { return a.sequence[channel] }

// Release is the release statement bundle version was uploaded with
// (api.BundleMeta.Release), nil for none.
func (a *App) Release(version string) *api.SignedStatement { return a.releases[version] }

// devices is one app's device-channel records at one pair of generations.
type devices struct {
	catalogGen, devicesGen uint64
	maps                   store.DeviceChannelMaps
}

// entry is what the Catalog keeps of one app; mu makes concurrent readers
// of a stale entry wait for one load instead of each loading.
type entry struct {
	mu      sync.Mutex
	app     atomic.Pointer[App]
	devices atomic.Pointer[devices]
}

// App returns app's catalog, current as of the call: every write that
// returned before it is seen. An unknown app is an App whose Exists is
// false.
func (c *Catalog) App(ctx context.Context, app string) (*App, error) {
	return c.appAt(ctx, app, c.st.CatalogGeneration())
}

// appAt is App given the catalog generation, taken before any read: an
// App kept at gen or later (generations only grow) is current; else one is
// read and kept at gen (a write after gen was taken moves the generation
// again, so it is read once more).
func (c *Catalog) appAt(ctx context.Context, app string, gen uint64) (*App, error) {
	e := c.entry(app)
	if a := e.app.Load(); a != nil && a.gen >= gen {
		return a, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.app.Load(); a != nil && a.gen >= gen {
		return a, nil
	}
	as, err := c.st.Snapshot(ctx, app, "")
	if err != nil {
		return nil, err
	}
	a := &App{Snapshot: FromStore(as).Index(), Channels: as.Channels, gen: gen,
		sequence: make(map[string]uint64, len(as.Channels))}
	for _, ch := range as.Channels {
		a.sequence[ch.Name] = ch.Sequence
	}
	for v, b := range as.Bundles {
		if b.Release != nil {
			if a.releases == nil {
				a.releases = map[string]*api.SignedStatement{}
			}
			a.releases[v] = &api.SignedStatement{Payload: b.Release.Payload, Signature: b.Release.Signature, KeyID: b.Release.KeyID}
		}
	}
	e.app.Store(a)
	return a, nil
}

// Snapshot returns the resolver's view of app for device deviceID (any
// case; "" or an invalid id has no device records): App's Snapshot with
// the device's override and self-assignment. It reads the store only when
// the app's catalog or device channels changed since they were last read.
func (c *Catalog) Snapshot(ctx context.Context, app, deviceID string) (resolver.Snapshot, error) {
	_, snap, err := c.ForDevice(ctx, app, deviceID)
	return snap, err
}

// ForDevice is Snapshot with the App it was taken from. It takes both
// generations once (store.Generations: one query on PostgreSQL).
func (c *Catalog) ForDevice(ctx context.Context, app, deviceID string) (*App, resolver.Snapshot, error) {
	cg, dg := c.st.Generations(app)
	a, err := c.appAt(ctx, app, cg)
	if err != nil {
		return nil, resolver.Snapshot{}, err
	}
	snap := a.Snapshot
	dev, err := store.NormalizeDeviceID(deviceID)
	if !a.Exists() || err != nil {
		return a, snap, nil
	}
	d, err := c.devicesAt(ctx, app, cg, dg)
	if err != nil {
		return nil, resolver.Snapshot{}, err
	}
	snap.Override, snap.SelfAssigned = d.maps.Override[dev], d.maps.SelfAssigned[dev]
	return a, snap, nil
}

// devicesAt returns app's device-channel records as of the generations cg
// and dg, taken before any read (as appAt).
func (c *Catalog) devicesAt(ctx context.Context, app string, cg, dg uint64) (*devices, error) {
	e := c.entry(app)
	if d := e.devices.Load(); d != nil && d.catalogGen >= cg && d.devicesGen >= dg {
		return d, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if d := e.devices.Load(); d != nil && d.catalogGen >= cg && d.devicesGen >= dg {
		return d, nil
	}
	m, err := c.st.AppDeviceChannels(ctx, app)
	if err != nil {
		return nil, err
	}
	d := &devices{catalogGen: cg, devicesGen: dg, maps: m}
	e.devices.Store(d)
	return d, nil
}

// entry returns app's entry, making it (and dropping every kept app when
// there are too many).
func (c *Catalog) entry(app string) *entry {
	if v, ok := c.apps.Load(app); ok {
		return v.(*entry)
	}
	v, loaded := c.apps.LoadOrStore(app, &entry{})
	if !loaded && c.n.Add(1) > MaxApps {
		c.apps.Clear() // many apps: start over rather than track use
		c.n.Store(0)
	}
	return v.(*entry)
}
