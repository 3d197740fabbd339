package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
)

// LoadOptions configure RunLoad.
type LoadOptions struct {
	// Server is an external server's base URL (its host must be a
	// loopback address); "" starts one in this process with a synthetic
	// app. An external server must serve App on a public channel.
	Server string
	App    string // the external server's app id
	// Devices is how many simulated devices take turns (default 1,000);
	// Concurrency how many requests are in flight (default 64).
	Devices, Concurrency int
	// Duration is the length of each phase (default 30s).
	Duration time.Duration
	// DownloadShare of checks are followed by the download they announce
	// (default 0.1).
	DownloadShare float64
	// MaxRequests bounds each phase (default 2,000,000).
	MaxRequests int64
	// NoNginx skips the nginx ceiling.
	NoNginx bool
	Logf    func(string, ...any)
}

// Phase is one load phase: one kind of request against one target.
type Phase struct {
	Target      string  `json:"target"` // patchwire or nginx
	Name        string  `json:"name"`   // capgo check, native check, object, static json
	Proto       string  `json:"proto"`  // HTTP/2 or HTTP/3
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Downloads   int64   `json:"downloads"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"per_second"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	Bytes       int64   `json:"bytes"`
	BytesPerSec float64 `json:"bytes_per_second"`
	// ServerCPU is the target's CPU seconds during the phase: for nginx
	// its processes; for an in-process patchwire this whole process (load
	// generator included, see LoadCPU).
	ServerCPU float64 `json:"server_cpu_s"`
	// LoadCPU is this process's CPU seconds during the phase.
	LoadCPU float64 `json:"load_cpu_s"`
	// PeakRSS is the target's peak resident memory (bytes) so far.
	PeakRSS int64 `json:"peak_rss"`
}

// Ratio compares patchwire with nginx on one kind of request.
type Ratio struct {
	What      string  `json:"what"`
	Patchwire float64 `json:"patchwire"`
	Nginx     float64 `json:"nginx"`
	Ratio     float64 `json:"ratio"`
	Target    float64 `json:"target"`
}

// LoadReport is the result of the load benchmark.
type LoadReport struct {
	Server        string   `json:"server"`
	Devices       int      `json:"devices"`
	Concurrency   int      `json:"concurrency"`
	Duration      float64  `json:"phase_seconds"`
	DownloadShare float64  `json:"download_share"`
	BundleBytes   int64    `json:"bundle_bytes"`
	Objects       int      `json:"objects"`
	Phases        []Phase  `json:"phases"`
	Ratios        []Ratio  `json:"ratios,omitempty"`
	Notes         []string `json:"notes,omitempty"`
}

// loadTarget is what the load phases talk to.
type loadTarget struct {
	base     string // https://127.0.0.1:PORT
	app      string
	from     *manifest.Manifest
	version  string // the version devices run
	objects  []string
	tls      *tls.Config
	inProc   bool
	pid      int // external server's pid when local, 0 if unknown
	certFile string
	keyFile  string
}

// RunLoad runs the load phases: Capgo and native checks over HTTPS and
// HTTP/3 (a share followed by their download), objects over HTTPS, and,
// unless NoNginx or nginx is missing, nginx serving the same objects and a
// static JSON answer as the ceiling.
func RunLoad(ctx context.Context, opt LoadOptions) (*LoadReport, error) {
	if opt.Devices <= 0 {
		opt.Devices = 1000
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 64
	}
	if opt.Duration <= 0 {
		opt.Duration = 30 * time.Second
	}
	if opt.DownloadShare < 0 || opt.DownloadShare > 1 {
		return nil, fmt.Errorf("bench: download share %v: want 0 to 1", opt.DownloadShare)
	}
	if opt.MaxRequests <= 0 {
		opt.MaxRequests = 2_000_000
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	work, err := os.MkdirTemp("", "patchwire-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	var tg loadTarget
	rep := &LoadReport{Devices: opt.Devices, Concurrency: opt.Concurrency, Duration: opt.Duration.Seconds(), DownloadShare: opt.DownloadShare}
	var files map[string][]byte
	if opt.Server == "" {
		srv, err := StartServer(ctx, filepath.Join(work, "server"), true)
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		v1, v2 := syntheticApp(1), syntheticApp(2)
		if err := srv.Publish(ctx, v1, "1.0.0"); err != nil {
			return nil, err
		}
		if err := srv.Publish(ctx, v2, "1.0.1"); err != nil {
			return nil, err
		}
		if _, err := srv.WaitPatches(ctx, v1.Manifest, v2.Manifest, time.Minute); err != nil {
			return nil, err
		}
		tg = loadTarget{base: srv.URL, app: benchApp, from: v1.Manifest, version: "1.0.0", tls: srv.TLS, inProc: true,
			certFile: srv.CAFile, keyFile: filepath.Join(srv.Dir, server.SelfSignedKeyFile)}
		for _, e := range v2.Manifest.Entries() {
			tg.objects = append(tg.objects, "/o/"+e.Digest.String())
		}
		files = v2.Files
		rep.BundleBytes, rep.Objects = v2.Size(), v2.Manifest.Len()
		rep.Server = "in-process (" + srv.URL + ")"
	} else {
		u, err := url.Parse(opt.Server)
		if err != nil || u.Scheme != "https" {
			return nil, fmt.Errorf("bench: --server %q: want https://127.0.0.1:PORT", opt.Server)
		}
		if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			return nil, fmt.Errorf("bench: --server %q: load is only sent to the loopback address", opt.Server)
		}
		if opt.App == "" {
			return nil, errors.New("bench: --server needs --app")
		}
		tg = loadTarget{base: strings.TrimRight(opt.Server, "/"), app: opt.App, from: &manifest.Manifest{}, version: "builtin",
			tls: &tls.Config{InsecureSkipVerify: true}, pid: localPID(u.Port())}
		rep.Server = tg.base
		rep.Notes = append(rep.Notes, "external server: devices run an unknown bundle; objects phase and nginx ceiling skipped")
		opt.NoNginx = true
	}

	h2 := httpsClient(tg.tls)
	h2.Transport.(*http.Transport).MaxIdleConnsPerHost = opt.Concurrency
	defer h2.CloseIdleConnections()
	h3t := &http3.Transport{TLSClientConfig: tg.tls, DisableCompression: true}
	defer h3t.Close()
	h3 := &http.Client{Transport: h3t, Timeout: 60 * time.Second}

	// The answer nginx will serve: a real Capgo answer for the same device.
	capgoAnswer, err := capgoCheck(ctx, h2, tg, 0, false)
	if err != nil {
		return nil, fmt.Errorf("bench: first Capgo check: %w", err)
	}

	run := func(target, name, proto string, fn func(ctx context.Context, i int64, rnd *rand.Rand) (int64, bool, error)) {
		opt.Logf("load: %s %s over %s for %s", target, name, proto, opt.Duration)
		p := runPhase(ctx, opt, fn)
		p.Target, p.Name, p.Proto = target, name, proto
		rep.Phases = append(rep.Phases, p)
		opt.Logf("  %.0f/s, p50 %.2f ms, p99 %.2f ms, %d errors, %.1f MB/s", p.PerSecond, p.P50ms, p.P99ms, p.Errors, p.BytesPerSec/1e6)
	}
	measure := func(target string, pidOf func() []int, fn func(ctx context.Context, i int64, rnd *rand.Rand) (int64, bool, error), name, proto string) {
		cpu0, self0 := cpuOf(pidOf()), selfCPU()
		run(target, name, proto, fn)
		p := &rep.Phases[len(rep.Phases)-1]
		p.LoadCPU = selfCPU() - self0
		if pids := pidOf(); pids != nil {
			p.ServerCPU, p.PeakRSS = cpuOf(pids)-cpu0, rssOf(pids)
		} else if tg.inProc {
			p.ServerCPU, p.PeakRSS = p.LoadCPU, maxRSS()
		}
	}
	pw := func() []int {
		if tg.pid > 0 {
			return []int{tg.pid}
		}
		return nil
	}
	for _, c := range []struct {
		proto string
		hc    *http.Client
	}{{"HTTP/2", h2}, {"HTTP/3", h3}} {
		hc := c.hc
		measure("patchwire", pw, func(ctx context.Context, i int64, rnd *rand.Rand) (int64, bool, error) {
			dl := rnd.Float64() < opt.DownloadShare
			n, err := capgoRequest(ctx, hc, tg, int(i%int64(opt.Devices)), dl)
			return n, dl, err
		}, "capgo check", c.proto)
		measure("patchwire", pw, func(ctx context.Context, i int64, rnd *rand.Rand) (int64, bool, error) {
			dl := rnd.Float64() < opt.DownloadShare
			n, err := nativeCheck(ctx, hc, tg, int(i%int64(opt.Devices)), dl)
			return n, dl, err
		}, "native check", c.proto)
		if len(tg.objects) > 0 {
			measure("patchwire", pw, func(ctx context.Context, i int64, _ *rand.Rand) (int64, bool, error) {
				n, err := get(ctx, hc, tg.base+tg.objects[i%int64(len(tg.objects))])
				return n, true, err
			}, "object", c.proto)
		}
	}

	if !opt.NoNginx {
		if err := runNginxPhases(ctx, opt, rep, tg, files, capgoAnswer, work, measure); err != nil {
			rep.Notes = append(rep.Notes, "nginx ceiling skipped: "+err.Error())
			opt.Logf("load: %v", err)
		}
	}
	rep.ratios()
	return rep, nil
}

// ratios fills Ratios from the HTTPS phases.
func (r *LoadReport) ratios() {
	find := func(target, name string) *Phase {
		for i := range r.Phases {
			if p := &r.Phases[i]; p.Target == target && p.Name == name && p.Proto == "HTTP/2" {
				return p
			}
		}
		return nil
	}
	add := func(what string, a, b *Phase, bytes bool, target float64) {
		if a == nil || b == nil {
			return
		}
		x, y := a.PerSecond, b.PerSecond
		if bytes {
			x, y = a.BytesPerSec, b.BytesPerSec
		}
		if y > 0 {
			r.Ratios = append(r.Ratios, Ratio{What: what, Patchwire: x, Nginx: y, Ratio: x / y, Target: target})
		}
	}
	js := find("nginx", "static json")
	add("Capgo checks/s vs nginx static JSON (HTTPS)", find("patchwire", "capgo check"), js, false, 0.5)
	add("native checks/s vs nginx static JSON (HTTPS)", find("patchwire", "native check"), js, false, 0.5)
	add("object bytes/s vs nginx static files (HTTPS)", find("patchwire", "object"), find("nginx", "object"), true, 0.8)
}

// runPhase runs fn on Concurrency workers until Duration or MaxRequests.
func runPhase(ctx context.Context, opt LoadOptions, fn func(ctx context.Context, i int64, rnd *rand.Rand) (int64, bool, error)) Phase {
	ctx, cancel := context.WithTimeout(ctx, opt.Duration)
	defer cancel()
	var next, errs, dls, total atomic.Int64
	lats := make([][]time.Duration, opt.Concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 42))
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > opt.MaxRequests {
					return
				}
				t := time.Now()
				n, dl, err := fn(ctx, i, rnd)
				if ctx.Err() != nil {
					return // cut by the end of the phase: not counted
				}
				lats[w] = append(lats[w], time.Since(t))
				total.Add(n)
				if err != nil {
					errs.Add(1)
				} else if dl {
					dls.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(q*float64(len(all))))].Microseconds()) / 1000
	}
	n := int64(len(all))
	return Phase{Requests: n, Errors: errs.Load(), Downloads: dls.Load(), Seconds: secs, PerSecond: float64(n) / secs,
		P50ms: pct(0.50), P95ms: pct(0.95), P99ms: pct(0.99), Bytes: total.Load(), BytesPerSec: float64(total.Load()) / secs}
}

// deviceID is simulated device i's id.
func deviceID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }

func capgoBody(tg loadTarget, i int) []byte {
	b, _ := json.Marshal(map[string]any{
		"platform": "android", "device_id": deviceID(i), "app_id": tg.app, "version_build": "1.0.0", "version_code": "1",
		"version_os": "14", "version_name": tg.version, "plugin_version": "7.0.0", "is_emulator": false, "is_prod": true, "defaultChannel": "",
	})
	return b
}

// capgoCheck makes a Capgo check and returns the answer body.
func capgoCheck(ctx context.Context, hc *http.Client, tg loadTarget, i int, _ bool) ([]byte, error) {
	body, err := post(ctx, hc, tg.base+"/updates", capgoBody(tg, i))
	if err != nil {
		return nil, err
	}
	var ans struct {
		URL   string `json:"url"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.URL == "" {
		return nil, fmt.Errorf("bench: Capgo answer without an update: %.200s", body)
	}
	return body, nil
}

