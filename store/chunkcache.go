package store

import (
	"container/list"
	"sync"

	"github.com/patchwire/patchwire/manifest"
)

// chunkCache keeps the most recently read small object chunks in memory,
// already checked against their CRC-32C, so that the objects a fleet
// downloads most (a release's small JS chunks, CSS, icons) are served
// without a Badger transaction or its value copies: the page cache's job
// for nginx. A chunk is cached under its object, index, form (raw or as
// stored) and the CRC-32C and stored length of its om/ record, so a
// rewritten object (upgrade.go) never gets another version's bytes. An
// object is only ever reached through its om/ record, read afresh by every
// OpenObject: an object the GC deleted is not found even while its chunks
// linger here until evicted. Cached slices are never written to.
type chunkCache struct {
	mu    sync.Mutex
	max   int64 // bytes
	size  int64
	order *list.List // of *cachedChunk, most recent first
	items map[chunkCacheKey]*list.Element
}

// maxCachedChunk is the largest chunk the cache keeps: the values Badger
// keeps in its LSM tree (valueThreshold) and a little more, so a few
// large objects cannot evict many small ones.
const maxCachedChunk = 256 << 10

type chunkCacheKey struct {
	d      manifest.Digest
	i      int
	raw    bool
	crc    uint32
	stored uint32
}

type cachedChunk struct {
	key chunkCacheKey
	b   []byte
}

// newChunkCache returns a cache of at most max bytes; max <= 0: none (nil).
func newChunkCache(max int64) *chunkCache {
	if max <= 0 {
		return nil
	}
	return &chunkCache{max: max, order: list.New(), items: map[chunkCacheKey]*list.Element{}}
}

func chunkKeyOf(m objectMeta, i int, raw bool) chunkCacheKey {
	c := m.chunks[i]
	return chunkCacheKey{d: m.info.Digest, i: i, raw: raw, crc: c.crc, stored: c.stored}
}

// get returns the cached bytes of k, or nil.
func (c *chunkCache) get(k chunkCacheKey) []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cachedChunk).b
}

// put keeps a copy of b under k, evicting the least recently used chunks
// beyond the cache's size; a chunk above maxCachedChunk is not kept.
func (c *chunkCache) put(k chunkCacheKey, b []byte) {
	if c == nil || len(b) > maxCachedChunk || int64(len(b)) > c.max {
		return
	}
	own := append([]byte(nil), b...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.order.PushFront(&cachedChunk{key: k, b: own})
	c.size += int64(len(own))
	for c.size > c.max {
		el := c.order.Back()
		e := el.Value.(*cachedChunk)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.size -= int64(len(e.b))
	}
}
