// Package patcher produces what the native protocol serves between two
// bundles: the bundle patches (package delta) and the pair's step object
// (package step), made in the background and stored as ordinary objects
// with their patch mappings. It is its own package because patch
// production is its own job: it consumes the store's publish events
// (store.PublishEvent), orders its queue by how many devices run each base,
// bounds its memory, and answers "which step does a device on this
// manifest get to that one" for the check handler, without any HTTP.
//
// A bounded pool of workers takes jobs, one per (from, to) manifest pair,
// deduplicated while queued or running, highest priority first. A job
// makes every patch the pair can use that is not made yet (the bundle
// patch, with every codec whose limits the inputs fit), then the pair's
// final step. Each patch is applied back and its output hashed before it
// is stored; one no smaller than what it replaces is recorded as useless,
// so it is not made again. Jobs run only while their estimated memory fits
// the budget (Options.Memory), so several big pairs never encode at once.
//
// A check never waits for it: it plans with what exists (Step) and
// schedules the rest. Publishing (a bundle commit, a channel change)
// schedules patches from the bundles devices most likely run to every
// bundle a channel serves (publish.go).
package patcher

import (
	"container/heap"
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store"
)

// patchMinFile: files (and bundle patch outputs) smaller than this are
// always sent whole; a patch would save next to nothing.
const patchMinFile = 128

// patchQueue is how many jobs may wait; beyond it, scheduling drops the job
// (the next check or publish schedules it again).
const patchQueue = 1024

// Store is the store roles the patcher uses: it reads bundles and their
// publish events from the catalog, objects to patch, and writes patch
// objects and their mappings.
type Store interface {
	store.Objects
	store.Patches
	store.Catalog
}

// Options configure a Patcher. Store is required; zero fields take the
// defaults.
type Options struct {
	// Store holds the bundles, and receives the patches and steps.
	Store Store
	// Log receives job failures and progress. Default slog.Default().
	Log *slog.Logger
	// Workers bounds the jobs encoding at once; default half the CPUs, 1
	// to 4.
	Workers int
	// Bases is how many of an app's latest bundles, and of a channel's
	// most installed ones, patches are made from at publish time; default
	// DefaultBases.
	Bases int
	// Memory bounds, in bytes, the memory the jobs running at once may
	// use, by their estimate (jobMemory); a job larger than the whole
	// budget runs alone. Default DefaultMemory.
	Memory int64
	// ZstdCLI is the zstd tool for zstd-dict patches: ZstdCLIAuto,
	// ZstdCLIOff or a path (zstd.go).
	ZstdCLI string
	// TmpDir is where the zstd tool's inputs are written. Default
	// os.TempDir().
	TmpDir string
}

// Defaults of Options.
const (
	// DefaultBases is how many bases patches are made from at publish.
	DefaultBases = 5
	// DefaultMemory is the patch jobs' memory budget.
	DefaultMemory = 256 << 20
)

// job is one (from, to) manifest pair.
type job struct {
	from, to manifest.Digest
}

