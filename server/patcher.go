package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// The patcher makes patches in the background: a bounded pool of workers
// takes jobs, one per (from, to) manifest pair, deduplicated while queued
// or running. A job makes every patch the pair can use that is not made
// yet: per-file patches first (quick), then the bundle patch, each with
// every codec whose limits the inputs fit. Each patch is applied back and
// its output hashed before it is stored; one no smaller than what it
// replaces is recorded as useless, so it is not made again.
//
// A check never waits for it: it plans with what exists and schedules the
// rest. Publishing (a bundle commit, a channel change) schedules patches
// from the bundles devices most likely run to every bundle a channel
// serves.

// patchMinFile: files (and bundle patch outputs) smaller than this are
// always sent whole; a patch would save next to nothing.
const patchMinFile = 128

// patchQueue is how many jobs may wait; beyond it, scheduling drops the job
// (the next check or publish schedules it again).
const patchQueue = 1024

// patchJob is one (from, to) manifest pair.
type patchJob struct {
	from, to manifest.Digest
}

// patcher runs patch jobs; see above.
type patcher struct {
	st   *store.Store
	log  *slog.Logger
	enc  *patchEncoder
	jobs chan patchJob
	// steps makes each pair's final step once its patches exist.
	steps *steps

	mu      sync.Mutex
	pending map[patchJob]bool // queued or running
	active  map[patchJob]bool // running (a worker holds it, not paused)
	running int               // jobs a worker is running (not held by pause)
	busy    int               // background tasks running (they may schedule jobs)
	idle    *sync.Cond        // broadcast on every change of pending, running, busy and hold
	hold    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newPatcher starts workers goroutines.
func newPatcher(st *store.Store, log *slog.Logger, enc *patchEncoder, workers int) *patcher {
	if workers <= 0 {
		workers = max(1, min(4, runtime.NumCPU()/2))
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &patcher{
		st: st, log: log, enc: enc,
		steps:   newSteps(st),
		jobs:    make(chan patchJob, patchQueue),
		pending: map[patchJob]bool{},
		active:  map[patchJob]bool{},
		ctx:     ctx, cancel: cancel,
	}
	p.idle = sync.NewCond(&p.mu)
	for i := 0; i < workers; i++ {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

// schedule queues a job unless the same pair is queued or running, or the
// queue is full. It never blocks.
func (p *patcher) schedule(from, to manifest.Digest) {
	if from == to {
		return
	}
	j := patchJob{from, to}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending[j] || p.ctx.Err() != nil {
		return
	}
	select {
	case p.jobs <- j:
		p.pending[j] = true
	default:
		p.log.Warn("patch queue full; job dropped", "from", from.String(), "to", to.String())
	}
}

func (p *patcher) work() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case j := <-p.jobs:
			p.mu.Lock()
			hold := p.hold
			if hold == nil {
				p.running++
				p.active[j] = true
			}
			p.mu.Unlock()
			if hold != nil {
				select {
				case <-hold:
				case <-p.ctx.Done():
					return
				}
				p.mu.Lock()
				p.running++
				p.active[j] = true
				p.mu.Unlock()
			}
			start := time.Now()
			n, err := p.run(p.ctx, j)
			switch {
			case err != nil && p.ctx.Err() == nil:
				p.log.Error("patch job failed", "from", j.from.String(), "to", j.to.String(), "err", err)
			case n > 0:
				p.log.Info("patches made", "from", j.from.String(), "to", j.to.String(), "patches", n, "took", time.Since(start))
			}
			p.mu.Lock()
			p.running--
			delete(p.pending, j)
			delete(p.active, j)
			p.idle.Broadcast()
			p.mu.Unlock()
		}
	}
}

// pause makes workers wait before their next job until the returned
// function is called (tests: "the patch is not made yet").
func (p *patcher) pause() (resume func()) {
	ch := make(chan struct{})
	p.mu.Lock()
	p.hold = ch
	p.idle.Broadcast()
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		if p.hold == ch {
			p.hold = nil
		}
		p.idle.Broadcast()
		p.mu.Unlock()
		close(ch)
	}
}

// wait blocks until no job is queued or running and no background task
// (which may queue more) runs, or ctx ends.
func (p *patcher) wait(ctx context.Context) error {
	return p.waitUntil(ctx, func() bool { return len(p.pending) == 0 && p.busy == 0 })
}

