package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store/pgtest"
	"github.com/patchwire/patchwire/store/s3test"
)

// engines are the catalog and blob engines the store runs on: Badger
// alone, PostgreSQL with S3 (several nodes), PostgreSQL over the node's
// own Badger (one node).
var engines = []struct {
	name string
	open func(t *testing.T) (Options, *clock)
}{
	{"badger", func(t *testing.T) (Options, *clock) { return localOptions(t) }},
	{"postgres+s3", func(t *testing.T) (Options, *clock) {
		opts, c := localOptions(t)
		opts.Catalog = pgtest.Database(t)
		opts.Blobs = openTestS3(t, s3test.Start(t), "objects")
		return opts, c
	}},
	{"postgres+local", func(t *testing.T) (Options, *clock) {
		opts, c := localOptions(t)
		opts.Catalog = pgtest.Database(t)
		return opts, c
	}},
}

// hasObject reports whether data is stored, read back whole when it is.
func hasObject(t *testing.T, s *Store, data []byte) bool {
	t.Helper()
	obj, err := s.GetObject(context.Background(), manifest.Sum(data))
	if errors.Is(err, ErrNotFound) {
		return false
	}
	if err != nil || !bytes.Equal(obj.Raw, data) {
		t.Fatalf("GetObject = %d bytes, %v", len(obj.Raw), err)
	}
	return true
}

// TestEngines: upload → commit → channel set → snapshot → GC keeps the
// referenced objects and removes the orphan, on every engine.
func TestEngines(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			opts, c := e.open(t)
			opts.GCGrace = time.Hour
			s := openStore(t, opts)
			ctx := context.Background()
			if _, err := s.CreateApp(ctx, "app"); err != nil {
				t.Fatal(err)
			}
			v1 := append(someFiles(2, "v1"), file{"big.js", compressible(2<<20+5, "big")})
			v2 := someFiles(2, "v2")
			orphan := file{"orphan", []byte("uploaded, never committed")}
			putFiles(t, s, append(append(v1, v2...), orphan)...)
			for v, files := range map[string][]file{"1.0.0": v1, "2.0.0": v2} {
				if _, err := s.CommitBundle(ctx, "app", v, manifestOf(t, files...), api.BundleMeta{}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.CreateChannel(ctx, api.Channel{App: "app", Name: "production", Bundle: "1.0.0", Public: true}); err != nil {
				t.Fatal(err)
			}
			g := s.CatalogGeneration()
			if _, err := s.SetChannelBundle(ctx, "app", "production", "2.0.0"); err != nil {
				t.Fatal(err)
			}
			if s.CatalogGeneration() == g {
				t.Error("the catalog generation did not move on a channel set")
			}
			snap, err := s.Snapshot(ctx, "app", "")
			if err != nil || len(snap.Channels) != 1 || snap.Channels[0].Bundle != "2.0.0" || len(snap.Bundles) != 2 {
				t.Fatalf("Snapshot = %+v, %v", snap, err)
			}
			for range 2 {
				if st, err := s.CollectGarbage(ctx); err != nil || st.OtherNode {
					t.Fatalf("CollectGarbage = %+v, %v", st, err)
				}
				c.Advance(2 * time.Hour)
			}
			for _, f := range append(v1, v2...) {
				if !hasObject(t, s, f.data) {
					t.Errorf("%s, referenced by a bundle, was removed", f.path)
				}
			}
			if hasObject(t, s, orphan.data) {
				t.Error("the orphan is still stored")
			}
			if e.name != "badger" && !s.ExternalObjects() != (opts.Blobs == nil) {
				t.Errorf("ExternalObjects = %v with Blobs %v", s.ExternalObjects(), opts.Blobs)
			}
		})
	}
}

// twoNodes opens two stores (nodes) over one PostgreSQL database and one
// bucket; the second trusts its generations for recheck.
func twoNodes(t *testing.T, recheck time.Duration) (a, b *Store, c *clock) {
	dsn := pgtest.Database(t)
	blobs := openTestS3(t, s3test.Start(t), "objects")
	oa, c := localOptions(t)
	oa.Catalog, oa.Blobs, oa.GCGrace = dsn, blobs, time.Hour
	ob, _ := localOptions(t)
	ob.Catalog, ob.Blobs, ob.GCGrace, ob.Now, ob.CatalogRecheck = dsn, blobs, time.Hour, c.Now, recheck
	return openStore(t, oa), openStore(t, ob), c
}

