package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/patchwire/patchwire/api"
)

// bundleCounters is the sb/ value: the figures of one bundle on one
// channel. Devices is a gauge kept in step with the device records; the
// others count events.
type bundleCounters struct {
	Devices   int64 `json:"devices,omitempty"`
	Checks    int64 `json:"checks,omitempty"`
	Downloads int64 `json:"downloads,omitempty"`
	Installs  int64 `json:"installs,omitempty"`
	Failures  int64 `json:"failures,omitempty"`
	Rollbacks int64 `json:"rollbacks,omitempty"`
	// BytesServed and BytesFull sum the download sizes events carry
	// (Event.BytesServed, BytesFull).
	BytesServed int64 `json:"bytes_served,omitempty"`
	BytesFull   int64 `json:"bytes_full,omitempty"`
}

func (c *bundleCounters) add(d bundleCounters) {
	c.Devices += d.Devices
	c.Checks += d.Checks
	c.Downloads += d.Downloads
	c.Installs += d.Installs
	c.Failures += d.Failures
	c.Rollbacks += d.Rollbacks
	c.BytesServed += d.BytesServed
	c.BytesFull += d.BytesFull
}

func (c bundleCounters) zero() bool { return c == bundleCounters{} }

// counterKey names one sb/ record.
type counterKey struct{ app, channel, bundle string }

func (k counterKey) key() []byte {
	return append(append(appScopedKey(pfxBundleStats, k.app, k.channel), 0), k.bundle...)
}

// Stats actions and what they count as (api.BundleStats).
const (
	ActionDownloadComplete = "download_complete"
	ActionSet              = "set"
	ActionUpdateFail       = "update_fail"
)

// IsFailureAction reports whether a stats action counts as a failure of the
// bundle it is about: every *_fail action except update_fail (a rollback),
// plus checksum_required and insufficient_disk_space.
func IsFailureAction(action string) bool {
	switch action {
	case ActionUpdateFail:
		return false
	case "checksum_required", "insufficient_disk_space":
		return true
	}
	return strings.HasSuffix(action, "_fail")
}

// countEvent adds one event with action to c.
func countEvent(c *bundleCounters, action string) {
	switch {
	case action == ActionDownloadComplete:
		c.Downloads++
	case action == ActionSet:
		c.Installs++
	case action == ActionUpdateFail:
		c.Rollbacks++
	case IsFailureAction(action):
		c.Failures++
	}
}

// addCounters applies deltas to the sb/ records, in key order, and to
// their hour buckets at now (sh/, series.go).
func addCounters(txn kvTxn, now time.Time, deltas map[counterKey]*bundleCounters) error {
	keys := make([]counterKey, 0, len(deltas))
	for k, d := range deltas {
		if !d.zero() {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.app != b.app {
			return a.app < b.app
		}
		if a.channel != b.channel {
			return a.channel < b.channel
		}
		return a.bundle < b.bundle
	})
	for _, k := range keys {
		key := k.key()
		var c bundleCounters
		v, ok, err := getValue(txn, key)
		if err != nil {
			return err
		}
		if ok {
			// Counters that do not decode restart from zero.
			_ = json.Unmarshal(v, &c)
		}
		c.add(*deltas[k])
		c.Devices = max(c.Devices, 0)
		enc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := txn.Set(key, enc); err != nil {
			return err
		}
		if err := addSeries(txn, k, now, *deltas[k], c.Devices); err != nil {
			return err
		}
	}
	return nil
}

// BundleStats returns app's per-bundle figures (see api.BundleStats): over
// every channel when channel is "", else only the devices the server last
// resolved to channel and the events they sent while on it. Bundles are
// ordered newest semantic version first, then others ("builtin", ...) by
// name. Bundles with nothing to show are left out.
func (s *Store) BundleStats(ctx context.Context, app, channel string) ([]api.BundleStats, error) {
	if err := ValidateAppID(app); err != nil {
		return nil, fmt.Errorf("bundle stats: %w", err)
	}
	sums := map[string]*bundleCounters{}
	prefix := appScopedPrefix(pfxBundleStats, app)
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, prefix, true, func(key, v []byte) error {
			ch, bundle, ok := bytes.Cut(key[len(prefix):], []byte{0})
			if !ok || channel != "" && string(ch) != channel {
				return nil
			}
			var c bundleCounters
			if err := decodeRecord(key, v, &c); err != nil {
				return err
			}
			sum := sums[string(bundle)]
			if sum == nil {
				sum = &bundleCounters{}
				sums[string(bundle)] = sum
			}
			sum.add(c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bundle stats: %w", err)
	}
	out := make([]api.BundleStats, 0, len(sums))
	for v, c := range sums {
		shown := *c
		shown.Checks, shown.BytesServed, shown.BytesFull = 0, 0, 0 // for the series only
		if shown.zero() {
			continue
		}
		out = append(out, api.BundleStats{Version: v, Devices: c.Devices, Downloads: c.Downloads,
			Installs: c.Installs, Failures: c.Failures, Rollbacks: c.Rollbacks})
	}
	sortVersionsDesc(out)
	return out, nil
}

// sortVersionsDesc orders semantic versions newest first, then the rest by
// name.
func sortVersionsDesc(bs []api.BundleStats) {
	parsed := make(map[string]*semver.Version, len(bs))
	for _, b := range bs {
		if v, err := semver.StrictNewVersion(b.Version); err == nil {
			parsed[b.Version] = v
		}
	}
	sort.Slice(bs, func(i, j int) bool {
		vi, vj := parsed[bs[i].Version], parsed[bs[j].Version]
		switch {
		case vi != nil && vj != nil:
			return vi.GreaterThan(vj)
		case vi != nil || vj != nil:
			return vi != nil
		}
		return bs[i].Version < bs[j].Version
	})
}