// settle blocks until nothing the patcher does can still write: no
// background task and no job running, and no job queued unless the
// workers are paused (a held job writes nothing until resumed), or ctx
// ends. Tests that compare the store before and after a request use it.
func (p *patcher) settle(ctx context.Context) error {
	return p.waitUntil(ctx, func() bool {
		return p.busy == 0 && p.running == 0 && (len(p.pending) == 0 || p.hold != nil)
	})
}

// waitUntil blocks until done (called with p.mu held) or ctx ends; every
// change of pending, running or busy broadcasts p.idle.
func (p *patcher) waitUntil(ctx context.Context, done func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.idle.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for !done() && ctx.Err() == nil {
		p.idle.Wait()
	}
	return ctx.Err()
}

// background runs fn on its own goroutine unless the patcher is closed;
// close waits for it.
func (p *patcher) background(fn func(ctx context.Context)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return
	}
	p.wg.Add(1)
	p.busy++
	go func() {
		defer p.wg.Done()
		fn(p.ctx)
		p.mu.Lock()
		p.busy--
		p.idle.Broadcast()
		p.mu.Unlock()
	}()
}

// close stops the workers; a job in progress is abandoned at its next
// store call or encode.
func (p *patcher) close() {
	p.mu.Lock()
	p.cancel()
	p.mu.Unlock()
	p.wg.Wait()
}

// codecFits reports whether codec encodes a pair of these sizes in a
// background job: zstd-dict up to delta.ZstdMaxPair, bsdiff up to
// delta.BsdiffChooseLimit (its memory and time grow fast).
func codecFits(codec string, old, new int64) bool {
	switch codec {
	case delta.NameZstdDict:
		return old+new <= delta.ZstdMaxPair
	case delta.NameBsdiff:
		return old+new <= delta.BsdiffChooseLimit
	}
	return false
}

// serverCodecs are the codecs patches are made with, preferred first.
func serverCodecs() []string {
	var names []string
	for _, c := range delta.All() {
		names = append(names, c.Name())
	}
	return names
}

// wantedPatches lists the patches worth having for c with codecs: the
// bundle patch per codec whose inputs fit the codec's limits, when the
// delivered files add up to at least patchMinFile bytes. Steps (protocol
// 2) carry one bundle patch, so per-file patches are no longer made (those
// made before stay served at /d/).
func wantedPatches(c *resolver.Changes, codecs []string) []resolver.PatchKey {
	var out []resolver.PatchKey
	for _, k := range c.PatchKeys(codecs) {
		if k.Bundle && c.DeliverSize >= patchMinFile && codecFits(k.Codec, c.DictionarySize, c.DeliverSize) {
			out = append(out, k)
		}
	}
	return out
}

// WantedPatches lists, as store keys, the patches the patcher makes for a
// device going from one bundle to another with every codec the server
// uses: what a benchmark or a test waits for before it measures.
func WantedPatches(from, to *manifest.Manifest) []store.PatchKey {
	var out []store.PatchKey
	for _, k := range wantedPatches(resolver.NewChanges(from, to), serverCodecs()) {
		out = append(out, storeKey(k))
	}
	return out
}

func storeKey(k resolver.PatchKey) store.PatchKey {
	return store.PatchKey{Codec: k.Codec, From: k.From, To: k.To, Bundle: k.Bundle}
}

// lookupPatches reads the mappings of keys: made patches as refs, and
// which keys have any mapping at all (useless ones included).
func lookupPatches(ctx context.Context, st *store.Store, keys []resolver.PatchKey) (map[resolver.PatchKey]resolver.PatchRef, map[resolver.PatchKey]bool, error) {
	sk := make([]store.PatchKey, len(keys))
	for i, k := range keys {
		sk[i] = storeKey(k)
	}
	got, err := st.LookupPatches(ctx, sk)
	if err != nil {
		return nil, nil, err
	}
	refs := map[resolver.PatchKey]resolver.PatchRef{}
	known := map[resolver.PatchKey]bool{}
	for _, k := range keys {
		p, ok := got[storeKey(k)]
		if !ok {
			continue
		}
		known[k] = true
		if !p.Useless() {
			refs[k] = resolver.PatchRef{Codec: k.Codec, Digest: p.Digest, Size: p.Size}
		}
	}
	return refs, known, nil
}