// capgoRequest is one device's Capgo check, and the zip it names when dl.
func capgoRequest(ctx context.Context, hc *http.Client, tg loadTarget, i int, dl bool) (int64, error) {
	body, err := post(ctx, hc, tg.base+"/updates", capgoBody(tg, i))
	n := int64(len(body))
	if err != nil || !dl {
		return n, err
	}
	var ans struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.URL == "" {
		return n, fmt.Errorf("bench: Capgo answer without url")
	}
	m, err := get(ctx, hc, ans.URL)
	return n + m, err
}

// nativeCheck is one device's POST /v1/check, and the step's download
// when dl.
func nativeCheck(ctx context.Context, hc *http.Client, tg loadTarget, i int, dl bool) (int64, error) {
	var codecs []string
	for _, c := range delta.All() {
		codecs = append(codecs, c.Name())
	}
	req, _ := json.Marshal(api.CheckRequest{App: tg.app, DeviceID: deviceID(i), Platform: "android", NativeVersion: "1.0.0",
		Current: api.CurrentBundle{Version: "builtin", Manifest: tg.from.Digest()}, Codecs: codecs})
	body, err := post(ctx, hc, tg.base+api.PathCheck, req)
	n := int64(len(body))
	if err != nil || !dl {
		return n, err
	}
	var sc api.SignedCheck
	var ans api.CheckAnswer
	if err := sc.UnmarshalBinary(body); err != nil {
		return n, err
	}
	if err := ans.UnmarshalBinary(sc.Payload); err != nil || ans.Update == nil || ans.Update.Step == nil {
		return n, fmt.Errorf("bench: native answer without a step")
	}
	m, err := get(ctx, hc, tg.base+"/o/"+ans.Update.Step.Digest.String())
	return n + m, err
}

