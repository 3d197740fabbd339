package patcher

// Benchmarks of the native protocol's patches, against the command line
// tools run on the same inputs in the same run:
//
//	go test -run '^$' -bench 'UpdateBytes|BundlePatch40MB' -benchtime 1x ./server/patcher/
//
// BenchmarkUpdateBytes: bytes a device downloads per update with our plan
// (after the patcher ran) against the best of `zstd -19 --long=27
// --patch-from` and `bsdiff` on the whole bundles, as a deterministic tar
// and as a plain concatenation. Metrics: plan-B, best-ref-B, ratio (plan /
// best reference; goal ≤ 1.1), and each reference.
//
// BenchmarkBundlePatch40MB: encoding the bundle patch of a ~40 MB pair
// (what the patcher does for it) against `zstd -19 --long=27
// --patch-from` on the tars: time, our peak heap in use (HeapInuse,
// sampled every 2 ms) and the CLI's peak RSS.

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	rtmetrics "runtime/metrics"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/bench/viteapp"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/step"
	"github.com/patchwire/patchwire/store"
)

// benchStore is a store in a temp dir holding app's releases.
type benchStore struct {
	st *store.Store
	p  *Patcher
	ms map[string]*manifest.Manifest
}

func newBenchStore(tb testing.TB, releases map[string]map[string][]byte, zstdCLI string) *benchStore {
	tb.Helper()
	dir := tb.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: filepath.Join(dir, "db"), GCInterval: -1, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	p := New(Options{Store: st, Log: log, ZstdCLI: zstdCLI, TmpDir: filepath.Join(dir, "tmp")})
	tb.Cleanup(func() { p.Close(); st.Close() })
	ctx := context.Background()
	if _, err := st.CreateApp(ctx, "app"); err != nil {
		tb.Fatal(err)
	}
	b := &benchStore{st: st, p: p, ms: map[string]*manifest.Manifest{}}
	versions := make([]string, 0, len(releases))
	for v := range releases {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	for _, v := range versions {
		var es []manifest.Entry
		for p, data := range releases[v] {
			d := manifest.Sum(data)
			if _, err := st.PutObject(ctx, d, data); err != nil {
				tb.Fatal(err)
			}
			es = append(es, manifest.Entry{Path: p, Digest: d, Size: int64(len(data))})
		}
		m, err := manifest.New(es, manifest.DefaultLimits())
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := st.CommitBundle(ctx, "app", v, m, api.BundleMeta{}); err != nil {
			tb.Fatal(err)
		}
		b.ms[v] = m
	}
	return b
}

// update makes the patches from → to and the final step (as the patcher
// does) and returns the step a device gets, and how long making took.
func (b *benchStore) update(tb testing.TB, from, to string) (stepMade, time.Duration) {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	if _, err := b.p.run(ctx, job{b.ms[from].Digest(), b.ms[to].Digest()}); err != nil {
		tb.Fatal(err)
	}
	took := time.Since(start)
	ref, _, err := b.p.Step(ctx, b.ms[from].Digest(), true, b.ms[to].Digest())
	if err != nil {
		tb.Fatal(err)
	}
	obj, err := b.st.GetObject(ctx, ref.Digest)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := step.Decode(b.ms[from], obj.Raw, step.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	return stepMade{s, ref.Size + s.DeliverBytes()}, took
}

// stepMade is a decoded step and what a device downloads with it.
type stepMade struct {
	*step.Step
	DownloadBytes int64
}

// tarOf is a deterministic tar of files: sorted names, no times, no owners.
func tarOf(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(files[p])), ModTime: time.Unix(0, 0), Format: tar.FormatGNU})
		tw.Write(files[p])
	}
	tw.Close()
	return buf.Bytes()
}

// concatOf is files' bytes in path order.
func concatOf(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, p := range names {
		buf.Write(files[p])
	}
	return buf.Bytes()
}

// cliRun is one run of a command line tool.
type cliRun struct {
	size int64
	wall time.Duration
	rss  int64 // bytes, 0 when unknown
}

