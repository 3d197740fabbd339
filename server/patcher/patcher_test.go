package patcher

import (
	"container/heap"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
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
	p := New(Options{Store: st, Log: log, Workers: 2, ZstdCLI: ZstdCLIOff})
	defer p.Close()
	resume := p.Pause()
	a, b := manifest.Sum([]byte("a")), manifest.Sum([]byte("b"))
	p.Schedule(a, b)
	p.Schedule(a, b)
	p.Schedule(b, a)
	p.Schedule(a, a) // nothing to do
	p.mu.Lock()
	n := len(p.pending)
	p.mu.Unlock()
	if n != 2 {
		t.Errorf("%d jobs pending, want 2", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := p.Wait(ctx); err == nil {
		t.Error("wait returned while paused jobs were pending")
	}
	cancel()
	started := make(chan struct{})
	p.Background(func(context.Context) {
		close(started)
		p.Schedule(a, manifest.Sum([]byte("c")))
	})
	<-started
	resume()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	n = len(p.pending)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("%d jobs pending after wait", n)
	}
	// Jobs for manifests the store does not hold do nothing and fail nothing.
	if made, err := p.run(context.Background(), job{a, b}); err != nil || made != 0 {
		t.Errorf("run on unknown manifests: %d, %v", made, err)
	}
	p.Close()
	p.Schedule(a, b) // after close: ignored, no panic
}

// TestJobQueueOrder: jobs leave the queue most devices first, equal
// priorities in the order queued, and a raised job moves up.
func TestJobQueueOrder(t *testing.T) {
	d := func(s string) manifest.Digest { return manifest.Sum([]byte(s)) }
	j := func(s string) job { return job{d(s), d("to")} }
	tests := []struct {
		name  string
		push  []queued
		raise map[string]int64
		want  []string
	}{
		{"by devices", []queued{{j("a"), 1}, {j("b"), 50}, {j("c"), 7}}, nil, []string{"b", "c", "a"}},
		{"ties keep order", []queued{{j("a"), 0}, {j("b"), 0}, {j("c"), 0}}, nil, []string{"a", "b", "c"}},
		{"raised", []queued{{j("a"), 5}, {j("b"), 3}, {j("c"), 1}}, map[string]int64{"c": 9}, []string{"c", "a", "b"}},
		{"never lowered", []queued{{j("a"), 5}, {j("b"), 3}}, map[string]int64{"a": 1}, []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := jobQueue{index: map[job]int{}}
			for _, it := range tc.push {
				heap.Push(&q, it)
			}
			for s, n := range tc.raise {
				q.raise(j(s), n)
			}
			var got []string
			for q.Len() > 0 {
				it := heap.Pop(&q).(queued)
				for _, s := range []string{"a", "b", "c"} {
					if it.job == j(s) {
						got = append(got, s)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
		})
	}
}

// TestBudget: jobs whose estimates do not fit together wait for each
// other; one larger than the budget runs alone; a cancelled wait fails.
func TestBudget(t *testing.T) {
	b := newBudget(100)
	ctx := context.Background()
	r1, err := b.acquire(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		r, err := b.acquire(ctx, 60)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("a second 60-byte job ran beside the first in a 100-byte budget")
	case <-time.After(50 * time.Millisecond):
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(short, 1000); err == nil {
		t.Error("an oversized job ran beside another")
	}
	r1()
	r2 := <-got
	if b.inUse() != 60 {
		t.Errorf("in use %d, want 60", b.inUse())
	}
	r2()
	r3, err := b.acquire(ctx, 1000) // alone: the whole budget
	if err != nil || b.inUse() != 100 {
		t.Fatalf("oversized alone: %d in use, %v", b.inUse(), err)
	}
	r3()
}

// TestJobMemory: the estimate grows with the pair and is larger for
// bsdiff, whose suffix array is 8 bytes per dictionary byte; a job that
// encodes nothing needs nothing.
func TestJobMemory(t *testing.T) {
	c := &resolver.Changes{DictionarySize: 40 << 20, DeliverSize: 40 << 20}
	zstd := jobMemory(c, []resolver.PatchKey{{Codec: delta.NameZstdDict, Bundle: true}})
	both := jobMemory(c, []resolver.PatchKey{{Codec: delta.NameZstdDict, Bundle: true}, {Codec: delta.NameBsdiff, Bundle: true}})
	if zstd < 160<<20 || zstd > 512<<20 || both <= zstd {
		t.Errorf("40+40 MB pair: zstd %d MiB, both %d MiB", zstd>>20, both>>20)
	}
	if n := jobMemory(c, nil); n != 0 {
		t.Errorf("no patches: %d", n)
	}
}
