package delta

// Benchmarks report ratios against the command line tools, measured once
// per run on the same inputs:
//
//	go test -run '^$' -bench . -benchtime 1x ./delta/
//
// Metrics: patch-B and cli-patch-B are patch sizes, size-ratio is ours/CLI
// (lower is better), time-ratio is our time per op / the CLI's wall time
// (process start included, a few ms), peak-MiB is our peak heap growth
// during one op (after a GC) plus the inputs it reads (comparable to a
// process that loads them), and cli-rss-MiB the CLI's peak RSS.

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"
)

// mutateScattered returns old with edits scattered edits in one pass:
// replacements, insertions of fresh text, deletions and copies of code
// from elsewhere in old (moved code), like a release of a big bundle.
func mutateScattered(r *rand.Rand, old []byte, edits int) []byte {
	pos := make([]int, edits)
	for i := range pos {
		pos[i] = r.Intn(len(old))
	}
	slices.Sort(pos)
	var out bytes.Buffer
	out.Grow(len(old) + edits*512)
	last := 0
	for _, p := range pos {
		if p < last {
			continue
		}
		out.Write(old[last:p])
		last = p
		switch r.Intn(4) {
		case 0:
			n := 1 + r.Intn(32)
			out.Write(genJS(r, n))
			last = min(p+n, len(old))
		case 1:
			out.Write(genJS(r, 1+r.Intn(512)))
		case 2:
			last = min(p+1+r.Intn(256), len(old))
		default:
			src := r.Intn(len(old))
			out.Write(old[src:min(src+64+r.Intn(2048), len(old))])
		}
	}
	out.Write(old[last:])
	return out.Bytes()
}

type benchPair struct{ old, new []byte }

var (
	pair40MB = sync.OnceValue(func() benchPair {
		r := rand.New(rand.NewSource(40))
		old := genJS(r, 40<<20)
		return benchPair{old, mutateScattered(r, old, 4000)}
	})
	pair1MB = sync.OnceValue(func() benchPair {
		r := rand.New(rand.NewSource(1))
		old := genJS(r, 1<<20)
		return benchPair{old, mutateScattered(r, old, 100)}
	})
)

// cliResult is one run of a command line tool.
type cliResult struct {
	patch []byte
	wall  time.Duration
	rss   int64 // bytes
}

// runCLI runs a tool once on old/new files in a temp dir; args gets the
// paths of old, new and the patch to write.
func runCLI(tb testing.TB, p benchPair, tool string, args func(old, new, patch string) []string) cliResult {
	bin := needTool(tb, tool)
	dir, err := os.MkdirTemp("", "deltabench")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f := writeFiles(tb, dir, map[string][]byte{"old": p.old, "new": p.new})
	patch := filepath.Join(dir, "patch")
	cmd := exec.Command(bin, args(f["old"], f["new"], patch)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	rss := pollRSS(cmd.Process.Pid, filepath.Base(bin))
	err = cmd.Wait()
	res := cliResult{wall: time.Since(start), rss: rss()}
	if err != nil {
		tb.Fatalf("%s: %v\n%s", tool, err, out.Bytes())
	}
	res.patch = readFile(tb, patch)
	return res
}

// pollRSS samples a process's peak RSS (VmHWM) every 2 ms until the
// returned function is called, which returns the peak in bytes (0 where
// /proc is missing). The rusage of the child would not do: the child
// shares this process's memory between fork and exec, and Linux keeps
// that high-water mark across exec. Samples count only once the process
// runs the tool (its name in /proc is the tool's), and VmHWM only grows,
// so at most the last 2 ms can be missed.
func pollRSS(pid int, name string) (stop func() int64) {
	status := fmt.Sprintf("/proc/%d/status", pid)
	sample := func() int64 {
		b, err := os.ReadFile(status)
		if err != nil || !bytes.Contains(b, []byte("Name:\t"+name[:min(len(name), 15)]+"\n")) {
			return 0
		}
		var kb int64
		if i := bytes.Index(b, []byte("VmHWM:")); i >= 0 {
			fmt.Sscan(string(b[i+len("VmHWM:"):]), &kb)
		}
		return kb << 10
	}
	done := make(chan struct{})
	result := make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
				peak = max(peak, sample())
			}
		}
	}()
	return func() int64 { close(done); return <-result }
}

// cliOnce caches a CLI reference per name for the whole run: the benchmark
// function runs more than once, the reference is measured once.
var (
	cliMu    sync.Mutex
	cliCache = map[string]cliResult{}
)

func cliOnce(tb testing.TB, name string, p benchPair, tool string, args func(old, new, patch string) []string) cliResult {
	cliMu.Lock()
	defer cliMu.Unlock()
	if r, ok := cliCache[name]; ok {
		return r
	}
	r := runCLI(tb, p, tool, args)
	cliCache[name] = r
	return r
}

// peakHeap samples the live heap every millisecond until stop is called,
// which returns the peak above the heap at the start, in bytes.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	done := make(chan struct{})
	result := make(chan uint64)
	base := read()
	go func() {
		peak := base
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				result <- max(peak, read())
				return
			case <-t.C:
				peak = max(peak, read())
			}
		}
	}()
	return func() uint64 { close(done); return <-result - base }
}

// peakOf runs f once after a GC and returns its peak heap growth.
func peakOf(f func()) uint64 {
	runtime.GC()
	stop := peakHeap()
	f()
	return stop()
}