// TestClusterFreshness: a write on one node is seen by the other's very
// next generation read (CatalogRecheck 0), catalog and device channels,
// apart and together (Generations).
func TestClusterFreshness(t *testing.T) {
	a, b, _ := twoNodes(t, 0)
	ctx := context.Background()
	if _, err := a.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	g, dg := b.CatalogGeneration(), b.DeviceChannelsGeneration("app")
	if _, err := a.CreateChannel(ctx, api.Channel{App: "app", Name: "beta"}); err != nil {
		t.Fatal(err)
	}
	if b.CatalogGeneration() == g {
		t.Fatal("node B's catalog generation did not move after node A's channel create")
	}
	if snap, err := b.Snapshot(ctx, "app", ""); err != nil || len(snap.Channels) != 1 {
		t.Fatalf("node B's snapshot = %+v, %v", snap, err)
	}
	if err := a.SetOverride(ctx, "app", "DEV-1", "beta"); err != nil {
		t.Fatal(err)
	}
	if b.DeviceChannelsGeneration("app") == dg {
		t.Fatal("node B's device generation did not move after node A's override")
	}
	if b.DeviceChannelsGeneration("other") != 0 {
		t.Error("another app's device generation moved")
	}
	if snap, err := b.Snapshot(ctx, "app", "dev-1"); err != nil || snap.Override != "beta" {
		t.Fatalf("node B's snapshot = %+v, %v", snap, err)
	}
	// Both in one read: each moves with its own writes.
	cg, dg := b.Generations("app")
	if _, err := a.CreateChannel(ctx, api.Channel{App: "app", Name: "gamma"}); err != nil {
		t.Fatal(err)
	}
	if c2, d2 := b.Generations("app"); c2 == cg || d2 != dg {
		t.Errorf("after a channel create, Generations = %d, %d; was %d, %d (want the catalog's moved alone)", c2, d2, cg, dg)
	}
	cg, dg = b.Generations("app")
	if err := a.SetOverride(ctx, "app", "DEV-2", "gamma"); err != nil {
		t.Fatal(err)
	}
	if c2, d2 := b.Generations("app"); d2 == dg || c2 < cg {
		t.Errorf("after an override, Generations = %d, %d; was %d, %d (want the devices' moved)", c2, d2, cg, dg)
	}
}

