package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"
)

// Pair is the measurement of one update, from → to. Byte counts of a
// strategy that was not measured (its tool is missing) are 0.
type Pair struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Skip        bool   `json:"skip"` // oldest → newest, not consecutive
	BundleBytes int64  `json:"bundle_bytes"`
	Files       int    `json:"files"`         // files of to
	Changed     int    `json:"files_changed"` // files of to whose bytes from lacks
	SamePath    int    `json:"files_same_path"`

	FullZip   int64 `json:"full_zip"`
	Capgo     int64 `json:"capgo_partial_br"`
	Patchwire int64 `json:"patchwire"`        // bytes the device received, check answer included
	Planned   int64 `json:"patchwire_plan"`   // bytes the step announced: the step and the objects it names
	Answer    int64 `json:"patchwire_answer"` // of Patchwire, the signed check answer
	ZstdTar   int64 `json:"zstd_tar,omitempty"`
	BsdiffTar int64 `json:"bsdiff_tar,omitempty"`
	PerFile   int64 `json:"per_file_best,omitempty"`
	// BestRef is the smallest reference (every strategy but patchwire);
	// Ratio is Patchwire / BestRef.
	BestRef int64   `json:"best_reference"`
	Ratio   float64 `json:"ratio"`

	Device DeviceRun `json:"device"`
	// PatchesReady: the server had made every patch it wants for the pair
	// before the device updated (else the plan used what existed).
	PatchesReady bool `json:"patches_ready"`
	// ServerPatchTime is the wall time from the publish (or the first
	// check, for skips) until the server had made those patches; it
	// includes patches for other bases scheduled by the same publish.
	ServerPatchTime time.Duration `json:"server_patch_ns"`
	ZstdEncode      time.Duration `json:"zstd_encode_ns,omitempty"`
	ZstdMaxRSS      int64         `json:"zstd_max_rss,omitempty"`
	BsdiffEncode    time.Duration `json:"bsdiff_encode_ns,omitempty"`
	BsdiffMaxRSS    int64         `json:"bsdiff_max_rss,omitempty"`
}

// SeriesResult is every pair of one series.
type SeriesResult struct {
	Name     string   `json:"name"`
	Versions []string `json:"versions"`
	Pairs    []Pair   `json:"pairs"`
	// MedianRatio is the median of Ratio over the consecutive pairs.
	MedianRatio float64 `json:"median_ratio"`
	// ServerMaxRSS is this process's peak RSS after the series: the
	// server (its patch encoders included, but not the zstd tool it may
	// run), the device and the references' Go parts share the process.
	ServerMaxRSS int64 `json:"process_max_rss"`
}

// BandwidthOptions configure RunBandwidth.
type BandwidthOptions struct {
	// Work is a scratch folder; default a temporary one.
	Work string
	// PatchTimeout bounds the wait for the server's patches per pair;
	// default 10 minutes.
	PatchTimeout time.Duration
	// Tools are the references; default FindTools().
	Tools *Tools
	// Logf receives progress lines; default none.
	Logf func(format string, args ...any)
}

