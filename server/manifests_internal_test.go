package server

import (
	"fmt"
	"sync"
	"testing"

	"github.com/patchwire/patchwire/manifest"
)

func testManifest(t *testing.T, files int) *manifest.Manifest {
	t.Helper()
	es := make([]manifest.Entry, files)
	for i := range es {
		b := []byte(fmt.Sprintf("file %d", i))
		es[i] = manifest.Entry{Path: fmt.Sprintf("assets/%05d.js", i), Digest: manifest.Sum(b), Size: int64(len(b))}
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManifestBodyCache checks the bound of the /m/ encoding cache: it
// keeps the most recently used encodings within its bytes, skips one too
// big for it, and refuses a manifest that does not hash to its digest.
func TestManifestBodyCache(t *testing.T) {
	var ms []*manifest.Manifest
	for n := 100; n < 105; n++ {
		ms = append(ms, testManifest(t, n))
	}
	b, err := encodeManifestBody(ms[0].Digest(), ms[0])
	if err != nil {
		t.Fatal(err)
	}
	if b.zst == nil || len(b.zst) >= len(b.plain) {
		t.Fatalf("100-file manifest: %d bytes zstd for %d", len(b.zst), len(b.plain))
	}
	// Room for four of the small manifests (each a little over b.size()
	// bytes, and at most a quarter of the bound), not five.
	c := newManifestBodyCache(4 * (b.size() + 1000))
	get := func(m *manifest.Manifest) *manifestBody {
		t.Helper()
		got, err := c.get(m.Digest(), m)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	kept := func(i int) bool {
		_, ok := c.items[ms[i].Digest()]
		return ok
	}
	if first, again := get(ms[0]), get(ms[0]); again != first {
		t.Error("second get encoded again")
	}
	for i := 1; i < 4; i++ {
		get(ms[i])
	}
	for i := range 4 {
		if !kept(i) {
			t.Fatalf("entry %d dropped below the bound", i)
		}
	}
	get(ms[0]) // ms[1] is now the least recently used
	get(ms[4])
	if kept(1) {
		t.Error("least recently used entry kept past the bound")
	}
	for _, i := range []int{0, 2, 3, 4} {
		if !kept(i) {
			t.Errorf("entry %d dropped", i)
		}
	}
	if c.size > c.max || c.order.Len() != len(c.items) {
		t.Errorf("size %d of max %d, %d in order, %d in items", c.size, c.max, c.order.Len(), len(c.items))
	}
	big := testManifest(t, 3000) // more than a quarter of the bound: served, not kept
	get(big)
	if _, ok := c.items[big.Digest()]; ok {
		t.Error("oversized entry kept")
	}
	if _, err := c.get(manifest.Sum([]byte("other")), ms[0]); err == nil {
		t.Error("manifest under another digest accepted")
	}
	if len(c.pending) != 0 {
		t.Errorf("%d encodings left pending", len(c.pending))
	}
}

// TestManifestBodyCacheConcurrent checks that requests missing together
// share one encoding.
func TestManifestBodyCacheConcurrent(t *testing.T) {
	m := testManifest(t, 3000)
	c := newManifestBodyCache(manifestCacheBytes)
	got := make([]*manifestBody, 16)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			b, err := c.get(m.Digest(), m)
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	wg.Wait()
	for i, b := range got {
		if b != got[0] {
			t.Fatalf("get %d returned another encoding", i)
		}
	}
	if len(c.items) != 1 || len(c.pending) != 0 {
		t.Errorf("%d cached, %d pending; want 1 and 0", len(c.items), len(c.pending))
	}
}
