package patcher

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/step"
	"github.com/patchwire/patchwire/store"
)

// Steps (native protocol 2). A step object is what a device downloads to
// go from one manifest to another (package step); it is an ordinary object,
// served at /o/{sha256}, found through a patch mapping (dp/) of a codec of
// its own, so the garbage collector keeps it exactly while both manifests
// are live, like a bundle patch:
//
//   - stepCodec: the pair's final step, made once every patch worth having
//     for the pair exists (the patcher makes it right after the patches):
//     the smaller, for the device, of one bundle patch inside the step and
//     whole objects.
//   - stepDraftCodec: a step with whole objects only, for a device that
//     checks before the patches exist (a pair nobody prepared: switches
//     prepare theirs before devices are served). It is replaced by the
//     final one as soon as that exists.
const (
	stepCodec      = "step-1"
	stepDraftCodec = "step-1-draft"
)

func stepKey(codec string, from, to manifest.Digest) store.PatchKey {
	return store.PatchKey{Codec: codec, From: from, To: to, Bundle: true}
}

// steps makes step objects, once per pair at a time, and keeps the plan of
// every pair checked (plans) so that a check of a pair seen before reads
// nothing from the store.
type steps struct {
	st    Store
	plans planCache
	mu    sync.Mutex
	// making holds a channel per pair being made, closed when done.
	making map[[2]manifest.Digest]chan struct{}
}

func newSteps(st Store) *steps {
	return &steps{st: st, making: map[[2]manifest.Digest]chan struct{}{}}
}

// planCacheMax bounds the plans kept; a full cache starts over.
const planCacheMax = 1 << 16

// planCache is the per-pair plan cache beside the catalog: the step a
// device on one manifest gets to another, as last read or made, and
// whether it is the final one. An entry is good while the store's catalog
// generation is the one it was read under (a bundle deleted, so its
// patches may be collected, moves it) and no step of the pair was stored
// since (steps.make forgets the pair, moving epoch, so a plan read before
// is never put back).
type planCache struct {
	mu    sync.RWMutex
	gen   uint64
	epoch uint64
	plans map[[2]manifest.Digest]cachedPlan
}

type cachedPlan struct {
	ref   api.StepRef
	ready bool
}

// stamp is what a plan read now is put back under.
func (c *planCache) stamp() (gen, epoch uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen, c.epoch
}

// get returns the plan of pair when it was put under catalog generation gen.
func (c *planCache) get(gen uint64, pair [2]manifest.Digest) (cachedPlan, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.gen != gen {
		return cachedPlan{}, false
	}
	p, ok := c.plans[pair]
	return p, ok
}

// put keeps p as the plan of pair, read under generation gen after stamp
// returned epoch; a plan read under an older generation, or before the
// pair's step changed, is dropped.
func (c *planCache) put(gen, epoch uint64, pair [2]manifest.Digest, p cachedPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case epoch != c.epoch || gen < c.gen:
		return
	case gen > c.gen || c.plans == nil || len(c.plans) >= planCacheMax:
		c.gen, c.plans = gen, map[[2]manifest.Digest]cachedPlan{}
	}
	c.plans[pair] = p
}

// forget drops the plan of pair: its step changed.
func (c *planCache) forget(pair [2]manifest.Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.plans, pair)
}

// lookup returns the stored step of the pair under codec.
func (s *steps) lookup(ctx context.Context, codec string, from, to manifest.Digest) (api.StepRef, bool, error) {
	p, err := s.st.GetPatch(ctx, stepKey(codec, from, to))
	if errors.Is(err, store.ErrNotFound) || err == nil && p.Useless() {
		return api.StepRef{}, false, nil
	}
	if err != nil {
		return api.StepRef{}, false, err
	}
	return api.StepRef{Digest: p.Digest, Size: p.Size}, true, nil
}

