package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

func keyExists(s *Store, k []byte) (bool, error) {
	var ok bool
	err := s.kv.View(context.Background(), func(txn kvTxn) error {
		var err error
		ok, err = exists(txn, k)
		return err
	})
	return ok, err
}

func objectStored(t *testing.T, s *Store, data []byte) bool {
	t.Helper()
	_, err := s.StatObject(context.Background(), manifest.Sum(data))
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if s.external {
		// The bytes are one blob in the blob store.
		_, berr := s.blobs.StatBlob(context.Background(), manifest.Sum(data))
		if berr != nil && !errors.Is(berr, ErrNotFound) {
			t.Fatal(berr)
		}
		if (berr == nil) != (err == nil) {
			t.Fatalf("om/ (%v) and the blob store (%v) disagree for %s", err, berr, manifest.Sum(data))
		}
		return err == nil
	}
	if keys := bytesKeys(t, s, manifest.Sum(data)); (len(keys) > 0) != (err == nil) {
		t.Fatalf("om/ and the keys of the bytes (%q) disagree for %s", keys, manifest.Sum(data))
	}
	return err == nil
}

func TestGC(t *testing.T) {
	opts, c := testOptions(t)
	opts.GCGrace = time.Hour
	s := openStore(t, opts)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	shared := file{"shared.js", compressible(200<<10, "shared")}
	keep := append(someFiles(2, "keep"), shared)
	gone := append(someFiles(2, "gone"), shared, file{"big.bin", randomBytes(t, 512<<10)})
	orphan := file{"orphan", []byte("uploaded, never committed")}
	putFiles(t, s, append(append(keep, gone...), orphan)...)
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", manifestOf(t, keep...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitBundle(ctx, "app", "2.0.0", manifestOf(t, gone...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	gc := func(want GCStats) {
		t.Helper()
		st, err := s.CollectGarbage(ctx)
		st.ReclaimedVlog = false
		if err != nil || st != want {
			t.Fatalf("CollectGarbage = %+v, %v; want %+v", st, err, want)
		}
	}
	gc(GCStats{Live: 6, Marked: 1}) // the orphan
	if err := s.DeleteBundle(ctx, "app", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	c.Advance(30 * time.Minute)
	gc(GCStats{Live: 3, Marked: 3}) // gone-0, gone-1, big; the orphan waits
	c.Advance(30 * time.Minute)
	gc(GCStats{Live: 3, Removed: 1}) // the orphan, marked an hour ago
	if objectStored(t, s, orphan.data) {
		t.Error("orphan still stored")
	}
	for _, f := range gone {
		if !objectStored(t, s, f.data) {
			t.Errorf("%s removed before its grace period", f.path)
		}
	}
	c.Advance(30 * time.Minute)
	gc(GCStats{Live: 3, Removed: 3})
	for _, f := range keep {
		if !objectStored(t, s, f.data) {
			t.Errorf("%s, referenced by a bundle, was removed", f.path)
		}
	}
	for _, f := range gone[:2] {
		if objectStored(t, s, f.data) {
			t.Errorf("%s still stored", f.path)
		}
	}
	if objectStored(t, s, gone[3].data) {
		t.Errorf("big.bin still stored")
	}
	gc(GCStats{Live: 3})
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Objects != 3 {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// TestGCProtectsUploads: an upload session's objects are live until it
// expires, and a re-upload or a commit clears marks.
func TestGCProtectsUploads(t *testing.T) {
	opts, c := testOptions(t)
	opts.UploadTTL = 3 * time.Hour
	s := openStore(t, opts)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(3, "sess")
	putFiles(t, s, fs...)
	m := manifestOf(t, fs...)
	// Marked while nothing references them ...
	if st, _ := s.CollectGarbage(ctx); st.Marked != 3 {
		t.Fatalf("Marked = %d; want 3", st.Marked)
	}
	c.Advance(2 * time.Hour)
	// ... then an upload session wants them: the marks go at once.
	if _, err := s.CreateUpload(ctx, "app", "1.0.0", m, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if ok, _ := keyExists(s, gcMarkKey(manifest.Sum(f.data))); ok {
			t.Errorf("%s still marked after CreateUpload", f.path)
		}
	}
	st, err := s.CollectGarbage(ctx)
	if err != nil || st.Live != 3 || st.Removed != 0 || st.Marked != 0 {
		t.Fatalf("CollectGarbage with a session = %+v, %v", st, err)
	}
	c.Advance(3 * time.Hour) // the session expires
	if st, _ := s.CollectGarbage(ctx); st.ExpiredUploads != 1 || st.Marked != 3 {
		t.Fatalf("after expiry: %+v; want the session dropped and 3 marked", st)
	}
	c.Advance(2 * time.Hour)
	// A PutObject of an existing object clears its mark.
	putFiles(t, s, fs[0])
	if st, _ := s.CollectGarbage(ctx); st.Removed != 2 || st.Marked != 1 {
		t.Fatalf("CollectGarbage = %+v; want 2 removed, the re-put one marked anew", st)
	}
	if !objectStored(t, s, fs[0].data) {
		t.Error("the re-put object was removed")
	}
}

// TestGCCommitRace runs CollectGarbage against CommitBundles of objects
// that are due for deletion. Whatever the interleaving, every bundle that
// commits must have all its objects.
func TestGCCommitRace(t *testing.T) {
	opts, c := testOptions(t)
	opts.GCGrace = time.Minute
	s := openStore(t, opts)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	const rounds = 30
	committed, missing := 0, 0
	for round := range rounds {
		fs := someFiles(40, fmt.Sprint("race", round))
		putFiles(t, s, fs...)
		if _, err := s.CollectGarbage(ctx); err != nil { // marks them all
			t.Fatal(err)
		}
		c.Advance(2 * time.Minute) // due for deletion at the next collection
		m := manifestOf(t, fs...)
		var wg sync.WaitGroup
		var gcErr, commitErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, gcErr = s.CollectGarbage(ctx)
		}()
		go func() {
			defer wg.Done()
			if round%2 == 0 {
				time.Sleep(time.Duration(round) * 50 * time.Microsecond)
			}
			_, commitErr = s.CommitBundle(ctx, "app", fmt.Sprintf("1.0.%d", round), m, api.BundleMeta{})
		}()
		wg.Wait()
		if gcErr != nil {
			t.Fatal(gcErr)
		}
		var me *MissingObjectsError
		switch {
		case commitErr == nil:
			committed++
		case errors.As(commitErr, &me):
			missing++
		default:
			t.Fatal(commitErr)
		}
	}
	t.Logf("%d commits won, %d lost to the collector", committed, missing)
	rep, err := s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("a committed bundle lost objects: %v", rep.Problems)
	}
	if bs, _ := s.ListBundles(ctx, "app"); len(bs) != committed {
		t.Errorf("%d bundles listed; %d commits succeeded", len(bs), committed)
	}
}

