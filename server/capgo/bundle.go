package capgo

import (
	"archive/zip"
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store"
)

// Delivery parameters. Changing one changes the bytes of newly built zips
// and Brotli forms; those already derived are kept (they are found by their
// source digest).
const (
	// brotliMinSize is the smallest file offered as NAME.br (Capgo's CLI
	// uses the same threshold).
	brotliMinSize = 8 << 10
	// brotliQuality and brotliWindow: quality 6 gets most of quality 11's
	// gain on JavaScript at fifty times its speed, which matters because
	// the first update check of a new bundle waits for it.
	brotliQuality = 6
	brotliWindow  = 22
	// zipLevel is the deflate level of zip entries.
	zipLevel = 6
)

// zipTime is the modification time of every zip entry (in MS-DOS form in
// buildZip): the DOS epoch, so the zip depends on nothing but the manifest
// and the file bytes.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// prepared is everything of an update answer that depends only on the
// bundle's content (its manifest digest) and, for an encrypted bundle, its
// encryption (preparedKey), computed once.
type prepared struct {
	zip     manifest.Digest // the zip object (checksum is its hex); zero when too large to store
	zipHex  string
	zipSize int64
	// manifest is the JSON array of manifest entries with the URL base left
	// out: write manifest[:holes[0]], the base, manifest[holes[0]:holes[1]],
	// the base, ... (every hole is followed by "/o/<sha256>").
	manifest []byte
	holes    []int
	// sizes maps what a download_url may point at (a file, a Brotli form)
	// to its size in bytes, for manifest_size.
	sizes map[manifest.Digest]int64
	// served maps each file of the bundle to the bytes its manifest
	// download_url serves (its Brotli form when that is what is listed).
	served map[manifest.Digest]int64
	// sessionKey and checksum are what the answer's session_key and
	// checksum say: an encrypted bundle's (api.CapgoEncryption), or "" and
	// the zip's hex for a bundle in plaintext.
	sessionKey, checksum string
	// encrypted marks a bundle encrypted in CI; with a zero zip it was
	// uploaded without one (manifest delivery only).
	encrypted bool
	// derived are the derived objects the answer hands out, kept alive with
	// store.TouchDerived.
	derived []manifest.Digest
	memory  int64

	touched atomic.Int64 // Unix ns of the last TouchDerived
	elem    *list.Element
}

// weigh sets p.memory, about the bytes p holds, for the cache's budget.
func (p *prepared) weigh() {
	p.memory = int64(len(p.manifest)) + int64(len(p.holes))*8 + int64(len(p.sizes)+len(p.served))*64 + int64(len(p.derived))*32 + 512
}

// appendManifest appends the manifest array with base in every hole.
func (p *prepared) appendManifest(dst, base []byte) []byte {
	last := 0
	for _, h := range p.holes {
		dst = append(dst, p.manifest[last:h]...)
		dst = append(dst, base...)
		last = h
	}
	return append(dst, p.manifest[last:]...)
}

// preparedCache holds prepared answers by preparedKey, bounded in
// bytes (least recently used out), and builds each at most once at a time.
type preparedCache struct {
	st  Store
	max int64
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	m        map[preparedKey]*prepared
	lru      *list.List // front = most recently used
	size     int64
	inflight map[preparedKey]*buildCall
	builds   atomic.Int64 // builds started, for tests

	// stop ends background builds and touches; bg waits for them, so
	// nothing uses the store after close returns.
	stop   context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup
}

// buildCall is one build that concurrent requests wait for.
type buildCall struct {
	done chan struct{}
	p    *prepared
	err  error
	// stale: the bundle was committed again while this built (forget); the
	// result goes to the waiters but not into the cache.
	stale bool
}

func newPreparedCache(st Store, max int64, log *slog.Logger, now func() time.Time) *preparedCache {
	stop, cancel := context.WithCancel(context.Background())
	return &preparedCache{st: st, max: max, log: log, now: now,
		m: map[preparedKey]*prepared{}, lru: list.New(), inflight: map[preparedKey]*buildCall{},
		stop: stop, cancel: cancel}
}

