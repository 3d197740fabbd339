package server

import (
	"container/list"
	"fmt"
	"net/http"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/manifest"
)

// handleManifest serves GET and HEAD /m/{sha256}: the canonical encoding
// (manifest.Manifest.Encode) of a stored bundle manifest, whose SHA-256 is
// the digest in the URL. Like /o/{sha256} the URL never changes meaning and
// names no device, so any CDN may cache it forever: strong ETag, immutable
// caching, HEAD, If-None-Match, one Range (serveContent). The Content-Type
// is application/octet-stream, as for objects; the body is the text format
// "patchwire-manifest/1", which devices check by its hash, not by its type.
//
// When the zstd form of the encoding is smaller (a manifest of thousands
// of files is hundreds of kB of hex digests and paths), a client that
// accepts zstd gets it (Content-Encoding: zstd, ETag "<sha256>.zst") and
// the response varies by Accept-Encoding (negotiateZstd).
//
// A manifest is served while a bundle references it: the store deletes it
// with its last bundle, and the URL is then 404 (the cached encodings of
// manifestBodies are only looked at once the store has the manifest).
func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request) {
	d, ok := s.pathDigest(w, r, "sha256")
	if !ok {
		return
	}
	m, err := s.store.LoadManifest(r.Context(), d)
	if err != nil {
		writeError(w, r, s.log, err) // store.ErrNotFound: 404 not_found
		return
	}
	b, err := s.manifestBodies.get(d, m)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	body, etag := b.plain, `"`+d.String()+`"`
	if negotiateZstd(w.Header(), r, b.zst != nil) {
		body, etag = b.zst, zstdETag(d)
	}
	serveImmutable(w, r, etag, body)
}

// manifestCacheBytes bounds the encodings manifestBodies keeps: some 90
// manifests of 3,000 files (250 kB, 115 kB zstd). A manifest bigger than
// a quarter of it is encoded for each request instead.
const manifestCacheBytes = 32 << 20

// manifestBody is the encoding of one manifest and its zstd form (nil when
// that is not smaller).
type manifestBody struct {
	d     manifest.Digest
	plain []byte
	zst   []byte
}

func (b *manifestBody) size() int64 { return int64(len(b.plain) + len(b.zst)) }

// manifestBodyCache keeps the most recently served manifest encodings, so
// that a fleet fetching one manifest costs one encoding and one
// compression: requests that miss together wait for the first one's.
// Entries are named by digest and never go stale.
type manifestBodyCache struct {
	mu      sync.Mutex
	max     int64
	size    int64
	order   *list.List // of *manifestBody, most recent first
	items   map[manifest.Digest]*list.Element
	pending map[manifest.Digest]*pendingBody
}

// pendingBody is an encoding in progress; done is closed when b or err is set.
type pendingBody struct {
	done chan struct{}
	b    *manifestBody
	err  error
}

func newManifestBodyCache(max int64) *manifestBodyCache {
	return &manifestBodyCache{max: max, order: list.New(),
		items: map[manifest.Digest]*list.Element{}, pending: map[manifest.Digest]*pendingBody{}}
}

// get returns the encodings of m, whose digest is d, from the cache or
// made now.
func (c *manifestBodyCache) get(d manifest.Digest, m *manifest.Manifest) (*manifestBody, error) {
	c.mu.Lock()
	if el, ok := c.items[d]; ok {
		c.order.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*manifestBody), nil
	}
	if p, ok := c.pending[d]; ok {
		c.mu.Unlock()
		<-p.done
		return p.b, p.err
	}
	p := &pendingBody{done: make(chan struct{})}
	c.pending[d] = p
	c.mu.Unlock()

	p.b, p.err = encodeManifestBody(d, m)
	c.mu.Lock()
	delete(c.pending, d)
	if p.err == nil {
		c.add(p.b)
	}
	c.mu.Unlock()
	close(p.done)
	return p.b, p.err
}

// add keeps b, dropping the least recently used entries past max; c.mu is
// held.
func (c *manifestBodyCache) add(b *manifestBody) {
	if b.size() > c.max/4 {
		return
	}
	c.items[b.d] = c.order.PushFront(b)
	c.size += b.size()
	for c.size > c.max {
		old := c.order.Back()
		ob := c.order.Remove(old).(*manifestBody)
		delete(c.items, ob.d)
		c.size -= ob.size()
	}
}

// encodeManifestBody encodes m, checks the encoding hashes to d (the
// store checked the bytes it decoded; this checks Encode gives them back),
// and compresses it.
func encodeManifestBody(d manifest.Digest, m *manifest.Manifest) (*manifestBody, error) {
	plain := m.Encode()
	if got := manifest.Sum(plain); got != d {
		return nil, fmt.Errorf("manifest %s: encoding hashes to %s", d, got)
	}
	enc, err := manifestEncoder()
	if err != nil {
		return nil, fmt.Errorf("manifest %s: zstd: %w", d, err)
	}
	b := &manifestBody{d: d, plain: plain}
	if zst := enc.EncodeAll(plain, make([]byte, 0, len(plain)/2)); len(zst) < len(plain) {
		b.zst = zst
	}
	return b, nil
}

// manifestEncoder is the one zstd encoder of manifest responses. EncodeAll
// is safe for concurrent use and keeps a pool of up to four encoders (the
// cache makes compression rare). The 8 MiB window is the limit RFC 9659
// sets for the "zstd" content coding; a frame of a bigger manifest is not
// single-segment, so no decoder needs more.
var manifestEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithWindowSize(8<<20),
		zstd.WithEncoderConcurrency(min(4, runtime.GOMAXPROCS(0))),
		zstd.WithLowerEncoderMem(true))
})
