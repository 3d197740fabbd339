package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/patchwire/patchwire/manifest"
)

// BundleStoredBytes returns, per version of app, the bytes the bundle added
// to the store after dedup: the size of its distinct files that no bundle
// of the app committed before it has (what an upload of it had to send).
// Objects shared with other apps count for each app. It reads every
// manifest of the app (through the manifest cache): meant for listings,
// not for device requests.
func (s *Store) BundleStoredBytes(ctx context.Context, app string) (map[string]int64, error) {
	bundles, err := s.ListBundles(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("bundle stored bytes: %w", err)
	}
	sort.SliceStable(bundles, func(i, j int) bool { return bundles[i].CreatedAt.Before(bundles[j].CreatedAt) })
	seen := map[manifest.Digest]bool{}
	out := make(map[string]int64, len(bundles))
	for _, b := range bundles {
		m, err := s.LoadManifest(ctx, b.Manifest)
		if err != nil {
			return nil, fmt.Errorf("bundle stored bytes: %s: %w", b.Version, err)
		}
		var n int64
		for _, e := range m.Entries() {
			if !seen[e.Digest] {
				seen[e.Digest] = true
				n += e.Size
			}
		}
		out[b.Version] = n
	}
	return out, nil
}
