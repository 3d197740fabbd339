package store

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// TestMetaCacheSkipsTransactions: a second look at an object's record
// opens no transaction (with a PostgreSQL catalog: within sharedMetaTTL).
func TestMetaCacheSkipsTransactions(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	data := []byte("console.log('hot')\n")
	putFiles(t, s, file{"hot.js", data})
	d := manifest.Sum(data)
	if _, err := s.StatObject(ctx, d); err != nil {
		t.Fatal(err)
	}
	before := s.ReadTransactions()
	for range 3 {
		if _, err := s.StatObject(ctx, d); err != nil {
			t.Fatal(err)
		}
		r, err := s.OpenObject(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	if n := s.ReadTransactions() - before; n != 0 {
		t.Errorf("%d read transactions for records already read; want 0", n)
	}
}

// TestMetaCacheFollowsWrites: an object the GC deleted is not found
// through the cache, and is found again once stored again.
func TestMetaCacheFollowsWrites(t *testing.T) {
	opts, c := testOptions(t)
	opts.GCGrace = time.Hour
	s := openStore(t, opts)
	ctx := context.Background()
	data := []byte("uploaded, never committed")
	d := manifest.Sum(data)
	putFiles(t, s, file{"orphan", data})
	if _, err := s.StatObject(ctx, d); err != nil {
		t.Fatal(err)
	}
	for range 2 { // mark, then delete after the grace
		if _, err := s.CollectGarbage(ctx); err != nil {
			t.Fatal(err)
		}
		c.Advance(2 * time.Hour)
	}
	if _, err := s.StatObject(ctx, d); !errors.Is(err, ErrNotFound) {
		t.Fatalf("StatObject of a collected object = %v; want ErrNotFound", err)
	}
	if _, err := s.OpenObject(ctx, d); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenObject of a collected object = %v; want ErrNotFound", err)
	}
	putFiles(t, s, file{"again", data})
	if info, err := s.StatObject(ctx, d); err != nil || info.Size != int64(len(data)) {
		t.Fatalf("StatObject after the object was stored again = %+v, %v", info, err)
	}
}

// TestMetaCacheGenerations holds the cache to its rules: a record read
// before a commit moved the generation is not kept; a move makes every
// kept record stale; a full cache starts over; a shared catalog's
// record lasts its ttl.
func TestMetaCacheGenerations(t *testing.T) {
	c := newMetaCache(0)
	digest := func(i int) manifest.Digest {
		var d manifest.Digest
		binary.BigEndian.PutUint64(d[:], uint64(i))
		return d
	}
	m := objectMeta{info: ObjectInfo{Size: 7}}
	gen := c.generation()
	c.changed() // a commit between the reader's read and its put
	c.put(digest(1), m, gen)
	if _, ok := c.get(digest(1)); ok {
		t.Error("a record read before a commit was kept")
	}
	c.put(digest(1), m, c.generation())
	if got, ok := c.get(digest(1)); !ok || got.info.Size != 7 {
		t.Errorf("get = %+v, %v; want the record put", got, ok)
	}
	c.changed()
	if _, ok := c.get(digest(1)); ok {
		t.Error("a record kept across a commit")
	}
	for i := range metaCacheEntries + 10 {
		c.put(digest(i), m, c.generation())
	}
	if n := len(c.m); n > metaCacheEntries {
		t.Errorf("%d records kept; at most %d", n, metaCacheEntries)
	}
	shared := newMetaCache(20 * time.Millisecond)
	shared.put(digest(1), m, shared.generation())
	if _, ok := shared.get(digest(1)); !ok {
		t.Error("a shared catalog's record not kept")
	}
	time.Sleep(30 * time.Millisecond)
	if _, ok := shared.get(digest(1)); ok {
		t.Error("a shared catalog's record kept past its ttl")
	}
	var none *metaCache
	none.put(digest(1), m, 0)
	none.changed()
	if _, ok := none.get(digest(1)); ok || none.generation() != 0 {
		t.Error("a nil cache kept something")
	}
}