// benchEncode runs encode b.N times and reports size, time and memory
// against ref.
func benchEncode(b *testing.B, p benchPair, ref cliResult, encode func(old, new []byte) ([]byte, error), apply func(old, patch []byte, maxOut int64) ([]byte, error)) {
	b.SetBytes(int64(len(p.new)))
	b.ReportAllocs()
	peak := peakOf(func() { encode(p.old, p.new) })
	b.ResetTimer()
	var patch []byte
	for i := 0; i < b.N; i++ {
		var err error
		if patch, err = encode(p.old, p.new); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perOp := b.Elapsed() / time.Duration(b.N)
	if got, err := apply(p.old, patch, int64(len(p.new))); err != nil || !bytes.Equal(got, p.new) {
		b.Fatalf("patch does not round-trip: %v", err)
	}
	b.ReportMetric(float64(len(patch)), "patch-B")
	b.ReportMetric(float64(len(ref.patch)), "cli-patch-B")
	b.ReportMetric(float64(len(patch))/float64(len(ref.patch)), "size-ratio")
	b.ReportMetric(ref.wall.Seconds(), "cli-s")
	b.ReportMetric(perOp.Seconds()/ref.wall.Seconds(), "time-ratio")
	b.ReportMetric(float64(peak+uint64(len(p.old)+len(p.new)))/(1<<20), "peak-MiB")
	b.ReportMetric(float64(ref.rss)/(1<<20), "cli-rss-MiB")
}

// BenchmarkZstdDictEncode40MB: our zstd-dict encode against
// `zstd -19 --long=27 --patch-from` on a ~40 MB JS-like pair.
func BenchmarkZstdDictEncode40MB(b *testing.B) {
	p := pair40MB()
	ref := cliOnce(b, "zstd40", p, "zstd", func(old, new, patch string) []string {
		return []string{"-19", "--long=27", "-q", "-f", "--patch-from=" + old, new, "-o", patch}
	})
	benchEncode(b, p, ref, ZstdDict.Encode, ZstdDict.Apply)
}

// BenchmarkZstdDictApply40MB: our Apply against
// `zstd -d --long=27 --patch-from` on the CLI's patch.
func BenchmarkZstdDictApply40MB(b *testing.B) {
	p := pair40MB()
	ref := cliOnce(b, "zstd40", p, "zstd", func(old, new, patch string) []string {
		return []string{"-19", "--long=27", "-q", "-f", "--patch-from=" + old, new, "-o", patch}
	})
	dec := cliOnce(b, "zstd40-d", benchPair{p.old, ref.patch}, "zstd", func(old, patch, out string) []string {
		return []string{"-d", "--long=27", "-q", "-f", "--patch-from=" + old, patch, "-o", out}
	})
	benchApply(b, p, ref.patch, dec, ZstdDict.Apply)
}

// BenchmarkBsdiffEncode1MB: our bsdiff against Debian bsdiff on a ~1 MB
// JS-like pair.
func BenchmarkBsdiffEncode1MB(b *testing.B) {
	p := pair1MB()
	ref := cliOnce(b, "bsdiff1", p, "bsdiff", func(old, new, patch string) []string {
		return []string{old, new, patch}
	})
	benchEncode(b, p, ref, Bsdiff.Encode, Bsdiff.Apply)
}

// BenchmarkBsdiffApply1MB: our Apply against Debian bspatch on Debian
// bsdiff's patch.
func BenchmarkBsdiffApply1MB(b *testing.B) {
	p := pair1MB()
	ref := cliOnce(b, "bsdiff1", p, "bsdiff", func(old, new, patch string) []string {
		return []string{old, new, patch}
	})
	dec := cliOnce(b, "bspatch1", benchPair{p.old, ref.patch}, "bspatch", func(old, patch, out string) []string {
		return []string{old, out, patch}
	})
	benchApply(b, p, ref.patch, dec, Bsdiff.Apply)
}

// benchApply times apply on patch and reports against the CLI's decode.
func benchApply(b *testing.B, p benchPair, patch []byte, ref cliResult, apply func(old, patch []byte, maxOut int64) ([]byte, error)) {
	if !bytes.Equal(ref.patch, p.new) {
		b.Fatal("CLI decode does not give new")
	}
	b.SetBytes(int64(len(p.new)))
	b.ReportAllocs()
	peak := peakOf(func() { apply(p.old, patch, int64(len(p.new))) })
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := apply(p.old, patch, int64(len(p.new)))
		if err != nil || len(got) != len(p.new) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(ref.wall.Seconds(), "cli-s")
	b.ReportMetric(perOp.Seconds()/ref.wall.Seconds(), "time-ratio")
	b.ReportMetric(float64(peak+uint64(len(p.old)+len(patch)))/(1<<20), "peak-MiB")
	b.ReportMetric(float64(ref.rss)/(1<<20), "cli-rss-MiB")
}

// BenchmarkZstdDictEncodeSmall: encoder reuse on small files, where
// setting up SpeedBestCompression's tables dominates. The "fresh"
// sub-benchmark (a new encoder per call, EncodeAll) is the reference for
// "pooled" (Encode) in the same run: pool-ratio is pooled / fresh time.
func BenchmarkZstdDictEncodeSmall(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		r := rand.New(rand.NewSource(int64(size)))
		old := genJS(r, size)
		new := mutate(r, old, 3)
		var freshNs float64
		for _, pooled := range []bool{false, true} {
			name := fmt.Sprintf("%dKiB/fresh", size>>10)
			if pooled {
				name = fmt.Sprintf("%dKiB/pooled", size>>10)
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(new)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if _, err := zstdEncode(old, new, pooled); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				if !pooled {
					freshNs = ns
					return
				}
				b.ReportMetric(freshNs/1e6, "fresh-ms/op")
				b.ReportMetric(ns/freshNs, "pool-ratio")
			})
		}
	}
}