// run makes the patches job j lacks, then the pair's final step, and
// returns how many patches it stored.
func (p *patcher) run(ctx context.Context, j patchJob) (int, error) {
	from, err := p.st.LoadManifest(ctx, j.from)
	if err != nil {
		return 0, ignoreNotFound(err)
	}
	to, err := p.st.LoadManifest(ctx, j.to)
	if err != nil {
		return 0, ignoreNotFound(err)
	}
	c := resolver.NewChanges(from, to)
	keys := wantedPatches(c, serverCodecs())
	_, known, err := lookupPatches(ctx, p.st, keys)
	if err != nil {
		return 0, err
	}
	var missing []resolver.PatchKey
	for _, k := range keys {
		if !known[k] {
			missing = append(missing, k)
		}
	}
	made := 0
	if len(missing) > 0 {
		m := &patchMaker{st: p.st, enc: p.enc, ctx: ctx, c: c, files: map[manifest.Digest][]byte{}}
		if made, err = m.make(missing); err != nil {
			return made, err
		}
	}
	_, err = p.steps.ensure(ctx, c, from)
	return made, err
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// patchMaker makes the patches of one job, reading each file once.
type patchMaker struct {
	st    *store.Store
	enc   *patchEncoder
	ctx   context.Context
	c     *resolver.Changes
	files map[manifest.Digest][]byte
	whole map[manifest.Digest]int64 // stored sizes of the delivered files
	made  int
}

func (m *patchMaker) make(missing []resolver.PatchKey) (int, error) {
	var ds []manifest.Digest
	for _, d := range m.c.Deliver {
		ds = append(ds, d.Entry.Digest)
	}
	infos, err := m.st.StatObjects(m.ctx, ds)
	if err != nil {
		return 0, err
	}
	m.whole = map[manifest.Digest]int64{}
	for d, info := range infos {
		m.whole[d] = info.StoredSize
	}
	// zstd-dict before bsdiff, whose encoder is slower. Every wanted patch
	// is a bundle patch (wantedPatches).
	sort.SliceStable(missing, func(i, j int) bool {
		return slices.Index(serverCodecs(), missing[i].Codec) < slices.Index(serverCodecs(), missing[j].Codec)
	})
	for _, k := range missing {
		if err := m.ctx.Err(); err != nil {
			return m.made, err
		}
		if err := m.bundle(k); err != nil {
			return m.made, err
		}
	}
	return m.made, nil
}

// encodeVerified encodes new against old, checks that the patch applies
// back to exactly new, and stores it with whole, the cost of sending what
// it rebuilds without it. A pair beyond the codec's limits is recorded as
// useless so it is not tried again.
func (m *patchMaker) encodeVerified(k resolver.PatchKey, codec delta.Codec, old, new []byte, whole int64) error {
	what := "patch"
	if k.Bundle {
		what = "bundle patch"
	}
	patch, err := m.enc.encode(m.ctx, codec, [][]byte{old}, [][]byte{new})
	if errors.Is(err, delta.ErrTooLarge) {
		return m.put(k, nil, 0)
	}
	if err != nil {
		return fmt.Errorf("%s %s %s→%s: %w", k.Codec, what, k.From, k.To, err)
	}
	got, err := codec.Apply(old, patch, int64(len(new)))
	if err != nil || !bytes.Equal(got, new) {
		return fmt.Errorf("%s %s %s→%s does not apply back: %v", k.Codec, what, k.From, k.To, err)
	}
	return m.put(k, patch, whole)
}

// bundle makes the bundle patch k. The dictionary and the delivered files
// are read straight into one buffer each (the dictionary's files are not
// kept otherwise), encoded, and the patch applied back must give exactly
// the delivered files' bytes, each verified against its digest when read.
func (m *patchMaker) bundle(k resolver.PatchKey) error {
	codec, ok := delta.Lookup(k.Codec)
	if !ok {
		return nil
	}
	old, err := m.concat(m.c.Dictionary, m.c.DictionarySize, false)
	if err != nil {
		return err
	}
	entries := make([]manifest.Entry, len(m.c.Deliver))
	var whole int64
	for i, d := range m.c.Deliver {
		entries[i] = d.Entry
		whole += m.wholeCost(d.Entry.Digest, d.Entry.Size)
	}
	new, err := m.concat(entries, m.c.DeliverSize, true)
	if err != nil {
		return err
	}
	return m.encodeVerified(k, codec, old, new, whole)
}

// concat reads the files of es into one buffer of size bytes; keep caches
// each file for later patches of the job.
func (m *patchMaker) concat(es []manifest.Entry, size int64, keep bool) ([]byte, error) {
	if size > delta.ZstdMaxPair {
		return nil, fmt.Errorf("%d bytes: %w", size, delta.ErrTooLarge)
	}
	buf := make([]byte, 0, size)
	for _, e := range es {
		b, ok := m.files[e.Digest]
		if !ok {
			obj, err := m.st.GetObject(m.ctx, e.Digest)
			if err != nil {
				return nil, err
			}
			b = obj.Raw
			if keep {
				m.files[e.Digest] = b
			}
		}
		buf = append(buf, b...)
	}
	if int64(len(buf)) != size {
		return nil, fmt.Errorf("files add up to %d bytes, the manifest says %d: %w", len(buf), size, store.ErrCorrupt)
	}
	return buf, nil
}

func (m *patchMaker) wholeCost(d manifest.Digest, size int64) int64 {
	if n, ok := m.whole[d]; ok {
		return n
	}
	return size
}

// put stores patch as k's patch, or records k as useless when patch is nil
// or not smaller than replaces bytes.
func (m *patchMaker) put(k resolver.PatchKey, patch []byte, replaces int64) error {
	sk := storeKey(k)
	if patch == nil || int64(len(patch)) >= replaces {
		return m.st.PutPatch(m.ctx, sk, manifest.Digest{}, 0)
	}
	d := manifest.Sum(patch)
	for attempt := 0; ; attempt++ {
		if _, err := m.st.PutObject(m.ctx, d, patch); err != nil {
			return err
		}
		err := m.st.PutPatch(m.ctx, sk, d, int64(len(patch)))
		var mo *store.MissingObjectsError
		if errors.As(err, &mo) && attempt == 0 {
			continue // collected between the two calls: store it again
		}
		if err != nil {
			return err
		}
		m.made++
		return nil
	}
}

// Publishing.

// onPublish is the patcher's store subscription: a committed bundle gets
// patches to it, and a channel that serves something new gets patches to
// what it serves, in the background (it does not block the writer).
func (n *native) onPublish(ev store.PublishEvent) {
	switch ev.Kind {
	case store.BundleCommitted:
		n.precompute(ev.App, ev.Version)
	case store.ChannelServes:
		n.precompute(ev.App)
	}
}

// precompute schedules, in the background, patches from the bundles
// devices of app most likely run to every bundle its channels serve (and
// to extra, a version just committed): per channel, its most installed
// bundles, and the app's last bases bundles.
func (n *native) precompute(app string, extra ...string) {
	n.patcher.background(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := n.schedulePublished(ctx, app, extra); err != nil && ctx.Err() == nil {
			n.log.Warn("scheduling patches", "app", app, "err", err)
		}
	})
}

