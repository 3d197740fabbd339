package capgo

import (
	"context"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
)

// The stats actions with which the plugin says a download arrived whole:
// the bundle zip, or every file of the manifest.
const (
	actionZipComplete      = "download_zip_complete"
	actionManifestComplete = "download_manifest_complete"
)

// deliveryBytes returns, for a stats event that completes a download of
// version, the bytes the device was sent and the size of the bundle's
// zip (what full-zip delivery sends). A zip download was sent the zip; a
// manifest download the served form (Brotli where listed so) of each file
// of version that the device's current bundle, as its record names it,
// lacks. ok is false for other actions and for bundles the snapshot does
// not serve. The plugin also reuses files of its built-in assets and of
// older downloads: served is an upper bound.
func (h *Handler) deliveryBytes(ctx context.Context, snap resolver.Snapshot, app, device, action, version string) (served, full int64, ok bool) {
	if action != actionZipComplete && action != actionManifestComplete {
		return 0, 0, false
	}
	b, found := snap.Bundles[version]
	if !found || b.Deleted || b.Manifest.IsZero() {
		return 0, 0, false
	}
	p, err := h.prepared.get(ctx, keyOf(app, b))
	if err != nil {
		return 0, 0, false
	}
	full = p.zipSize
	if full == 0 {
		full = b.Size // too large to store as a zip: its files, whole
	}
	if action == actionZipComplete {
		return full, full, true
	}
	m, err := h.st.LoadManifest(ctx, b.Manifest)
	if err != nil {
		return 0, 0, false
	}
	have := map[manifest.Digest]bool{}
	if d, err := h.st.GetDevice(ctx, app, device); err == nil && d.Bundle != version {
		if cur, ok := snap.Bundles[d.Bundle]; ok && !cur.Manifest.IsZero() {
			if cm, err := h.st.LoadManifest(ctx, cur.Manifest); err == nil {
				for _, e := range cm.Entries() {
					have[e.Digest] = true
				}
			}
		}
	}
	for _, e := range m.Entries() {
		if !have[e.Digest] {
			have[e.Digest] = true
			served += p.served[e.Digest]
		}
	}
	return served, full, true
}
