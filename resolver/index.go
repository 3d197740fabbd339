package resolver

import "github.com/patchwire/patchwire/manifest"

// index holds the lookups a decision would otherwise make by scanning every
// channel or bundle of the snapshot, so that one decision costs the same
// with 10 bundles or 2,000. It is built once by Snapshot.Index over a
// snapshot that is not changed afterwards, and shared by its copies.
type index struct {
	// byName is the channel of each name (the least ID when names repeat).
	byName map[string]Channel
	// public is publicChannel's answer per known platform.
	public map[Platform]Channel
	// live holds the manifest of every live bundle.
	live map[manifest.Digest]struct{}
	// builtins are the live registered builtin bundles with content.
	builtins []Bundle
}

// Index precomputes the snapshot's per-channel and per-bundle lookups and
// returns it: the decisions taken over the result (and over its copies,
// Override and SelfAssigned set per device) read maps instead of scanning
// every channel and bundle. Call it once the snapshot is complete; a
// snapshot must not change after it (its Channels and Bundles are then
// shared, read-only). Decisions over an unindexed snapshot are the same,
// only slower with many bundles.
func (s Snapshot) Index() Snapshot {
	s.idx = nil
	ix := &index{
		byName: make(map[string]Channel, len(s.Channels)),
		public: map[Platform]Channel{},
		live:   make(map[manifest.Digest]struct{}, len(s.Bundles)),
	}
	for _, c := range s.Channels {
		if best, ok := ix.byName[c.Name]; !ok || c.ID < best.ID {
			ix.byName[c.Name] = c
		}
	}
	for _, p := range []Platform{PlatformIOS, PlatformAndroid, PlatformElectron} {
		if c, ok := publicChannel(&s, p); ok {
			ix.public[p] = c
		}
	}
	for _, b := range s.Bundles {
		if b.Deleted {
			continue
		}
		ix.live[b.Manifest] = struct{}{}
		if b.Builtin && !b.Manifest.IsZero() {
			ix.builtins = append(ix.builtins, b)
		}
	}
	s.idx = ix
	return s
}