// RunBandwidth measures every consecutive pair of s and oldest→newest.
func RunBandwidth(ctx context.Context, s *Series, opt BandwidthOptions) (*SeriesResult, error) {
	if len(s.Versions) < 2 {
		return nil, fmt.Errorf("bench: series %s has %d versions, want at least 2", s.Name, len(s.Versions))
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	if opt.PatchTimeout <= 0 {
		opt.PatchTimeout = 10 * time.Minute
	}
	tools := FindTools()
	if opt.Tools != nil {
		tools = *opt.Tools
	}
	work := opt.Work
	if work == "" {
		d, err := os.MkdirTemp("", "patchwire-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		work = d
	}
	srv, err := StartServer(ctx, filepath.Join(work, "server"), false)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	hc := httpsClient(srv.TLS)
	defer hc.CloseIdleConnections()

	res := &SeriesResult{Name: s.Name}
	for _, v := range s.Versions {
		res.Versions = append(res.Versions, v.Name)
	}
	// Versions are uploaded as 1.0.0, 1.0.1, …: the series' own names need
	// not be semver.
	uploaded := func(i int) string { return fmt.Sprintf("1.0.%d", i) }
	bc := &brotliCache{}
	tars := filepath.Join(work, "tars")
	if err := os.MkdirAll(tars, 0o755); err != nil {
		return nil, err
	}
	tarOf := func(i int) string { return filepath.Join(tars, fmt.Sprintf("%d.tar", i)) }
	for i, v := range s.Versions {
		if err := writeTarFile(tarOf(i), v); err != nil {
			return nil, err
		}
	}

	measure := func(i, j int, published time.Time) (Pair, error) {
		from, to := s.Versions[i], s.Versions[j]
		p := Pair{From: from.Name, To: to.Name, Skip: j != i+1, BundleBytes: to.Size(), Files: to.Manifest.Len()}
		lacking, same := Changed(from, to)
		p.Changed, p.SamePath = len(lacking), same
		// Ask once, so the server schedules the pair if the publish did not.
		if _, err := srv.Check(ctx, hc, "00000000-0000-4000-8000-0000000be9c4", from.Manifest); err != nil {
			return p, err
		}
		ok, err := srv.WaitPatches(ctx, from.Manifest, to.Manifest, opt.PatchTimeout)
		if err != nil {
			return p, err
		}
		p.PatchesReady, p.ServerPatchTime = ok, time.Since(published)
		if !ok {
			opt.Logf("  %s→%s: patches not all made after %s; the plan uses what exists", from.Name, to.Name, opt.PatchTimeout)
		}
		if p.Device, err = srv.DeviceUpdate(ctx, filepath.Join(work, "device"), from, to); err != nil {
			return p, err
		}
		p.Patchwire, p.Planned, p.Answer = p.Device.Downloaded, p.Device.Planned, p.Device.Answer
		if p.FullZip, err = FullZip(to); err != nil {
			return p, err
		}
		p.Capgo = bc.CapgoPartial(from, to)
		if tools.Zstd != "" {
			r, err := tools.ZstdPatch(ctx, work, tarOf(i), tarOf(j))
			if err != nil {
				return p, err
			}
			p.ZstdTar, p.ZstdEncode, p.ZstdMaxRSS = r.Bytes, r.Encode, r.MaxRSS
		}
		if tools.Bsdiff != "" {
			r, err := tools.BsdiffPatch(ctx, work, tarOf(i), tarOf(j))
			if err != nil {
				return p, err
			}
			p.BsdiffTar, p.BsdiffEncode, p.BsdiffMaxRSS = r.Bytes, r.Encode, r.MaxRSS
		}
		if p.PerFile, err = tools.perFileBest(ctx, work, bc, from, to); err != nil {
			return p, err
		}
		p.BestRef = p.FullZip
		for _, n := range []int64{p.Capgo, p.ZstdTar, p.BsdiffTar, p.PerFile} {
			if n > 0 && n < p.BestRef {
				p.BestRef = n
			}
		}
		if p.BestRef > 0 {
			p.Ratio = float64(p.Patchwire) / float64(p.BestRef)
		}
		opt.Logf("  %s→%s: %d files lacking of %d; zip %d, capgo %d, patchwire %d (plan %d), zstd %d, bsdiff %d, per-file %d: ×%.2f of best",
			from.Name, to.Name, p.Changed, p.Files, p.FullZip, p.Capgo, p.Patchwire, p.Planned, p.ZstdTar, p.BsdiffTar, p.PerFile, p.Ratio)
		return p, nil
	}

	opt.Logf("series %s: %d versions", s.Name, len(s.Versions))
	if err := srv.Publish(ctx, s.Versions[0], uploaded(0)); err != nil {
		return nil, err
	}
	for j := 1; j < len(s.Versions); j++ {
		t := time.Now()
		if err := srv.Publish(ctx, s.Versions[j], uploaded(j)); err != nil {
			return nil, err
		}
		p, err := measure(j-1, j, t)
		if err != nil {
			return nil, err
		}
		res.Pairs = append(res.Pairs, p)
	}
	if len(s.Versions) > 2 {
		p, err := measure(0, len(s.Versions)-1, time.Now())
		if err != nil {
			return nil, err
		}
		res.Pairs = append(res.Pairs, p)
	}
	res.MedianRatio = medianRatio(res.Pairs)
	res.ServerMaxRSS = maxRSS()
	return res, nil
}

// medianRatio is the median Ratio of the consecutive pairs.
func medianRatio(ps []Pair) float64 {
	var rs []float64
	for _, p := range ps {
		if !p.Skip && p.Ratio > 0 {
			rs = append(rs, p.Ratio)
		}
	}
	return median(rs)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// maxRSS is this process's peak resident set size in bytes.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