// close cancels the background builds and touches and waits for them.
func (c *preparedCache) close() {
	c.cancel()
	c.bg.Wait()
}

// background runs f in a goroutine that close waits for.
func (c *preparedCache) background(f func()) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		f()
	}()
}

// get returns the prepared answer of d, building it if needed.
// Concurrent callers for the same d share one build, which runs to its end
// even if they give up (ctx); it is not cancelled with them.
func (c *preparedCache) get(ctx context.Context, d preparedKey) (*prepared, error) {
	c.mu.Lock()
	if p := c.m[d]; p != nil {
		c.lru.MoveToFront(p.elem)
		c.mu.Unlock()
		if c.keepAlive(ctx, d, p) == errRebuild {
			return c.get(ctx, d)
		}
		return p, nil
	}
	call := c.inflight[d]
	if call == nil {
		call = &buildCall{done: make(chan struct{})}
		c.inflight[d] = call
		c.background(func() { c.build(d, call) })
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.p, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// keepAlive touches p's derived objects when that is due (store
// DerivedRefresh). When p was idle so long that the garbage collector may
// have taken one of them (half of GCGrace, that is two refresh periods),
// it touches them before p is used and, if any is gone, drops p so the
// caller builds it again; otherwise it touches them in the background.
func (c *preparedCache) keepAlive(ctx context.Context, d preparedKey, p *prepared) error {
	refresh := c.st.DerivedRefresh()
	now := c.now().UnixNano()
	last := p.touched.Load()
	if now-last < int64(refresh) || !p.touched.CompareAndSwap(last, now) {
		return nil
	}
	touch := func(ctx context.Context) bool {
		missing, err := c.st.TouchDerived(ctx, p.derived)
		if err != nil {
			c.log.Error("keeping derived objects alive failed", "manifest", d.manifest, "err", err)
			p.touched.Store(last) // try again with the next request
			return true
		}
		if len(missing) > 0 {
			c.drop(d, p)
			return false
		}
		return true
	}
	if now-last < 2*int64(refresh) {
		c.background(func() { touch(c.stop) })
		return nil
	}
	if !touch(ctx) {
		return errRebuild
	}
	return nil
}

// errRebuild is internal: the prepared answer was dropped, build it again.
var errRebuild = errors.New("derived objects were collected")

// drop removes p from the cache.
func (c *preparedCache) drop(d preparedKey, p *prepared) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[d] == p {
		c.removeLocked(d, p)
	}
}

// removeLocked takes p, the answer of d, out of the cache; c.mu is held.
func (c *preparedCache) removeLocked(d preparedKey, p *prepared) {
	delete(c.m, d)
	c.lru.Remove(p.elem)
	c.size -= p.memory
}

// build prepares d and publishes the result to the waiters and the cache.
func (c *preparedCache) build(d preparedKey, call *buildCall) {
	c.builds.Add(1)
	ctx, cancel := context.WithTimeout(c.stop, 10*time.Minute)
	defer cancel()
	start := time.Now()
	p, err := prepare(ctx, c.st, d)
	if err != nil {
		c.log.Error("preparing bundle for Capgo delivery failed", "manifest", d.manifest, "version", d.version, "err", err)
	} else {
		p.touched.Store(c.now().UnixNano())
		if took := time.Since(start); took > time.Second {
			c.log.Info("prepared bundle for Capgo delivery", "manifest", d.manifest, "zip_bytes", p.zipSize, "took", took)
		}
	}
	c.mu.Lock()
	delete(c.inflight, d)
	if err == nil && !call.stale {
		p.elem = c.lru.PushFront(d)
		c.m[d] = p
		c.size += p.memory
		for c.size > c.max && c.lru.Len() > 1 {
			old := c.lru.Back()
			od := old.Value.(preparedKey)
			c.removeLocked(od, c.m[od])
		}
	}
	call.p, call.err = p, err
	c.mu.Unlock()
	close(call.done)
}

// forget drops the answers prepared for bundle version of app (keys with
// a bundle: those with a Capgo key id), whose encryption a new commit of
// that version replaces (after a delete, the same version may come back
// with the same manifest and another encryption).
func (c *preparedCache) forget(app, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.m {
		if k.app == app && k.version == version {
			c.removeLocked(k, p)
		}
	}
	for k, call := range c.inflight {
		if k.app == app && k.version == version {
			call.stale = true
		}
	}
}

// fileJob is the work on one distinct file of a bundle.
type fileJob struct {
	digest  manifest.Digest
	zip     bool // deflate it for the zip
	brotli  bool // compute its Brotli form
	forceBr bool // keep the Brotli form even if not smaller (a NAME.br file)

	crc     uint32
	method  uint16
	zipData []byte // deflated (or stored) bytes for the zip
	br      []byte // nil: not smaller
	err     error
}

// prepare builds the prepared answer of k: for a bundle in plaintext it
// derives what is missing (its zip, the Brotli forms of its large files).
func prepare(ctx context.Context, st Store, k preparedKey) (*prepared, error) {
	d := k.manifest
	m, err := st.LoadManifest(ctx, d)
	if err != nil {
		return nil, err
	}
	enc, err := encryptionOf(ctx, st, k, m)
	if err != nil {
		return nil, err
	}
	if enc != nil {
		return prepareEncrypted(m, enc), nil
	}
	entries := m.Entries()

	zipKnown, err := st.GetDerived(ctx, store.DerivedZip, []manifest.Digest{d})
	if err != nil {
		return nil, err
	}
	needZip := !zipKnown[0].Known

	// Distinct files, and which want a Brotli form.
	jobs := map[manifest.Digest]*fileJob{}
	var order []*fileJob
	var brSrcs []manifest.Digest
	for _, e := range entries {
		j := jobs[e.Digest]
		if j == nil {
			j = &fileJob{digest: e.Digest, zip: needZip}
			jobs[e.Digest] = j
			order = append(order, j)
		}
		force := strings.HasSuffix(e.Path, ".br")
		if (e.Size >= brotliMinSize || force) && !j.brotli {
			j.brotli = true
			brSrcs = append(brSrcs, e.Digest)
		}
		j.forceBr = j.forceBr || force
	}
	brKnown, err := st.GetDerived(ctx, store.DerivedBrotli, brSrcs)
	if err != nil {
		return nil, err
	}
	brForm := make(map[manifest.Digest]store.Derived, len(brSrcs))
	for i, src := range brSrcs {
		if k := brKnown[i]; k.Known && !(k.None && jobs[src].forceBr) {
			brForm[src] = k
			jobs[src].brotli = false
		}
	}

	// Compress what is missing, on every core.
	var todo []*fileJob
	for _, j := range order {
		if j.zip || j.brotli {
			todo = append(todo, j)
		}
	}
	runJobs(ctx, st, todo)
	for _, j := range todo {
		if j.err != nil {
			return nil, j.err
		}
	}

	// Store new Brotli forms in a few transactions.
	var items []store.DerivedItem
	var itemJobs []*fileJob
	for _, j := range order {
		if !j.brotli {
			continue
		}
		items = append(items, store.DerivedItem{Src: j.digest, Raw: j.br, None: j.br == nil})
		itemJobs = append(itemJobs, j)
	}
	if len(items) > 0 {
		objs, err := st.PutDerived(ctx, store.DerivedBrotli, items)
		if err != nil {
			return nil, err
		}
		for i, j := range itemJobs {
			if items[i].None {
				brForm[j.digest] = store.Derived{Known: true, None: true}
			} else {
				brForm[j.digest] = store.Derived{Known: true, Object: objs[i], Size: int64(len(j.br))}
			}
		}
	}

	p := &prepared{sizes: make(map[manifest.Digest]int64, len(order)+len(brForm)), served: make(map[manifest.Digest]int64, len(order))}
	if needZip {
		z, err := buildZip(entries, jobs)
		if err != nil {
			return nil, err
		}
		objs, err := st.PutDerived(ctx, store.DerivedZip, []store.DerivedItem{{Src: d, Raw: z}})
		var me *manifest.Error
		switch {
		case errors.As(err, &me) && me.Code == manifest.CodeTooLarge:
			// No zip: plugins that take the manifest still get the bundle
			// (protocol §8 step 12); the others get no_bundle_url.
			p.zip = manifest.Digest{}
		case err != nil:
			return nil, err
		default:
			p.zip, p.zipSize = objs[0], int64(len(z))
		}
	} else {
		p.zip, p.zipSize = zipKnown[0].Object, zipKnown[0].Size
	}
	if !p.zip.IsZero() {
		p.zipHex = p.zip.String()
		p.checksum = p.zipHex
		p.derived = append(p.derived, p.zip)
	}

	// The manifest array.
	buf := make([]byte, 0, len(entries)*200)
	buf = append(buf, '[')
	for i, e := range entries {
		if i > 0 {
			buf = append(buf, ',')
		}
		name, obj := e.Path, e.Digest
		p.sizes[e.Digest] = e.Size
		p.served[e.Digest] = e.Size
		if f, ok := brForm[e.Digest]; ok && !f.None && (f.Size < e.Size || strings.HasSuffix(e.Path, ".br")) {
			name, obj = e.Path+".br", f.Object
			p.sizes[f.Object] = f.Size
			p.served[e.Digest] = f.Size
			p.derived = append(p.derived, f.Object)
		}
		buf = append(buf, `{"file_name":`...)
		buf = appendJSONString(buf, name)
		buf = append(buf, `,"file_hash":"`...)
		buf = append(buf, e.Digest.String()...)
		buf = append(buf, `","download_url":"`...)
		p.holes = append(p.holes, len(buf))
		buf = append(buf, "/o/"...)
		buf = append(buf, obj.String()...)
		buf = append(buf, `"}`...)
	}
	buf = append(buf, ']')
	p.manifest = bytes.Clone(buf)
	p.weigh()
	return p, nil
}

// runJobs compresses the jobs on GOMAXPROCS goroutines.
func runJobs(ctx context.Context, st Store, jobs []*fileJob) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var zbuf bytes.Buffer
			fw, _ := flate.NewWriter(&zbuf, zipLevel)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				j := jobs[i]
				if j.err = ctx.Err(); j.err != nil {
					continue
				}
				obj, err := st.GetObject(ctx, j.digest)
				if err != nil {
					j.err = err
					continue
				}
				raw := obj.Raw
				if j.zip {
					j.crc = crc32.ChecksumIEEE(raw)
					zbuf.Reset()
					fw.Reset(&zbuf)
					_, _ = fw.Write(raw)
					_ = fw.Close()
					if zbuf.Len() < len(raw) {
						j.method, j.zipData = zip.Deflate, bytes.Clone(zbuf.Bytes())
					} else {
						j.method, j.zipData = zip.Store, raw
					}
				}
				if j.brotli {
					var b bytes.Buffer
					bw := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliWindow})
					_, _ = bw.Write(raw)
					_ = bw.Close()
					if b.Len() < len(raw) || j.forceBr {
						j.br = b.Bytes()
					}
				}
			}
		}()
	}
	wg.Wait()
}

// buildZip writes the zip of entries: in manifest (path) order, no
// directory entries, fixed times and mode, sizes and CRC in the local
// headers (no data descriptors, which streaming readers such as Android's
// ZipInputStream handle best).
func buildZip(entries []manifest.Entry, jobs map[manifest.Digest]*fileJob) ([]byte, error) {
	var size int64
	for _, e := range entries {
		size += int64(len(jobs[e.Digest].zipData)) + 2*int64(len(e.Path)) + 128
	}
	var buf bytes.Buffer
	buf.Grow(int(size) + 64)
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		j := jobs[e.Digest]
		fh := &zip.FileHeader{
			Name:               e.Path,
			Method:             j.method,
			CRC32:              j.crc,
			CompressedSize64:   uint64(len(j.zipData)),
			UncompressedSize64: uint64(e.Size),
			// CreateRaw leaves the MS-DOS fields as they are: 1980-01-01 00:00.
			ModifiedDate: 1<<5 | 1,
		}
		fh.SetMode(0o644)
		w, err := zw.CreateRaw(fh)
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", e.Path, err)
		}
		if _, err := w.Write(j.zipData); err != nil {
			return nil, fmt.Errorf("zip %s: %w", e.Path, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	return buf.Bytes(), nil
}
