package patcher

import (
	"time"

	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

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
func lookupPatches(ctx context.Context, st Store, keys []resolver.PatchKey) (map[resolver.PatchKey]resolver.PatchRef, map[resolver.PatchKey]bool, error) {
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
// returns how many patches it stored; when another node is making them it
// waits for that node (runJob).
func (p *Patcher) run(ctx context.Context, j job) (int, error) { return p.runJob(ctx, j, true) }

// leaseTTL is how long a node's lease on a patch job lasts: past it, a
// node that died holding one no longer holds the job up.
const leaseTTL = 10 * time.Minute

// leasePoll is how often a job waiting for another node's lease looks
// again.
const leasePoll = 200 * time.Millisecond

// runJob is run; when another node holds the job's lease (several nodes
// over one catalog, store.LeasePatchJob) it skips the job unless wait,
// and then waits for the lease to go and makes what is still missing (the
// other node's patches are served once their mappings appear).
func (p *Patcher) runJob(ctx context.Context, j job, wait bool) (int, error) {
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
	missing, err := missingPatches(ctx, p.st, keys)
	if err != nil {
		return 0, err
	}
	made := 0
	for len(missing) > 0 {
		unlease, ok, err := p.st.LeasePatchJob(ctx, j.from, j.to, leaseTTL)
		if err != nil {
			return 0, err
		}
		if ok {
			defer unlease()
			if missing, err = missingPatches(ctx, p.st, keys); err != nil {
				return 0, err
			}
			break
		}
		if !wait {
			return 0, nil // another node makes them
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(leasePoll):
		}
	}
	if len(missing) > 0 {
		release, err := p.mem.acquire(ctx, jobMemory(c, missing))
		if err != nil {
			return 0, err
		}
		defer release()
		m := &patchMaker{st: p.st, enc: p.enc, ctx: ctx, c: c, files: map[manifest.Digest][]byte{}}
		if made, err = m.make(missing); err != nil {
			return made, err
		}
	}
	_, err = p.steps.ensure(ctx, c, from)
	return made, err
}

// missingPatches lists the keys that have no mapping yet.
func missingPatches(ctx context.Context, st Store, keys []resolver.PatchKey) ([]resolver.PatchKey, error) {
	_, known, err := lookupPatches(ctx, st, keys)
	if err != nil {
		return nil, err
	}
	var missing []resolver.PatchKey
	for _, k := range keys {
		if !known[k] {
			missing = append(missing, k)
		}
	}
	return missing, nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// patchMaker makes the patches of one job, reading each file once.
type patchMaker struct {
	st    Store
	enc   *encoder
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