// TestGCSweepStopsOnNewReferences: a delete transaction that started from
// an older picture of what is live must not delete an object a commit
// made live meanwhile, even when the commit did not see the GC mark.
func TestGCSweepStopsOnNewReferences(t *testing.T) {
	opts, c := testOptions(t)
	opts.GCGrace = time.Minute
	s := openStore(t, opts)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(2, "stale")
	putFiles(t, s, fs...)
	if _, err := s.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Minute)
	snapEpoch := func() []byte {
		snap, err := s.snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return snap.epoch
	}
	epoch := snapEpoch()
	// A commit happens between the collector's snapshot and its sweep.
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", manifestOf(t, fs...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	// Put the marks back, as if the commit had not seen them.
	for _, f := range fs {
		setRaw(t, s, gcMarkKey(manifest.Sum(f.data)), encodeMark(c.Now().Add(-time.Hour)))
	}
	removed, stale, err := s.sweep(ctx, []manifest.Digest{manifest.Sum(fs[0].data), manifest.Sum(fs[1].data)}, epoch)
	if err != nil || removed != 0 || !stale {
		t.Fatalf("sweep = %d, %v, %v; want 0 removed, stale", removed, stale, err)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	// A fresh collection sees the bundle and clears the marks.
	st, err := s.CollectGarbage(ctx)
	if err != nil || st.Live != 2 || st.Removed != 0 {
		t.Fatalf("CollectGarbage = %+v, %v", st, err)
	}
	for _, f := range fs {
		if ok, _ := keyExists(s, gcMarkKey(manifest.Sum(f.data))); ok {
			t.Errorf("live object %s still marked", f.path)
		}
	}
}
