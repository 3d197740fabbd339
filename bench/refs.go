package bench

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/patchwire/patchwire/manifest"
)

// Tools says which reference tools are installed.
type Tools struct {
	Zstd    string `json:"zstd,omitempty"`   // path of zstd, "" when missing
	Bsdiff  string `json:"bsdiff,omitempty"` // path of bsdiff (bspatch beside it)
	bspatch string
}

// FindTools looks for zstd, bsdiff and bspatch on PATH.
func FindTools() Tools {
	var t Tools
	t.Zstd, _ = exec.LookPath("zstd")
	if b, err := exec.LookPath("bsdiff"); err == nil {
		if p, err := exec.LookPath("bspatch"); err == nil {
			t.Bsdiff, t.bspatch = b, p
		}
	}
	return t
}

// FullZip is the size of v as one zip: files in path order, deflate at
// best compression (zip -9), fixed times.
func FullZip(v *Version) (int64, error) {
	var buf countWriter
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for _, e := range v.Manifest.Entries() {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Path, Method: zip.Deflate})
		if err != nil {
			return 0, err
		}
		if _, err := w.Write(v.Files[e.Path]); err != nil {
			return 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return buf.n, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// brotliCache remembers Brotli sizes by file digest (the same file is in
// many pairs).
type brotliCache struct {
	mu sync.Mutex
	m  map[manifest.Digest]int64
}

// BrotliQuality is the quality of the file-level (Capgo-style) reference,
// brotli's command line default.
const BrotliQuality = 11

func (c *brotliCache) sizes(files map[manifest.Digest][]byte) map[manifest.Digest]int64 {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[manifest.Digest]int64{}
	}
	var todo []manifest.Digest
	for d := range files {
		if _, ok := c.m[d]; !ok {
			todo = append(todo, d)
		}
	}
	c.mu.Unlock()
	// Biggest first, on every core.
	sort.Slice(todo, func(i, j int) bool { return len(files[todo[i]]) > len(files[todo[j]]) })
	work := make(chan manifest.Digest)
	var wg sync.WaitGroup
	for range max(1, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				n := brotliSize(files[d])
				c.mu.Lock()
				c.m[d] = n
				c.mu.Unlock()
			}
		}()
	}
	for _, d := range todo {
		work <- d
	}
	close(work)
	wg.Wait()
	out := map[manifest.Digest]int64{}
	c.mu.Lock()
	for d := range files {
		out[d] = c.m[d]
	}
	c.mu.Unlock()
	return out
}

func brotliSize(b []byte) int64 {
	var cw countWriter
	w := brotli.NewWriterOptions(&cw, brotli.WriterOptions{Quality: BrotliQuality, LGWin: 22})
	w.Write(b)
	w.Close()
	return cw.n
}

// Changed lists the files of to whose bytes from lacks (changed paths and
// new paths), and how many of them are at a path from has.
func Changed(from, to *Version) (lacking []manifest.Entry, samePath int) {
	have := map[manifest.Digest]bool{}
	for _, e := range from.Manifest.Entries() {
		have[e.Digest] = true
	}
	for _, e := range to.Manifest.Entries() {
		if have[e.Digest] {
			continue
		}
		lacking = append(lacking, e)
		if _, ok := from.Manifest.Lookup(e.Path); ok {
			samePath++
		}
	}
	return lacking, samePath
}

// CapgoPartial is a file-level partial update as Capgo's plugin downloads
// it: every file of to whose bytes from lacks (Capgo reuses files by
// SHA-256), each compressed alone with Brotli.
func (c *brotliCache) CapgoPartial(from, to *Version) int64 {
	lacking, _ := Changed(from, to)
	files := map[manifest.Digest][]byte{}
	for _, e := range lacking {
		files[e.Digest] = to.Files[e.Path]
	}
	var n int64
	for _, s := range c.sizes(files) {
		n += s
	}
	return n
}

// toolRun is one run of an external encoder.
type toolRun struct {
	Bytes  int64
	Encode time.Duration
	MaxRSS int64 // bytes
}

