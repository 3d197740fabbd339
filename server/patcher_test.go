package server

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// TestWantedPatchesLimits: a bundle patch per codec whose limits the pair
// fits; never per-file patches (steps carry one bundle patch); tiny
// deliveries are never patched.
func TestWantedPatchesLimits(t *testing.T) {
	entry := func(name string, size int64) manifest.Entry {
		return manifest.Entry{Path: name, Digest: manifest.Sum([]byte(name)), Size: size}
	}
	big, small, tiny := entry("big.js", 1<<20), entry("small.js", 4<<10), entry("tiny.txt", 10)
	oldBig, oldSmall, oldTiny := entry("old-big.js", 1<<20), entry("old-small.js", 4<<10), entry("old-tiny.txt", 10)
	c := &resolver.Changes{
		From: manifest.Sum([]byte("F")), To: manifest.Sum([]byte("T")), FromKnown: true,
		Deliver: []resolver.Delivery{
			{Entry: big, Base: oldBig, HasBase: true},
			{Entry: small, Base: oldSmall, HasBase: true},
			{Entry: tiny, Base: oldTiny, HasBase: true},
		},
		DeliverSize: big.Size + small.Size + tiny.Size,
	}
	count := func(keys []resolver.PatchKey) (bundle, file map[string]int) {
		bundle, file = map[string]int{}, map[string]int{}
		for _, k := range keys {
			if k.Bundle {
				bundle[k.Codec]++
			} else {
				file[k.Codec]++
			}
		}
		return
	}
	codecs := serverCodecs()

	c.DictionarySize = 8 << 20
	b, f := count(wantedPatches(c, codecs))
	if b[delta.NameZstdDict] != 1 || b[delta.NameBsdiff] != 1 || len(f) != 0 {
		t.Errorf("8 MiB bundle: bundle %v, file %v", b, f)
	}
	c.DictionarySize = 64 << 20 // beyond bsdiff's limit
	b, f = count(wantedPatches(c, codecs))
	if b[delta.NameZstdDict] != 1 || b[delta.NameBsdiff] != 0 || len(f) != 0 {
		t.Errorf("64 MiB bundle: bundle %v, file %v", b, f)
	}
	c.DictionarySize = delta.ZstdMaxPair // beyond the zstd window: whole objects
	b, f = count(wantedPatches(c, codecs))
	if len(b) != 0 || len(f) != 0 {
		t.Errorf("512 MiB bundle: bundle %v, file %v", b, f)
	}
	c.Deliver, c.DeliverSize = c.Deliver[2:], tiny.Size // only a tiny file to deliver
	if keys := wantedPatches(c, codecs); len(keys) != 0 {
		t.Errorf("tiny delivery: %v", keys)
	}
}

// TestPatcherDedup: one job per (from, to) while it is queued or running;
// wait covers background tasks that schedule more.
func TestPatcherDedup(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: filepath.Join(t.TempDir(), "db"), GCInterval: -1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := newPatcher(st, log, newPatchEncoder(ZstdCLIOff, "", log), 2)
	defer p.close()
	resume := p.pause()
	a, b := manifest.Sum([]byte("a")), manifest.Sum([]byte("b"))
	p.schedule(a, b)
	p.schedule(a, b)
	p.schedule(b, a)
	p.schedule(a, a) // nothing to do
	p.mu.Lock()
	n := len(p.pending)
	p.mu.Unlock()
	if n != 2 {
		t.Errorf("%d jobs pending, want 2", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := p.wait(ctx); err == nil {
		t.Error("wait returned while paused jobs were pending")
	}
	cancel()
	started := make(chan struct{})
	p.background(func(context.Context) {
		close(started)
		p.schedule(a, manifest.Sum([]byte("c")))
	})
	<-started
	resume()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.wait(ctx); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	n = len(p.pending)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("%d jobs pending after wait", n)
	}
	// Jobs for manifests the store does not hold do nothing and fail nothing.
	if made, err := p.run(context.Background(), patchJob{a, b}); err != nil || made != 0 {
		t.Errorf("run on unknown manifests: %d, %v", made, err)
	}
	p.close()
	p.schedule(a, b) // after close: ignored, no panic
}