// runTool runs tool on old and new written to a temp dir; args gets the
// paths of old, new and the output. It returns ok=false when the tool is
// missing. Under /usr/bin/time -v when available, for the peak RSS.
func runTool(tb testing.TB, tool string, old, new []byte, args func(old, new, out string) []string) (cliRun, bool) {
	tb.Helper()
	bin, err := exec.LookPath(tool)
	if err != nil {
		tb.Logf("%s not installed, reference skipped (apt-get install zstd bsdiff; .ci/run installs them)", tool)
		return cliRun{}, false
	}
	dir := tb.TempDir()
	po, pn, out := filepath.Join(dir, "old"), filepath.Join(dir, "new"), filepath.Join(dir, "out")
	if err := os.WriteFile(po, old, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(pn, new, 0o644); err != nil {
		tb.Fatal(err)
	}
	a := append([]string{bin}, args(po, pn, out)...)
	timev, timeErr := exec.LookPath("/usr/bin/time")
	if timeErr == nil {
		a = append([]string{timev, "-v"}, a...)
	}
	cmd := exec.Command(a[0], a[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s: %v\n%s", tool, err, stderr.Bytes())
	}
	r := cliRun{wall: time.Since(start)}
	if m := regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`).FindSubmatch(stderr.Bytes()); m != nil {
		kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
		r.rss = kb << 10
	} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rss = ru.Maxrss << 10
	}
	fi, err := os.Stat(out)
	if err != nil {
		tb.Fatal(err)
	}
	r.size = fi.Size()
	return r, true
}

func zstdPatchFrom(old, new, out string) []string {
	return []string{"-19", "--long=27", "-q", "-f", "--patch-from=" + old, new, "-o", out}
}

func bsdiffArgs(old, new, out string) []string { return []string{old, new, out} }

// references runs the whole-bundle references and returns each size by
// name and the best.
func references(tb testing.TB, old, new map[string][]byte) (map[string]int64, int64) {
	refs := map[string]int64{}
	best := int64(-1)
	inputs := map[string][2][]byte{
		"tar":    {tarOf(old), tarOf(new)},
		"concat": {concatOf(old), concatOf(new)},
	}
	for form, in := range inputs {
		for tool, args := range map[string]func(string, string, string) []string{"zstd": zstdPatchFrom, "bsdiff": bsdiffArgs} {
			r, ok := runTool(tb, tool, in[0], in[1], args)
			if !ok {
				continue
			}
			refs[tool+"-"+form] = r.size
			if best < 0 || r.size < best {
				best = r.size
			}
		}
	}
	return refs, best
}

// viteReleases: release 1 of a ~2.5 MB, ~40-file app, then releases that
// each edit three route chunks (renamed by their new hashes), the entry
// chunk and the stylesheet.
func viteReleases(scale, n int) []map[string][]byte {
	a := viteapp.New(11, scale)
	out := []map[string][]byte{a.Files()}
	for i := 1; i < n; i++ {
		a.Release(3)
		out = append(out, a.Files())
	}
	return out
}

func BenchmarkUpdateBytes(b *testing.B) {
	rel := viteReleases(32000, 5)
	releases := map[string]map[string][]byte{}
	for i, files := range rel {
		releases[fmt.Sprintf("1.0.%d", i+1)] = files
	}
	stores := map[string]*benchStore{
		"zstd-tool": newBenchStore(b, releases, ZstdCLIAuto),
		"go-only":   newBenchStore(b, releases, ZstdCLIOff),
	}
	if stores["zstd-tool"].p.enc.zstd == "" {
		b.Log("zstd not installed: the zstd-tool runs use the Go encoder")
	}
	type result struct {
		refs map[string]int64
		best int64
	}
	refsOf := map[string]result{}
	for _, pair := range [][2]string{{"1.0.1", "1.0.2"}, {"1.0.4", "1.0.5"}, {"1.0.1", "1.0.5"}} {
		for _, mode := range []string{"zstd-tool", "go-only"} {
			bs := stores[mode]
			name := pair[0] + "-" + pair[1]
			if pair[0] == "1.0.1" && pair[1] == "1.0.5" {
				name += "-skip"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				old, new := releases[pair[0]], releases[pair[1]]
				var plan stepMade
				var took time.Duration
				for i := 0; i < b.N; i++ {
					plan, took = bs.update(b, pair[0], pair[1])
				}
				b.StopTimer()
				r, ok := refsOf[name]
				if !ok {
					r.refs, r.best = references(b, old, new)
					refsOf[name] = r
				}
				c := resolver.NewChanges(bs.ms[pair[0]], bs.ms[pair[1]])
				b.ReportMetric(float64(plan.DownloadBytes), "plan-B")
				b.ReportMetric(float64(len(new)), "files")
				b.ReportMetric(float64(len(c.Deliver)), "delivered-files")
				b.ReportMetric(float64(c.DeliverSize), "delivered-B")
				b.ReportMetric(float64(bs.ms[pair[1]].TotalSize()), "bundle-B")
				b.ReportMetric(took.Seconds(), "make-s")
				for k, v := range r.refs {
					b.ReportMetric(float64(v), k+"-B")
				}
				if r.best > 0 {
					b.ReportMetric(float64(r.best), "best-ref-B")
					b.ReportMetric(float64(plan.DownloadBytes)/float64(r.best), "ratio")
				}
				how := "whole objects"
				if plan.Codec != "" {
					how = "bundle patch " + plan.Codec
				}
				b.Logf("%s %s: plan %d B (%s) for %d delivered files (%d B) of %d; best reference %d B; refs %v",
					name, mode, plan.DownloadBytes, how, len(c.Deliver), c.DeliverSize, len(new), r.best, r.refs)
			})
		}
	}
}

// heapInUse samples the heap in use (HeapInuse: objects and the unused
// parts of in-use spans) every 2 ms until stop is called, which returns
// the peak in bytes.
func heapInUse() (stop func() uint64) {
	samples := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	read := func() uint64 {
		rtmetrics.Read(samples)
		return samples[0].Value.Uint64() + samples[1].Value.Uint64()
	}
	done, result := make(chan struct{}), make(chan uint64)
	go func() {
		peak := read()
		t := time.NewTicker(2 * time.Millisecond)
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
	return func() uint64 { close(done); return <-result }
}

// BenchmarkBundlePatch40MB: the bundle patch of a release pair of two
// ~40 MB bundles, encoded as the patcher does (inputs read from the store,
// encode, apply back with the Go decoder, hash, store), with the zstd tool
// and with the Go encoder only, against the zstd CLI on the whole
// bundles' tars. The "job" metrics time the whole patcher job of the pair:
// per-file patches (zstd-dict, bsdiff for files up to 16 MiB) then the
// bundle patch.
func BenchmarkBundlePatch40MB(b *testing.B) {
	rel := viteReleases(555_000, 2)
	bs := newBenchStore(b, map[string]map[string][]byte{"1.0.1": rel[0], "1.0.2": rel[1]}, ZstdCLIAuto)
	rel = nil
	ctx := context.Background()
	c := resolver.NewChanges(bs.ms["1.0.1"], bs.ms["1.0.2"])
	key := resolver.PatchKey{Codec: delta.NameZstdDict, From: c.From, To: c.To, Bundle: true}
	var ref cliRun
	haveRef := false
	for _, mode := range []string{"zstd-tool", "go-only"} {
		enc := bs.p.enc
		if mode == "go-only" {
			enc = newEncoder(ZstdCLIOff, "", bs.p.log)
		} else if enc.zstd == "" {
			b.Log("zstd not installed: zstd-tool uses the Go encoder")
		}
		b.Run(mode, func(b *testing.B) {
			var peak uint64
			var patch int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// Forget the patch so that each round makes it again.
				if err := bs.st.PutPatch(ctx, storeKey(key), manifest.Digest{}, 0); err != nil {
					b.Fatal(err)
				}
				m := &patchMaker{st: bs.st, enc: enc, ctx: ctx, c: c, files: map[manifest.Digest][]byte{}, whole: map[manifest.Digest]int64{}}
				runtime.GC()
				stop := heapInUse()
				b.StartTimer()
				if err := m.bundle(key); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				peak = max(peak, stop())
				p, err := bs.st.GetPatch(ctx, storeKey(key))
				if err != nil || p.Useless() {
					b.Fatalf("no patch made: %+v %v", p, err)
				}
				patch = p.Size
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(bs.ms["1.0.1"].TotalSize())/1e6, "old-MB")
			b.ReportMetric(float64(bs.ms["1.0.2"].TotalSize())/1e6, "new-MB")
			b.ReportMetric(float64(c.DeliverSize)/1e6, "delivered-MB")
			b.ReportMetric(float64(patch), "patch-B")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(perOp.Seconds(), "s/encode")
			if !haveRef {
				old, new := readRelease(b, bs, "1.0.1"), readRelease(b, bs, "1.0.2")
				ref, haveRef = runTool(b, "zstd", tarOf(old), tarOf(new), zstdPatchFrom)
			}
			if haveRef {
				b.ReportMetric(float64(ref.size), "cli-patch-B")
				b.ReportMetric(ref.wall.Seconds(), "cli-s")
				b.ReportMetric(float64(ref.rss)/(1<<20), "cli-rss-MiB")
				b.ReportMetric(perOp.Seconds()/ref.wall.Seconds(), "time-ratio")
				b.ReportMetric(float64(patch)/float64(ref.size), "size-ratio")
			}
			// The whole job of the pair, with every patch forgotten.
			for _, k := range wantedPatches(c, serverCodecs()) {
				if err := bs.st.PutPatch(ctx, storeKey(k), manifest.Digest{}, 0); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			stop := heapInUse()
			start := time.Now()
			m := &patchMaker{st: bs.st, enc: enc, ctx: ctx, c: c, files: map[manifest.Digest][]byte{}}
			if _, err := m.make(wantedPatches(c, serverCodecs())); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(time.Since(start).Seconds(), "job-s")
			b.ReportMetric(float64(stop())/(1<<20), "job-peak-heap-MiB")
		})
	}
}

func readRelease(tb testing.TB, bs *benchStore, v string) map[string][]byte {
	out := map[string][]byte{}
	for _, e := range bs.ms[v].Entries() {
		obj, err := bs.st.GetObject(context.Background(), e.Digest)
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Path] = obj.Raw
	}
	return out
}
