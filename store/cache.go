package store

import (
	"container/list"
	"sync"

	"github.com/patchwire/patchwire/manifest"
)

// manifestCache keeps the most recently used decoded manifests, so the
// resolver does not decode (up to 10,000 entries) on every update check.
// Manifests are immutable and named by their digest, so an entry never goes
// stale; LoadManifest still checks the m/ key exists before using one.
type manifestCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of manifest.Digest, most recent first
	items map[manifest.Digest]cacheEntry
}

type cacheEntry struct {
	m  *manifest.Manifest
	el *list.Element
}

func newManifestCache(max int) *manifestCache {
	return &manifestCache{max: max, order: list.New(), items: make(map[manifest.Digest]cacheEntry)}
}

func (c *manifestCache) get(d manifest.Digest) *manifest.Manifest {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[d]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e.el)
	return e.m
}

func (c *manifestCache) add(d manifest.Digest, m *manifest.Manifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[d]; ok {
		c.order.MoveToFront(e.el)
		return
	}
	c.items[d] = cacheEntry{m: m, el: c.order.PushFront(d)}
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(manifest.Digest))
	}
}