func post(ctx context.Context, hc *http.Client, u string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", u, resp.Status)
	}
	return b, err
}

func get(ctx context.Context, hc *http.Client, u string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", u, resp.Status)
	}
	return n, err
}

// selfCPU is this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// cpuOf sums utime+stime of pids from /proc.
func cpuOf(pids []int) float64 {
	var t float64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			k, _ := strconv.ParseFloat(f[12], 64)
			t += (u + k) / clockTicks
		}
	}
	return t
}

// rssOf sums the peak RSS of pids.
func rssOf(pids []int) int64 {
	var n int64
	for _, pid := range pids {
		n += vmHWM(fmt.Sprintf("/proc/%d/status", pid))
	}
	return n
}

// withChildren is pid and its children, from /proc.
func withChildren(pid int) []int {
	out := []int{pid}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

// localPID finds the process listening on TCP port (for an external local
// server), 0 when unknown.
func localPID(port string) int {
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0
	}
	hexPort := fmt.Sprintf(":%04X", p)
	var inode string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[1], hexPort) && f[3] == "0A" {
			inode = f[9]
		}
	}
	if inode == "" {
		return 0
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == "socket:["+inode+"]" {
				return pid
			}
		}
	}
	return 0
}

// Markdown writes the load tables.
func (r *LoadReport) Markdown(w io.Writer) {
	fmt.Fprintf(w, "## Load: checks and downloads per second\n\n")
	fmt.Fprintf(w, "Server %s; %d simulated devices, %d requests in flight, %.1f s per phase, %.0f%% of checks followed by their download "+
		"(Capgo: the zip; native: the plan's patches/objects); bundle %s MB in %d objects. All traffic on 127.0.0.1, load generator on the same machine. "+
		"CPU s: the target's; for the in-process server that is this whole process (load generator included).\n\n",
		r.Server, r.Devices, r.Concurrency, r.Duration, 100*r.DownloadShare, mb(r.BundleBytes), r.Objects)
	fmt.Fprintf(w, "| target | request | proto | req/s | p50 ms | p95 ms | p99 ms | errors | MB/s | CPU s | load-gen CPU s | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %d | %.1f | %.1f | %.1f | %s |\n", p.Target, p.Name, p.Proto, p.PerSecond,
			p.P50ms, p.P95ms, p.P99ms, p.Errors, p.BytesPerSec/1e6, p.ServerCPU, p.LoadCPU, mib(p.PeakRSS))
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintf(w, "\n| patchwire / nginx | patchwire | nginx | ratio | target |\n|---|---|---|---|---|\n")
		for _, x := range r.Ratios {
			fmt.Fprintf(w, "| %s | %.0f | %.0f | **%.2f** | ≥ %.1f |\n", x.What, x.Patchwire, x.Nginx, x.Ratio, x.Target)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	fmt.Fprintln(w)
}