// forDevice returns the step a device running the manifest from (when
// known; else a bundle the server does not know) gets to the manifest to
// now: the final step when it exists, which needs no manifest loaded, or
// can be made from what is stored, else a draft, and then ready reports
// false (the caller schedules the patches).
func (s *steps) forDevice(ctx context.Context, from manifest.Digest, known bool, to manifest.Digest) (ref api.StepRef, ready bool, err error) {
	start := emptyDigest
	if known {
		start = from
	}
	pair := [2]manifest.Digest{start, to}
	gen := s.st.CatalogGeneration()
	if p, ok := s.plans.get(gen, pair); ok {
		return p.ref, p.ready, nil
	}
	_, epoch := s.plans.stamp()
	ref, ready, err = s.plan(ctx, from, known, to)
	if err == nil {
		s.plans.put(gen, epoch, pair, cachedPlan{ref, ready})
	}
	return ref, ready, err
}

// plan is forDevice without the cache.
func (s *steps) plan(ctx context.Context, from manifest.Digest, known bool, to manifest.Digest) (ref api.StepRef, ready bool, err error) {
	start := emptyDigest
	if known {
		start = from
	}
	if ref, ok, err := s.lookup(ctx, stepCodec, start, to); err != nil || ok {
		return ref, ok, err
	}
	var fromM *manifest.Manifest
	if known {
		if fromM, err = s.st.LoadManifest(ctx, from); errors.Is(err, store.ErrNotFound) {
			fromM = nil // deleted since: start from nothing
		} else if err != nil {
			return api.StepRef{}, false, err
		}
	}
	toM, err := s.st.LoadManifest(ctx, to)
	if err != nil {
		return api.StepRef{}, false, err
	}
	return s.make(ctx, resolver.NewChanges(fromM, toM), fromM, false)
}

// ensure makes the final step of c when every wanted patch exists (the
// patcher's last act for a pair, with the changes it worked from) and
// reports whether it exists now.
func (s *steps) ensure(ctx context.Context, c *resolver.Changes, from *manifest.Manifest) (bool, error) {
	if _, ok, err := s.lookup(ctx, stepCodec, c.From, c.To); err != nil || ok {
		return ok, err
	}
	_, ready, err := s.make(ctx, c, from, true)
	return ready, err
}

var emptyDigest = (&manifest.Manifest{}).Digest()

// make builds and stores the final step of c (from is its start, nil for
// nothing) when its patches are all known, else (unless finalOnly) its
// draft. Concurrent calls for a pair wait for the first.
func (s *steps) make(ctx context.Context, c *resolver.Changes, from *manifest.Manifest, finalOnly bool) (api.StepRef, bool, error) {
	pair := [2]manifest.Digest{c.From, c.To}
	var ch chan struct{}
	for {
		s.mu.Lock()
		wait, busy := s.making[pair]
		if !busy {
			ch = make(chan struct{})
			s.making[pair] = ch
			s.mu.Unlock()
			break
		}
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return api.StepRef{}, false, ctx.Err()
		}
		if ref, ok, err := s.lookup(ctx, stepCodec, c.From, c.To); err != nil || ok {
			return ref, ok, err
		}
	}
	defer func() {
		s.mu.Lock()
		delete(s.making, pair)
		s.mu.Unlock()
		close(ch)
	}()

	keys := wantedPatches(c, serverCodecs())
	refs, known, err := lookupPatches(ctx, s.st, keys)
	if err != nil {
		return api.StepRef{}, false, err
	}
	ready := true
	for _, k := range keys {
		ready = ready && known[k]
	}
	codec := stepCodec
	if !ready {
		if finalOnly {
			return api.StepRef{}, false, nil
		}
		codec = stepDraftCodec
		if ref, ok, err := s.lookup(ctx, codec, c.From, c.To); err != nil || ok {
			return ref, false, err
		}
	}
	fromM := from
	if fromM == nil {
		fromM = &manifest.Manifest{}
	}
	b, err := s.build(ctx, c, fromM, refs)
	if err != nil {
		return api.StepRef{}, false, err
	}
	ref := api.StepRef{Digest: manifest.Sum(b), Size: int64(len(b))}
	for attempt := 0; ; attempt++ {
		if _, err := s.st.PutObject(ctx, ref.Digest, b); err != nil {
			return api.StepRef{}, false, err
		}
		err := s.st.PutPatch(ctx, stepKey(codec, c.From, c.To), ref.Digest, ref.Size)
		s.plans.forget(pair)
		var mo *store.MissingObjectsError
		if errors.As(err, &mo) && attempt == 0 {
			continue // collected between the two calls: store it again
		}
		if err != nil {
			return api.StepRef{}, false, err
		}
		return ref, ready, nil
	}
}