func (n *native) schedulePublished(ctx context.Context, app string, extra []string) error {
	as, err := n.st.Snapshot(ctx, app, "")
	if err != nil || !as.AppExists {
		return err
	}
	bundles, err := n.st.ListBundles(ctx, app) // ascending semver
	if err != nil {
		return err
	}
	manifestOf := func(v string) (manifest.Digest, bool) {
		b, ok := as.Bundles[v]
		return b.Manifest, ok && !b.Manifest.IsZero()
	}
	// Targets: what channels serve (and roll out), plus extra.
	type target struct{ version, channel string }
	var targets []target
	for _, c := range as.Channels {
		targets = append(targets, target{c.Bundle, c.Name})
		if c.Rollout != nil {
			targets = append(targets, target{c.Rollout.Bundle, c.Name})
		}
	}
	for _, v := range extra {
		targets = append(targets, target{v, ""})
	}
	bases := n.cfg.PatchBases
	var last []string
	for i := len(bundles) - 1; i >= 0 && len(last) < bases+1; i-- {
		last = append(last, bundles[i].Version)
	}
	for _, t := range targets {
		to, ok := manifestOf(t.version)
		if !ok {
			continue
		}
		from := slices.Clone(last)
		if t.channel != "" {
			from = append(n.mostInstalled(ctx, app, t.channel, bases), from...)
		}
		scheduled := 0
		for _, v := range from {
			f, ok := manifestOf(v)
			if !ok || f == to || scheduled >= 2*bases {
				continue
			}
			n.patcher.schedule(f, to)
			scheduled++
		}
	}
	return nil
}

// mostInstalled returns up to k bundles of app with the most devices on
// channel, most first.
func (n *native) mostInstalled(ctx context.Context, app, channel string, k int) []string {
	stats, err := n.st.BundleStats(ctx, app, channel)
	if err != nil {
		n.log.Warn("bundle stats", "app", app, "channel", channel, "err", err)
		return nil
	}
	sort.SliceStable(stats, func(i, j int) bool { return stats[i].Devices > stats[j].Devices })
	var out []string
	for _, s := range stats {
		if s.Devices > 0 && len(out) < k {
			out = append(out, s.Version)
		}
	}
	return out
}