// Patcher makes patches and steps in the background; see the package
// documentation. It is safe for concurrent use.
type Patcher struct {
	st    Store
	log   *slog.Logger
	enc   *encoder
	bases int
	mem   *budget
	// steps makes each pair's final step once its patches exist, and
	// plans steps for checks.
	steps *steps

	mu      sync.Mutex
	queue   jobQueue     // waiting jobs, highest priority first
	more    *sync.Cond   // broadcast when a job is queued or the patcher closes
	pending map[job]bool // queued or running
	active  map[job]bool // running (a worker holds it, not paused), or run by Ensure
	running int          // jobs a worker is running (not held by pause)
	busy    int          // background tasks running (they may schedule jobs)
	idle    *sync.Cond   // broadcast on every change of pending, running, busy and hold
	hold    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New starts a patcher's workers. Close it once, before closing the store.
func New(o Options) *Patcher {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = max(1, min(4, runtime.NumCPU()/2))
	}
	if o.Bases <= 0 {
		o.Bases = DefaultBases
	}
	if o.Memory <= 0 {
		o.Memory = DefaultMemory
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Patcher{
		st: o.Store, log: o.Log, bases: o.Bases,
		enc:     newEncoder(o.ZstdCLI, o.TmpDir, o.Log),
		mem:     newBudget(o.Memory),
		steps:   newSteps(o.Store),
		queue:   jobQueue{index: map[job]int{}},
		pending: map[job]bool{},
		active:  map[job]bool{},
		ctx:     ctx, cancel: cancel,
	}
	p.idle = sync.NewCond(&p.mu)
	p.more = sync.NewCond(&p.mu)
	for i := 0; i < o.Workers; i++ {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

// Step returns the step a device running the manifest from (when known;
// else a bundle the server does not know) gets to the manifest to now:
// the final step when it exists, else one made from what is stored, and
// then ready reports false (call Schedule). A pair planned before is
// answered from memory.
func (p *Patcher) Step(ctx context.Context, from manifest.Digest, known bool, to manifest.Digest) (ref api.StepRef, ready bool, err error) {
	return p.steps.forDevice(ctx, from, known, to)
}

// Schedule queues the pair's job for a device that asked for it: with
// priority 1, above pairs no device is known to run. See ScheduleWith.
func (p *Patcher) Schedule(from, to manifest.Digest) { p.ScheduleWith(from, to, 1) }

// ScheduleWith queues the pair's job with priority devices (how many
// devices run from), unless the same pair is running, or the queue is
// full; a queued pair keeps the higher of its priorities. It never blocks.
func (p *Patcher) ScheduleWith(from, to manifest.Digest, devices int64) {
	if from == to {
		return
	}
	j := job{from, to}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return
	}
	if p.pending[j] {
		p.queue.raise(j, devices)
		return
	}
	if p.queue.Len() >= patchQueue {
		p.log.Warn("patch queue full; job dropped", "from", from.String(), "to", to.String())
		return
	}
	heap.Push(&p.queue, queued{j, devices})
	p.pending[j] = true
	p.more.Signal()
}

// next waits for the highest-priority job, or returns false once the
// patcher is closed.
func (p *Patcher) next() (job, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.queue.Len() == 0 && p.ctx.Err() == nil {
		p.more.Wait()
	}
	if p.ctx.Err() != nil {
		return job{}, false
	}
	return heap.Pop(&p.queue).(queued).job, true
}

func (p *Patcher) work() {
	defer p.wg.Done()
	for {
		j, ok := p.next()
		if !ok {
			return
		}
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
		n, err := p.runJob(p.ctx, j, false)
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

// Ensure makes every patch a device going from one manifest to the other
// can use and then the pair's final step, and returns when they exist. A
// pair a worker is making already is waited for, not made twice; a queued
// one is made now (the worker that takes it later finds it done).
func (p *Patcher) Ensure(ctx context.Context, from, to manifest.Digest) error {
	j := job{from, to}
	if err := p.waitUntil(ctx, func() bool { return !p.active[j] }); err != nil {
		return err
	}
	_, err := p.run(ctx, j)
	return err
}

// Pause makes workers wait before their next job until the returned
// function is called (tests: "the patch is not made yet").
func (p *Patcher) Pause() (resume func()) {
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

// Wait blocks until no job is queued or running and no background task
// (which may queue more) runs, or ctx ends.
func (p *Patcher) Wait(ctx context.Context) error {
	return p.waitUntil(ctx, func() bool { return len(p.pending) == 0 && p.busy == 0 })
}

// Settle blocks until nothing the patcher does can still write: no
// background task and no job running, and no job queued unless the
// workers are paused (a held job writes nothing until resumed), or ctx
// ends. Tests that compare the store before and after a request use it.
func (p *Patcher) Settle(ctx context.Context) error {
	return p.waitUntil(ctx, func() bool {
		return p.busy == 0 && p.running == 0 && (len(p.pending) == 0 || p.hold != nil)
	})
}

// waitUntil blocks until done (called with p.mu held) or ctx ends; every
// change of pending, active, running or busy broadcasts p.idle.
func (p *Patcher) waitUntil(ctx context.Context, done func() bool) error {
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

// Background runs fn on a goroutine the patcher tracks (Wait waits for it;
// Close cancels its context and waits for it), unless the patcher is
// closed. fn may schedule jobs.
func (p *Patcher) Background(fn func(ctx context.Context)) {
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

// Closed reports whether Close was called.
func (p *Patcher) Closed() bool { return p.ctx.Err() != nil }

// Close stops the workers and background tasks; a job in progress is
// abandoned at its next store call or encode.
func (p *Patcher) Close() {
	p.mu.Lock()
	p.cancel()
	p.more.Broadcast()
	p.idle.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}
