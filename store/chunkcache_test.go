package store

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/patchwire/patchwire/manifest"
)

// TestChunkCache reads objects twice with their chunks damaged behind the
// store's back in between: a chunk already read and checked is served
// again from memory (the damage unseen, the bytes the object's), a
// rewritten record (another CRC) is not answered from the cache, a chunk
// above the cache's limit is read afresh, and with the cache off every
// read goes to the database.
func TestChunkCache(t *testing.T) {
	onlyOn(t, "it damages the Badger chunks the cache keeps", backendBadger)
	ctx := context.Background()
	small := randomBytes(t, 40<<10)           // one chunk, in the LSM tree
	large := randomBytes(t, maxCachedChunk+1) // one chunk above the cache's limit
	flip := func(b []byte) []byte { b = slices.Clone(b); b[len(b)/2] ^= 0x40; return b }
	tests := []struct {
		name      string
		data      []byte
		cacheSize int64
		damage    func(t *testing.T, s *Store, d manifest.Digest)
		wantErr   error // of the second read; nil: the object's bytes
	}{
		{"checked chunk served from memory", small, 0, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, chunkKey(d, 0), flip(small))
		}, nil},
		{"record rewritten with another CRC misses", small, 0, func(t *testing.T, s *Store, d manifest.Digest) {
			other := flip(small)
			setRaw(t, s, chunkKey(d, 0), other)
			rewriteMeta(t, s, d, func(m *objectMeta) { m.chunks[0].crc = crc32.Checksum(other, castagnoli) ^ 1 })
		}, ErrCorrupt},
		{"chunk above the limit is not kept", large, 0, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, chunkKey(d, 0), flip(large))
		}, ErrCorrupt},
		{"cache off", small, -1, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, chunkKey(d, 0), flip(small))
		}, ErrCorrupt},
		{"cache smaller than the chunk", small, 1 << 10, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, chunkKey(d, 0), flip(small))
		}, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, _ := testOptions(t)
			opts.ObjectCacheSize = tt.cacheSize
			s := openStore(t, opts)
			d := manifest.Sum(tt.data)
			if _, err := s.PutObject(ctx, d, tt.data); err != nil {
				t.Fatal(err)
			}
			if got, err := readObject(ctx, s, d, false); err != nil || !bytes.Equal(got, tt.data) {
				t.Fatalf("first read = %d bytes, %v; want the object", len(got), err)
			}
			tt.damage(t, s, d)
			got, err := readObject(ctx, s, d, false)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("second read = %d bytes, %v; want %v", len(got), err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.data) {
				t.Fatalf("second read = %d bytes, %v; want the object's bytes from the cache", len(got), err)
			}
		})
	}
}

// TestChunkCacheEvicts fills a small cache past its size: it never holds
// more bytes than its bound, and what it evicted is read afresh.
func TestChunkCacheEvicts(t *testing.T) {
	c := newChunkCache(100)
	for i := range 10 {
		c.put(chunkCacheKey{i: i}, make([]byte, 30))
		if c.size > c.max {
			t.Fatalf("after %d puts: %d bytes cached, bound %d", i+1, c.size, c.max)
		}
	}
	if c.get(chunkCacheKey{i: 0}) != nil {
		t.Error("oldest chunk still cached")
	}
	if c.get(chunkCacheKey{i: 9}) == nil {
		t.Error("newest chunk evicted")
	}
	var none *chunkCache
	none.put(chunkCacheKey{}, []byte("x"))
	if none.get(chunkCacheKey{}) != nil {
		t.Error("nil cache answered")
	}
}
