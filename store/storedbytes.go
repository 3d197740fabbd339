package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// SetStoredBytes fills in each bundle's StoredBytes: what it added to the
// store after dedup, the size of its distinct files that no bundle of the
// list committed before it has (what an upload of it had to send). Pass
// all of an app's bundles (ListBundles); objects shared with other apps
// count for each app. It reads every manifest of the list (through the
// manifest cache): meant for listings, not for device requests. The order
// of bundles is kept.
func (s *Store) SetStoredBytes(ctx context.Context, bundles []api.Bundle) error {
	byAge := make([]*api.Bundle, len(bundles))
	for i := range bundles {
		byAge[i] = &bundles[i]
	}
	sort.SliceStable(byAge, func(i, j int) bool { return byAge[i].CreatedAt.Before(byAge[j].CreatedAt) })
	seen := map[manifest.Digest]bool{}
	for _, b := range byAge {
		m, err := s.LoadManifest(ctx, b.Manifest)
		if err != nil {
			return fmt.Errorf("bundle stored bytes: %s: %w", b.Version, err)
		}
		b.StoredBytes = 0
		for _, e := range m.Entries() {
			if !seen[e.Digest] {
				seen[e.Digest] = true
				b.StoredBytes += e.Size
			}
		}
	}
	return nil
}
