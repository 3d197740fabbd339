package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

func TestPatchMapping(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	patch := []byte("a patch's bytes")
	pd := manifest.Sum(patch)
	from, to := manifest.Sum([]byte("from")), manifest.Sum([]byte("to"))
	bundleKey := PatchKey{Codec: "zstd-dict", From: from, To: to, Bundle: true}
	fileKey := PatchKey{Codec: "zstd-dict", From: from, To: to}

	// The object must be stored first.
	var mo *MissingObjectsError
	if err := s.PutPatch(ctx, bundleKey, pd, int64(len(patch))); !errors.As(err, &mo) || mo.Digests[0] != pd {
		t.Fatalf("PutPatch before PutObject: %v", err)
	}
	if _, err := s.PutObject(ctx, pd, patch); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPatch(ctx, bundleKey, pd, 3); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PutPatch with a wrong size: %v", err)
	}
	if err := s.PutPatch(ctx, bundleKey, pd, int64(len(patch))); err != nil {
		t.Fatal(err)
	}
	// A per-file patch between the same digests is another mapping.
	if _, err := s.GetPatch(ctx, fileKey); !errors.Is(err, ErrNotFound) {
		t.Fatalf("file patch: %v", err)
	}
	if err := s.PutPatch(ctx, fileKey, manifest.Digest{}, 0); err != nil {
		t.Fatal(err)
	}
	other := PatchKey{Codec: "bsdiff", From: from, To: to, Bundle: true}
	got, err := s.LookupPatches(ctx, []PatchKey{bundleKey, fileKey, other, {Codec: "BAD\x00", From: from}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("LookupPatches found %d: %+v", len(got), got)
	}
	if p := got[bundleKey]; p.Digest != pd || p.Size != int64(len(patch)) || p.Useless() || p.Key != bundleKey {
		t.Errorf("bundle patch %+v", p)
	}
	if p := got[fileKey]; !p.Useless() {
		t.Errorf("file patch %+v, want useless", p)
	}
	for _, bad := range []string{"", "Zstd", "a/b", "x\x00y", "0123456789abcdef0123456789abcdefX"} {
		if err := s.PutPatch(ctx, PatchKey{Codec: bad}, manifest.Digest{}, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("codec %q: %v", bad, err)
		}
	}
	for _, k := range []PatchKey{bundleKey, fileKey, other} {
		key, _ := patchKey(k)
		if back, ok := parsePatchKey(key); !ok || back != k {
			t.Errorf("key %+v does not parse back: %+v", k, back)
		}
	}
	infos, err := s.StatObjects(ctx, []manifest.Digest{pd, from, pd})
	if err != nil || len(infos) != 1 || infos[pd].Size != int64(len(patch)) {
		t.Errorf("StatObjects = %+v, %v", infos, err)
	}
}