// TestClusterNotices: a node that trusts its generations for an hour
// still moves them on the other node's commit (LISTEN/NOTIFY).
func TestClusterNotices(t *testing.T) {
	a, b, _ := twoNodes(t, time.Hour)
	ctx := context.Background()
	if _, err := a.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		what  string
		gen   func() uint64
		write func() error
	}{
		{"catalog", b.CatalogGeneration, func() error {
			_, err := a.CreateChannel(ctx, api.Channel{App: "app", Name: "beta"})
			return err
		}},
		{"devices", func() uint64 { return b.DeviceChannelsGeneration("app") }, func() error {
			return a.SetOverride(ctx, "app", "dev-2", "beta")
		}},
	} {
		g := step.gen()
		if err := step.write(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for step.gen() == g {
			if time.Now().After(deadline) {
				t.Fatalf("%s: node B's generation did not move within 5 s of node A's commit", step.what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestClusterRecheck: a node that trusts its generations for a while
// (CatalogRecheck > 0) still sees another node's change: at once by the
// notice, and, when the notice is lost (its watch stopped), once the
// recheck has passed, not before.
func TestClusterRecheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		recheck time.Duration
		lost    bool // stop node B's watch: no notice arrives
	}{
		{"notice", time.Hour, false},
		{"lost notice", time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, _ := twoNodes(t, tc.recheck)
			ctx := context.Background()
			if _, err := a.CreateApp(ctx, "app"); err != nil {
				t.Fatal(err)
			}
			if tc.lost {
				b.cluster.stop()
				<-b.cluster.done
			}
			// Node B reads the generation row (the first call always does),
			// and from now trusts it for the recheck.
			g := b.CatalogGeneration()
			read := time.Now()
			if _, err := a.CreateChannel(ctx, api.Channel{App: "app", Name: "beta"}); err != nil {
				t.Fatal(err)
			}
			if tc.lost && b.CatalogGeneration() != g && time.Since(read) < tc.recheck*9/10 {
				t.Fatalf("node B's generation moved %s after its read without a notice, before the recheck of %s", time.Since(read), tc.recheck)
			}
			limit := 5 * time.Second
			if tc.lost {
				limit += tc.recheck
			}
			for b.CatalogGeneration() == g {
				if time.Since(read) > limit {
					t.Fatalf("node B's generation did not move within %s of node A's channel create", limit)
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("node B's generation moved %s after its read", time.Since(read))
			if snap, err := b.Snapshot(ctx, "app", ""); err != nil || len(snap.Channels) != 1 || snap.Channels[0].Name != "beta" {
				t.Fatalf("node B's snapshot = %+v, %v", snap, err)
			}
		})
	}
}

// TestClusterGC: one collection at a time across the nodes, and node B's
// collection keeps what node A committed (reachability is the shared
// catalog's).
func TestClusterGC(t *testing.T) {
	a, b, c := twoNodes(t, 0)
	ctx := context.Background()
	if _, err := a.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	files := someFiles(3, "a")
	orphan := file{"orphan", []byte("left on node A")}
	putFiles(t, a, append(files, orphan)...)
	if _, err := a.CommitBundle(ctx, "app", "1.0.0", manifestOf(t, files...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	unlock, ok, err := a.lockGC(ctx)
	if err != nil || !ok {
		t.Fatalf("lockGC = %v, %v", ok, err)
	}
	if st, err := b.CollectGarbage(ctx); err != nil || !st.OtherNode || st.Marked != 0 {
		t.Fatalf("node B's CollectGarbage while A collects = %+v, %v; want OtherNode", st, err)
	}
	unlock()
	for range 2 {
		if st, err := b.CollectGarbage(ctx); err != nil || st.OtherNode {
			t.Fatalf("node B's CollectGarbage = %+v, %v", st, err)
		}
		c.Advance(2 * time.Hour)
	}
	for _, f := range files {
		if !hasObject(t, a, f.data) || !hasObject(t, b, f.data) {
			t.Errorf("%s, committed on node A, was removed by node B's GC", f.path)
		}
	}
	if hasObject(t, a, orphan.data) {
		t.Error("the orphan is still stored")
	}
}

// TestClusterStaleRecord: node A keeps an object's record in memory
// (metaCache, trusted sharedMetaTTL); node B's GC deletes the object; A's
// next open or read of it is ErrNotFound, never damage and never bytes.
func TestClusterStaleRecord(t *testing.T) {
	a, b, c := twoNodes(t, 0)
	ctx := context.Background()
	orphan := []byte("uploaded on node A, never committed")
	d := manifest.Sum(orphan)
	putFiles(t, a, file{"orphan", orphan})
	if _, err := a.StatObject(ctx, d); err != nil { // kept in A's cache
		t.Fatal(err)
	}
	for range 2 {
		if _, err := b.CollectGarbage(ctx); err != nil {
			t.Fatal(err)
		}
		c.Advance(2 * time.Hour)
	}
	if hasObject(t, b, orphan) {
		t.Fatal("node B's GC left the orphan")
	}
	r, err := a.OpenObject(ctx, d)
	if err == nil {
		var got []byte
		got, err = io.ReadAll(r)
		r.Close()
		if len(got) > 0 {
			t.Fatalf("node A served %d bytes of an object node B deleted", len(got))
		}
	}
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("node A's open and read of an object node B deleted: %v; want ErrNotFound", err)
	}
}

// TestClusterRefusals: a directory that ran with a PostgreSQL catalog
// refuses to open without it; backup and restore name pg_dump; a second
// node without a shared blob store is refused.
func TestClusterRefusals(t *testing.T) {
	dsn := pgtest.Database(t)
	opts, _ := localOptions(t)
	opts.Catalog = dsn
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(context.Background(), &bytes.Buffer{}); !errors.Is(err, ErrCatalogPostgres) {
		t.Errorf("Backup = %v; want ErrCatalogPostgres", err)
	}
	second, _ := localOptions(t)
	second.Catalog = dsn
	if s2, err := Open(second); err == nil || !errors.Is(err, ErrInvalid) {
		if s2 != nil {
			s2.Close()
		}
		t.Errorf("a second node over the first one's local blobs: Open = %v; want refused", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Catalog = ""
	if s, err := Open(opts); !errors.Is(err, ErrCatalogPostgres) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open without the catalog = %v; want ErrCatalogPostgres", err)
	}
	opts.Catalog = "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"
	if s, err := Open(opts); err == nil {
		s.Close()
		t.Error("Open with an unreachable catalog succeeded")
	}
}

// TestClusterPatchLease: a pair's patch job is one node's at a time; the
// other gets it once released or expired.
func TestClusterPatchLease(t *testing.T) {
	a, b, c := twoNodes(t, 0)
	ctx := context.Background()
	from, to := manifest.Sum([]byte("from")), manifest.Sum([]byte("to"))
	releaseA, ok, err := a.LeasePatchJob(ctx, from, to, time.Minute)
	if err != nil || !ok {
		t.Fatalf("node A's lease = %v, %v", ok, err)
	}
	if _, ok, err := b.LeasePatchJob(ctx, from, to, time.Minute); err != nil || ok {
		t.Fatalf("node B's lease while A holds it = %v, %v; want refused", ok, err)
	}
	releaseA()
	releaseB, ok, err := b.LeasePatchJob(ctx, from, to, time.Minute)
	if err != nil || !ok {
		t.Fatalf("node B's lease after A released = %v, %v", ok, err)
	}
	_ = releaseB // B dies holding it: it expires
	c.Advance(2 * time.Minute)
	if _, ok, err := a.LeasePatchJob(ctx, from, to, time.Minute); err != nil || !ok {
		t.Fatalf("node A's lease after B's expired = %v, %v", ok, err)
	}
}