// build encodes the cheapest step for c with the bundle patches in refs:
// the files the device lacks either all rebuilt by the smallest bundle
// patch inside the step, or all fetched whole by digest (the step's size
// plus the objects' download sizes), whichever the device downloads less
// with.
func (s *steps) build(ctx context.Context, c *resolver.Changes, from *manifest.Manifest, refs map[resolver.PatchKey]resolver.PatchRef) ([]byte, error) {
	index := make(map[string]int, from.Len())
	for i, e := range from.Entries() {
		index[e.Path] = i
	}
	base := &step.Step{From: c.From}
	for _, p := range c.Removed {
		base.Removed = append(base.Removed, index[p])
	}
	var ds []manifest.Digest
	for _, d := range c.Deliver {
		ds = append(ds, d.Entry.Digest)
	}
	infos, err := s.st.StatObjects(ctx, ds)
	if err != nil {
		return nil, err
	}
	// Whole objects.
	objects := *base
	var download int64
	objects.Writes = stepWrites(c, index, func(d resolver.Delivery) step.Write {
		if info, ok := infos[d.Entry.Digest]; ok {
			download += info.StoredSize
		} else {
			download += d.Entry.Size
		}
		return step.Write{Path: d.Entry.Path, Kind: step.Object, Size: d.Entry.Size, Digest: d.Entry.Digest, Base: step.NoBase}
	})
	best, err := step.Encode(from, &objects)
	if err != nil {
		return nil, err
	}
	bestCost := int64(len(best)) + download
	// One bundle patch, the smallest made.
	var patch *resolver.PatchRef
	for k, ref := range refs {
		if k.Bundle && k.From == c.From && k.To == c.To && (patch == nil || ref.Size < patch.Size) {
			r := ref
			patch = &r
		}
	}
	if patch == nil || patch.Size >= bestCost {
		return best, nil
	}
	obj, err := s.st.GetObject(ctx, patch.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return best, nil
	}
	if err != nil {
		return nil, err
	}
	patched := *base
	patched.Codec, patched.Patch = patch.Codec, obj.Raw
	patched.Writes = stepWrites(c, index, func(d resolver.Delivery) step.Write {
		w := step.Write{Path: d.Entry.Path, Kind: step.Patched, Size: d.Entry.Size, Base: step.NoBase}
		if d.HasBase {
			w.Base = index[d.Base.Path]
		}
		return w
	})
	b, err := step.Encode(from, &patched)
	if err != nil {
		return nil, fmt.Errorf("step with patch %s: %w", patch.Codec, err)
	}
	if int64(len(b)) < bestCost {
		return b, nil
	}
	return best, nil
}

// stepWrites lists c's copies and deliveries in path order, deliveries as
// deliver makes them.
func stepWrites(c *resolver.Changes, index map[string]int, deliver func(resolver.Delivery) step.Write) []step.Write {
	out := make([]step.Write, 0, len(c.Copies)+len(c.Deliver))
	i, j := 0, 0
	for i < len(c.Copies) || j < len(c.Deliver) {
		if j == len(c.Deliver) || i < len(c.Copies) && c.Copies[i].Entry.Path < c.Deliver[j].Entry.Path {
			cp := c.Copies[i]
			out = append(out, step.Write{Path: cp.Entry.Path, Kind: step.Copy, Source: index[cp.Source], Base: step.NoBase})
			i++
			continue
		}
		out = append(out, deliver(c.Deliver[j]))
		j++
	}
	return out
}