// TestGCKeepsMappedPatches: a patch object lives while its mapping connects
// live bundles (or live files), and goes when one end goes.
func TestGCKeepsMappedPatches(t *testing.T) {
	opts, c := testOptions(t)
	opts.GCGrace = time.Hour
	s := openStore(t, opts)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	v1 := []file{{"index.html", []byte("<html>1")}, {"a.js", compressible(10<<10, "one")}}
	v2 := []file{{"index.html", []byte("<html>2")}, {"a.js", compressible(10<<10, "two")}}
	putFiles(t, s, append(v1, v2...)...)
	m1, m2 := manifestOf(t, v1...), manifestOf(t, v2...)
	for v, m := range map[string]*manifest.Manifest{"1.0.0": m1, "2.0.0": m2} {
		if _, err := s.CommitBundle(ctx, "app", v, m, api.BundleMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	bundlePatch, filePatch, stray := []byte("bundle patch 1→2"), []byte("file patch a.js 1→2"), []byte("patch from a deleted bundle")
	putFiles(t, s, file{"p1", bundlePatch}, file{"p2", filePatch}, file{"p3", stray})
	put := func(k PatchKey, b []byte) {
		t.Helper()
		if err := s.PutPatch(ctx, k, manifest.Sum(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	bk := PatchKey{Codec: "zstd-dict", From: m1.Digest(), To: m2.Digest(), Bundle: true}
	fk := PatchKey{Codec: "bsdiff", From: manifest.Sum(v1[1].data), To: manifest.Sum(v2[1].data)}
	put(bk, bundlePatch)
	put(fk, filePatch)
	put(PatchKey{Codec: "zstd-dict", From: manifest.Sum([]byte("gone")), To: m2.Digest(), Bundle: true}, stray)

	st, err := s.CollectGarbage(ctx)
	if err != nil || st.Live != 6 || st.Marked != 1 {
		t.Fatalf("CollectGarbage = %+v, %v; want 4 files + 2 patches live, the stray patch marked", st, err)
	}
	c.Advance(2 * time.Hour)
	if st, err := s.CollectGarbage(ctx); err != nil || st.Removed != 1 {
		t.Fatalf("CollectGarbage = %+v, %v; want the stray patch removed", st, err)
	}
	if !objectStored(t, s, bundlePatch) || !objectStored(t, s, filePatch) || objectStored(t, s, stray) {
		t.Fatal("wrong patches kept")
	}

	// Bundle 1.0.0 goes: both of its patches' objects become collectable.
	if err := s.DeleteBundle(ctx, "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.CollectGarbage(ctx); err != nil || st.Marked != 4 {
		t.Fatalf("CollectGarbage = %+v, %v; want v1's 2 files and 2 patches marked", st, err)
	}
	c.Advance(2 * time.Hour)
	if st, err := s.CollectGarbage(ctx); err != nil || st.Removed != 4 {
		t.Fatalf("CollectGarbage = %+v, %v", st, err)
	}
	if got, err := s.LookupPatches(ctx, []PatchKey{bk, fk}); err != nil || len(got) != 0 {
		t.Fatalf("mappings of collected objects still found: %+v, %v", got, err)
	}
	if _, err := s.GetPatch(ctx, bk); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetPatch: %v", err)
	}
}

// TestPutPatchRacesGC: PutPatch of an object the GC has marked clears the
// mark and moves the reference epoch, so a sweep from an older picture
// deletes nothing.
func TestPutPatchRacesGC(t *testing.T) {
	opts, c := testOptions(t)
	opts.GCGrace = time.Hour
	s := openStore(t, opts)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(2, "v")
	putFiles(t, s, fs...)
	m := manifestOf(t, fs...)
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", m, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	patch := []byte("an old patch, unreferenced for a while")
	putFiles(t, s, file{"p", patch})
	if st, _ := s.CollectGarbage(ctx); st.Marked != 1 {
		t.Fatalf("Marked = %d", st.Marked)
	}
	c.Advance(2 * time.Hour)
	snap, err := s.snapshot(ctx) // a GC's picture from before the mapping
	if err != nil {
		t.Fatal(err)
	}
	k := PatchKey{Codec: "zstd-dict", From: m.Digest(), To: m.Digest(), Bundle: true}
	if err := s.PutPatch(ctx, k, manifest.Sum(patch), int64(len(patch))); err != nil {
		t.Fatal(err)
	}
	if ok, _ := keyExists(s, gcMarkKey(manifest.Sum(patch))); ok {
		t.Error("mark not cleared by PutPatch")
	}
	removed, stale, err := s.sweep(ctx, []manifest.Digest{manifest.Sum(patch)}, snap.epoch)
	if err != nil || removed != 0 || !stale {
		t.Fatalf("sweep = %d, stale %v, %v; want a stale sweep that deletes nothing", removed, stale, err)
	}
	if st, err := s.CollectGarbage(ctx); err != nil || st.Removed != 0 || !objectStored(t, s, patch) {
		t.Fatalf("CollectGarbage = %+v, %v", st, err)
	}
}
