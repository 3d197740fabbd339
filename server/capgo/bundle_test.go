package capgo

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store"
)

// clock is a controllable clock shared by the store and the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTestStore(t *testing.T, clk *clock) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), GCInterval: -1, GCGrace: time.Hour, Now: clk.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// putManifest stores files and commits them as a bundle; it returns the
// manifest digest.
func putManifest(t *testing.T, st *store.Store, files map[string][]byte) manifest.Digest {
	t.Helper()
	ctx := context.Background()
	if _, err := st.CreateApp(ctx, "com.example.app"); err != nil {
		t.Fatal(err)
	}
	var es []manifest.Entry
	for p, b := range files {
		d := manifest.Sum(b)
		if _, err := st.PutObject(ctx, d, b); err != nil {
			t.Fatal(err)
		}
		es = append(es, manifest.Entry{Path: p, Digest: d, Size: int64(len(b))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CommitBundle(ctx, "com.example.app", "1.0.0", m, api.BundleMeta{})
	if err != nil {
		t.Fatal(err)
	}
	return b.Manifest
}

func testFiles() map[string][]byte {
	big := bytes.Repeat([]byte("function hello() { return 'world'; }\n"), 1000)
	return map[string][]byte{
		"index.html":    []byte("<html></html>"),
		"js/app.js":     big,
		"js/copy.js":    big, // same content twice
		"css/é.css":     []byte("body{}"),
		"data/raw.br":   []byte("x"),
		"empty":         nil,
		"sub/dir/a.txt": bytes.Repeat([]byte{0}, 9000),
	}
}

// The zip depends only on the content: two stores (two processes, two
// clocks) build the same bytes.
func TestZipDeterministic(t *testing.T) {
	var zips [][]byte
	for i := range 2 {
		clk := &clock{t: time.Date(2026+i, 1, 1, 0, 0, 0, 0, time.UTC)}
		st := openTestStore(t, clk)
		d := putManifest(t, st, testFiles())
		p, err := prepare(context.Background(), st, preparedKey{manifest: d})
		if err != nil {
			t.Fatal(err)
		}
		o, err := st.GetObject(context.Background(), p.zip)
		if err != nil {
			t.Fatal(err)
		}
		zips = append(zips, o.Raw)
	}
	if !bytes.Equal(zips[0], zips[1]) {
		t.Fatal("two builds of the same manifest differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(zips[0]), int64(len(zips[0])))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(zipTime) || f.Flags&0x8 != 0 {
			t.Errorf("%s: modified %v, flags %#x", f.Name, f.Modified, f.Flags)
		}
	}
	want := []string{"css/é.css", "data/raw.br", "empty", "index.html", "js/app.js", "js/copy.js", "sub/dir/a.txt"}
	if len(names) != len(want) {
		t.Fatalf("entries %v", names)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %v, want sorted %v", names, want)
		}
	}
}

// Concurrent first requests wait for one build; later ones use the cache.
func TestPreparedSingleflight(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := openTestStore(t, clk)
	d := putManifest(t, st, testFiles())
	c := newPreparedCache(st, 64<<20, slog.New(slog.NewTextHandler(io.Discard, nil)), clk.now)
	var wg sync.WaitGroup
	got := make([]*prepared, 32)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := c.get(context.Background(), preparedKey{manifest: d})
			if err != nil {
				t.Error(err)
			}
			got[i] = p
		}()
	}
	wg.Wait()
	for _, p := range got {
		if p != got[0] {
			t.Fatal("callers got different prepared answers")
		}
	}
	if n := c.builds.Load(); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
	if p, _ := c.get(context.Background(), preparedKey{manifest: d}); p != got[0] || c.builds.Load() != 1 {
		t.Error("a later request built again")
	}
}

// Derived objects in use are kept alive; after a long idle time in which
// the collector removed them, the next request builds them again.
func TestPreparedKeepAlive(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := openTestStore(t, clk)
	ctx := context.Background()
	d := putManifest(t, st, testFiles())
	c := newPreparedCache(st, 64<<20, slog.New(slog.NewTextHandler(io.Discard, nil)), clk.now)
	p, err := c.get(ctx, preparedKey{manifest: d})
	if err != nil {
		t.Fatal(err)
	}
	// In use every 20 minutes for three hours: nothing is collected.
	for range 9 {
		clk.advance(20 * time.Minute)
		if _, err := st.CollectGarbage(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.get(ctx, preparedKey{manifest: d}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // the background touch
	}
	if _, err := st.StatObject(ctx, p.zip); err != nil {
		t.Fatalf("zip in use was collected: %v", err)
	}
	// Idle for two hours: marked, then deleted.
	for range 3 {
		clk.advance(time.Hour)
		if _, err := st.CollectGarbage(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.StatObject(ctx, p.zip); err == nil {
		t.Fatal("idle zip was not collected")
	}
	p2, err := c.get(ctx, preparedKey{manifest: d})
	if err != nil {
		t.Fatal(err)
	}
	if p2 == p || p2.zip != p.zip || c.builds.Load() != 2 {
		t.Errorf("rebuilt: same=%v zip %s vs %s, builds %d", p2 == p, p2.zip, p.zip, c.builds.Load())
	}
	if _, err := st.StatObject(ctx, p2.zip); err != nil {
		t.Errorf("rebuilt zip missing: %v", err)
	}
}