// run runs name with args, returning its wall time and peak RSS. The
// peak is read from /proc/PID/status (VmHWM) while the tool runs: the
// rusage of a child of a Go process counts the parent's memory (the
// child shares it until exec).
func run(ctx context.Context, name string, args ...string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if n := vmHWM(status); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	d := time.Since(start)
	close(stop)
	<-polled
	if err != nil {
		return d, 0, fmt.Errorf("%s %v: %v: %s", filepath.Base(name), args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return d, peak.Load(), nil
}

// vmHWM reads the peak RSS (bytes) from a /proc/PID/status file, 0 when
// unreadable.
func vmHWM(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}

// ZstdPatch makes `zstd -19 --long=27 --patch-from=old new`, applies it
// back and compares. Inputs and outputs are files in dir.
func (t Tools) ZstdPatch(ctx context.Context, dir, old, new string) (toolRun, error) {
	p, back := filepath.Join(dir, "zstd.patch"), filepath.Join(dir, "zstd.out")
	defer os.Remove(p)
	defer os.Remove(back)
	d, rss, err := run(ctx, t.Zstd, "-q", "-f", "-19", "--long=27", "--patch-from="+old, new, "-o", p)
	if err != nil {
		return toolRun{}, err
	}
	if _, _, err := run(ctx, t.Zstd, "-q", "-f", "-d", "--long=27", "--patch-from="+old, p, "-o", back); err != nil {
		return toolRun{}, err
	}
	return finish(p, back, new, d, rss)
}

// BsdiffPatch makes `bsdiff old new patch`, applies it back with bspatch
// and compares.
func (t Tools) BsdiffPatch(ctx context.Context, dir, old, new string) (toolRun, error) {
	p, back := filepath.Join(dir, "bsdiff.patch"), filepath.Join(dir, "bsdiff.out")
	defer os.Remove(p)
	defer os.Remove(back)
	d, rss, err := run(ctx, t.Bsdiff, old, new, p)
	if err != nil {
		return toolRun{}, err
	}
	if _, _, err := run(ctx, t.bspatch, old, back, p); err != nil {
		return toolRun{}, err
	}
	return finish(p, back, new, d, rss)
}

func finish(patch, back, want string, d time.Duration, rss int64) (toolRun, error) {
	fi, err := os.Stat(patch)
	if err != nil {
		return toolRun{}, err
	}
	a, err := os.ReadFile(back)
	if err != nil {
		return toolRun{}, err
	}
	b, err := os.ReadFile(want)
	if err != nil {
		return toolRun{}, err
	}
	if !bytes.Equal(a, b) {
		return toolRun{}, fmt.Errorf("bench: patch %s does not apply back to %s", patch, want)
	}
	return toolRun{Bytes: fi.Size(), Encode: d, MaxRSS: rss}, nil
}

// WriteTar writes v as a deterministic tar: paths in order, mode 0644,
// owner 0, time 0.
func WriteTar(w io.Writer, v *Version) error {
	tw := tar.NewWriter(w)
	for _, e := range v.Manifest.Entries() {
		h := &tar.Header{Name: e.Path, Mode: 0o644, Size: e.Size, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if len(e.Path) < 100 {
			h.Format = tar.FormatUSTAR
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(v.Files[e.Path]); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeTarFile(name string, v *Version) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := WriteTar(f, v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// perFileBest is the best per-file reference: for each file to lacks, the
// smallest of its Brotli form and, when from has a file at the same path,
// the zstd and bsdiff patches from it.
func (t Tools) perFileBest(ctx context.Context, dir string, bc *brotliCache, from, to *Version) (int64, error) {
	lacking, _ := Changed(from, to)
	files := map[manifest.Digest][]byte{}
	for _, e := range lacking {
		files[e.Digest] = to.Files[e.Path]
	}
	br := bc.sizes(files)
	var total int64
	for _, e := range lacking {
		best := br[e.Digest]
		if old, ok := from.Manifest.Lookup(e.Path); ok && e.Size >= 64 && (t.Zstd != "" || t.Bsdiff != "") {
			o, n := filepath.Join(dir, "f.old"), filepath.Join(dir, "f.new")
			if err := os.WriteFile(o, from.Files[old.Path], 0o644); err != nil {
				return 0, err
			}
			if err := os.WriteFile(n, to.Files[e.Path], 0o644); err != nil {
				return 0, err
			}
			if t.Zstd != "" {
				r, err := t.ZstdPatch(ctx, dir, o, n)
				if err != nil {
					return 0, err
				}
				best = min(best, r.Bytes)
			}
			if t.Bsdiff != "" {
				r, err := t.BsdiffPatch(ctx, dir, o, n)
				if err != nil {
					return 0, err
				}
				best = min(best, r.Bytes)
			}
		}
		total += best
	}
	return total, nil
}
