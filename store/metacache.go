package store

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// metaCacheEntries bounds the decoded om/ records kept in memory: a few
// hundred bytes each for the small files bundles are made of.
const metaCacheEntries = 16384

// metaCache keeps the decoded om/ records of recently opened objects, so
// that a GET of a hot object opens no Badger transaction (issue 9: the
// record's read was an eighth of an object request's CPU, most of it the
// growth of the handler goroutine's stack inside Badger's lookup).
//
// Objects are immutable, but their records are not forever: the GC deletes
// them, the format upgrade rewrites them, a restore replaces them, and a
// digest deleted may be stored again with another layout. So every commit
// that sets or deletes an om/ key moves gen after it commits (watchedTxn,
// Store.updateData), and an entry is good only for the gen it was read
// at: a reader takes gen before its transaction and caches what it read
// with that gen, so a record read before a commit that changed it is never
// served after the commit's move. A reader between a commit and its move
// may still get the old record: the race an ObjectReader already handles
// (a chunk gone with its record is ErrNotFound; chunks are checked against
// the record's CRCs, so nothing corrupt is served).
//
// A PostgreSQL catalog is written by other nodes too, whose commits move
// no generation here: there a record is trusted for ttl (sharedMetaTTL)
// after its read. What another node can have done meanwhile is delete the
// object (the GC, an hour after its last reference went) or store it again
// after such a deletion, with the same record but its time (the layout of
// given bytes is the same on every node); a read of a deleted object's
// chunk is ErrNotFound, as above. A nil metaCache keeps nothing.
type metaCache struct {
	gen atomic.Uint64
	ttl time.Duration // 0: entries stand until the generation moves
	mu  sync.RWMutex
	m   map[manifest.Digest]metaEntry
}

// sharedMetaTTL is how long a record read from a PostgreSQL catalog is
// trusted: a hot object's record is then read about once a second per node.
const sharedMetaTTL = time.Second

type metaEntry struct {
	m   objectMeta
	gen uint64
	at  time.Time // when it was read (monotonic), for ttl
}

func newMetaCache(ttl time.Duration) *metaCache {
	return &metaCache{m: make(map[manifest.Digest]metaEntry), ttl: ttl}
}

// generation is what a reader takes before its transaction and gives put.
func (c *metaCache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// get returns d's record if one read at the current generation is kept.
func (c *metaCache) get(d manifest.Digest) (objectMeta, bool) {
	if c == nil {
		return objectMeta{}, false
	}
	c.mu.RLock()
	e, ok := c.m[d]
	c.mu.RUnlock()
	if !ok || e.gen != c.gen.Load() || (c.ttl > 0 && time.Since(e.at) >= c.ttl) {
		return objectMeta{}, false
	}
	return e.m, true
}

// put keeps m, read at generation gen, unless a commit moved the
// generation since. A full cache starts over (stale entries go with it).
func (c *metaCache) put(d manifest.Digest, m objectMeta, gen uint64) {
	if c == nil || gen != c.gen.Load() {
		return
	}
	c.mu.Lock()
	if len(c.m) >= metaCacheEntries {
		clear(c.m)
	}
	e := metaEntry{m: m, gen: gen}
	if c.ttl > 0 {
		e.at = time.Now()
	}
	c.m[d] = e
	c.mu.Unlock()
}

// changed moves the generation: every kept record is stale.
func (c *metaCache) changed() {
	if c != nil {
		c.gen.Add(1)
	}
}

// watchedTxn notes whether a transaction set or deleted an om/ key, for
// Store.updateData to move the metaCache after the commit.
type watchedTxn struct {
	kvTxn
	wroteMeta bool
}

func (t *watchedTxn) note(key []byte) {
	if !t.wroteMeta && bytes.HasPrefix(key, []byte(pfxMeta)) {
		t.wroteMeta = true
	}
}

func (t *watchedTxn) Set(key, value []byte) error {
	t.note(key)
	return t.kvTxn.Set(key, value)
}

func (t *watchedTxn) Delete(key []byte) error {
	t.note(key)
	return t.kvTxn.Delete(key)
}
