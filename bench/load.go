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
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
)

// LoadOptions configure RunLoad.
type LoadOptions struct {
	// Exe is the patchwire binary the server and the ceilings are started
	// from (`patchwire serve`, `patchwire bench ceiling`); "" is this
	// process's own executable.
	Exe string
	// Server is an external server's base URL; "" starts `patchwire
	// serve` in a child process on a temporary data dir and free
	// 127.0.0.1 ports. Its host must be a loopback address unless
	// AllowRemote.
	Server      string
	AllowRemote bool
	// CAFile is the external server's CA certificate ("" accepts any).
	CAFile string
	// AdminKey is the external server's admin API key, used to seed it
	// with App, two bundles and a public channel; NoSeed uses what App's
	// public channel already serves instead.
	AdminKey string
	NoSeed   bool
	App      string // default com.patchwire.bench
	// Devices is how many simulated devices take turns (default 1,000);
	// Concurrency how many requests are in flight (default 64).
	Devices, Concurrency int
	// Duration is the length of each phase (default 30s), or of the whole
	// long run.
	Duration time.Duration
	// DownloadShare of update checks are followed by the download they
	// announce (default 0: checks only; the download is not in the
	// check's latency). In a long run, the share of devices that run the
	// old bundle and download the update (default 0.01).
	DownloadShare float64
	// MaxRequests bounds each phase (default 2,000,000).
	MaxRequests int64
	// NoNginx skips the nginx ceiling, NoCeilings every ceiling.
	NoNginx, NoCeilings bool
	// NoHTTP3 skips the HTTP/3 phases against the server (in a long run,
	// every device checks over HTTP/2): for a server, or a load balancer
	// in front of one, that serves no HTTP/3.
	NoHTTP3 bool
	// NoHTTP1 skips the HTTP/1.1 object phases (against the server and
	// the ceilings), NoH2Load the object phases with h2load as the client
	// (ProtoH2Load; skipped with a note where h2load is not installed).
	NoHTTP1, NoH2Load bool
	// ShareCPUs runs the load generator on the same CPUs as its targets.
	// By default (on Linux, with 2 CPUs or more) the server, nginx and
	// the ceilings run on the first half of the CPUs this process may
	// use and the generator on the rest; an external Server is not moved
	// and should be started on the first half (taskset -c).
	ShareCPUs bool
	// Long runs the long-run mode instead of the phases: Devices each
	// checking once every Interval (default 1 min), spread with jitter.
	Long     bool
	Interval time.Duration
	// Stderr receives the children's standard error (default os.Stderr).
	Stderr io.Writer
	Logf   func(string, ...any)

	cpus cpuSplit // set by RunLoad from ShareCPUs
}

// The scenarios of a load phase.
const (
	ScenarioCapgoUpToDate  = "capgo up-to-date"
	ScenarioCapgoUpdate    = "capgo update"
	ScenarioNativeUpToDate = "native up-to-date"
	ScenarioNativeUpdate   = "native update"
	ScenarioObject         = "object"
	ScenarioCapgoJSON      = "capgo json"    // a ceiling's static Capgo answer
	ScenarioNativeAnswer   = "native answer" // a ceiling's static /v1/check answer
)

// The targets of a load phase.
const (
	TargetPatchwire = "patchwire"
	TargetNginx     = "nginx"
	TargetNetHTTP   = "net/http"
	TargetQUICGo    = "quic-go"
)

// Protocols of a load phase.
const (
	ProtoH1 = "HTTP/1.1" // objects only: how a pull CDN fetches from the origin
	ProtoH2 = "HTTP/2"
	ProtoH3 = "HTTP/3"
)

// Phase is one load phase: one scenario against one target.
type Phase struct {
	Scenario    string  `json:"scenario"`
	Target      string  `json:"target"`
	Proto       string  `json:"proto"`
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
	// ServerCPU is the target process's CPU seconds during the phase (-1:
	// unknown); LoadCPU the load generator's own (getrusage self).
	ServerCPU float64 `json:"server_cpu_s"`
	LoadCPU   float64 `json:"load_cpu_s"`
	// ServerPeakRSS is the target's peak resident bytes so far (VmHWM), or
	// its RSS at the end of the phase when only /metrics is known; -1
	// unknown.
	ServerPeakRSS int64 `json:"server_peak_rss"`
	// FirstError is one error's text, for the report.
	FirstError string `json:"first_error,omitempty"`
}

// Ratio compares a patchwire phase with the matching ceiling phase.
type Ratio struct {
	Scenario  string  `json:"scenario"`
	Proto     string  `json:"proto"`
	Ceiling   string  `json:"ceiling"` // e.g. "nginx capgo json"
	Unit      string  `json:"unit"`    // req/s or bytes/s
	Patchwire float64 `json:"patchwire"`
	Value     float64 `json:"ceiling_value"`
	Ratio     float64 `json:"ratio"`
	Target    float64 `json:"target"`
	P99ms     float64 `json:"p99_ms"`
}

// LoadReport is the result of the load benchmark.
type LoadReport struct {
	Mode        string  `json:"mode"` // phases or long
	Server      string  `json:"server"`
	ServerStats string  `json:"server_stats"` // where server figures come from: proc, metrics, unknown
	Devices     int     `json:"devices"`
	Concurrency int     `json:"concurrency"`
	Duration    float64 `json:"phase_seconds"`
	// Warmup is how long each target is loaded, unmeasured, before its
	// first phase over each protocol (see warmupOf).
	Warmup        float64 `json:"warmup_seconds"`
	DownloadShare float64 `json:"download_share"`
	BundleBytes   int64   `json:"bundle_bytes"`
	Objects       int     `json:"objects"`
	Phases        []Phase `json:"phases,omitempty"`
	Ratios        []Ratio `json:"ratios,omitempty"`
	// ServerIdle is the server process before the bench seeded it: the
	// child server just after its start (issue 9: idle RSS ≤ 64 MiB).
	ServerIdle ProcStats `json:"server_idle"`
	// ServerStart and ServerEnd are the server process after seeding and
	// at the end of the run.
	ServerStart ProcStats `json:"server_start"`
	ServerEnd   ProcStats `json:"server_end"`
	// LoadPeakRSS is the load generator's own peak RSS.
	LoadPeakRSS int64 `json:"load_peak_rss"`
	// CPUs says where the generator and its targets ran (cpuSplit).
	CPUs  string   `json:"cpus"`
	Long  *LongRun `json:"long,omitempty"`
	Notes []string `json:"notes,omitempty"`
}

// bundleRef is a bundle a simulated device runs.
type bundleRef struct {
	version string
	digest  manifest.Digest
}

// loadTarget is what the load phases talk to.
type loadTarget struct {
	base    string // https://HOST:PORT
	app     string
	old     bundleRef // devices running it get an update
	cur     bundleRef // what the channel serves: devices running it are up to date
	objects []string  // /o/ paths of cur's files
	tls     *tls.Config
	codecs  []string
	bodies  *checkBodies // nil: each check's body is encoded when sent
}

// checkBodies are every device's check bodies, encoded once before the
// phases, so that the load generator, which shares the machine's cores with
// the target, does not spend them on JSON while it measures (it was a tenth
// of its CPU). Index [protocol][0 old, 1 cur][device].
type checkBodies [2][2][][]byte

// The protocols of checkBodies, and their encoders.
const (
	bodyCapgo = iota
	bodyNative
)

var bodyEncoders = [2]func(tg loadTarget, i int, b bundleRef) []byte{bodyCapgo: encodeCapgoBody, bodyNative: encodeNativeBody}

// newCheckBodies encodes the bodies of tg's first n devices.
func newCheckBodies(tg loadTarget, n int) *checkBodies {
	var cb checkBodies
	for proto, encode := range bodyEncoders {
		for k, b := range []bundleRef{tg.old, tg.cur} {
			cb[proto][k] = make([][]byte, n)
			for i := range n {
				cb[proto][k][i] = encode(tg, i, b)
			}
		}
	}
	return &cb
}

// checkBody is device i's check body for proto running b: the one made
// beforehand, else encoded now.
func checkBody(tg loadTarget, proto, i int, b bundleRef) []byte {
	if cb := tg.bodies; cb != nil {
		k := -1
		switch b {
		case tg.old:
			k = 0
		case tg.cur:
			k = 1
		}
		if k >= 0 && i < len(cb[proto][k]) {
			return cb[proto][k][i]
		}
	}
	return bodyEncoders[proto](tg, i, b)
}

// loadGCPercent is the load generator's GOGC while it runs: its garbage
// collector is not what is measured, and at Go's default 100 marking took
// 15 % of the generator's CPU in the HTTP/3 check phases (quic-go's client
// allocates an 8 KB buffer per request body), while a generator short of
// CPU adds its own queueing to every latency it measures. The targets keep
// their own settings.
const loadGCPercent = 400

// warmupOf is the unmeasured load a target gets over a protocol before
// its first phase of phases lasting d: a fifth of d, at most a second.
// Without it the first phase also measures the fresh process and
// connection (caches filling, stacks and heap growing): in one of four
// runs the first phase's p99 was 11.0 ms, every later check's at most
// 9.2 ms.
func warmupOf(d time.Duration) time.Duration { return min(d/5, time.Second) }

// RunLoad runs the load benchmark: with Long the long run, else the
// phases (each scenario over HTTPS and HTTP/3 against the server, then
// the same requests against the ceilings: nginx with static files and a
// static Capgo answer, a bare net/http handler and a bare quic-go
// http3.Server answering the same bytes from memory, each in its own
// process).
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
	if opt.Long && opt.DownloadShare == 0 {
		opt.DownloadShare = 0.01
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Minute
	}
	if opt.MaxRequests <= 0 {
		opt.MaxRequests = 2_000_000
	}
	if opt.App == "" {
		opt.App = benchApp
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	if opt.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		opt.Exe = exe
	}
	if !opt.ShareCPUs {
		opt.cpus = splitCPUs()
	}
	restore, err := opt.cpus.pinSelf()
	if err != nil {
		return nil, fmt.Errorf("bench: keeping the load generator on %s: %w", cpuList(opt.cpus.load), err)
	}
	defer restore()
	defer debug.SetGCPercent(debug.SetGCPercent(loadGCPercent))
	work, err := os.MkdirTemp("", "patchwire-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	mode := "phases"
	if opt.Long {
		mode = "long"
	}
	rep := &LoadReport{Mode: mode, Devices: opt.Devices, Concurrency: opt.Concurrency, Duration: opt.Duration.Seconds(), DownloadShare: opt.DownloadShare,
		CPUs: opt.cpus.String()}
	if opt.cpus.pinned() && opt.Server != "" {
		rep.CPUs += " (the external server where it was started: start it with taskset -c to keep it on the first)"
	}
	tg, files, pr, stop, err := setupTarget(ctx, opt, work, rep)
	if err != nil {
		return nil, err
	}
	defer stop()
	rep.ServerStats = pr.source()

	h2, close2 := loadClient(ProtoH2, tg.tls, opt.Concurrency)
	defer close2()
	h3, close3 := loadClient(ProtoH3, tg.tls, opt.Concurrency)
	defer close3()
	pr.hc = h2
	rep.ServerStart = pr.read(ctx)

	if opt.Long {
		rep.Long, err = runLong(ctx, opt, tg, h2, h3, pr)
		if err != nil {
			return nil, err
		}
		rep.ServerEnd = rep.Long.End
		rep.LoadPeakRSS = maxRSS()
		return rep, nil
	}

	tg.bodies = newCheckBodies(tg, opt.Devices)
	// What the ceilings answer: the server's real answers to a device
	// that gets an update.
	capgoAnswer, err := post(ctx, h2, tg.base+"/updates", capgoBody(tg, 0, tg.old))
	if err != nil {
		return nil, fmt.Errorf("bench: first Capgo check: %w", err)
	}
	nativeAnswer, err := post(ctx, h2, tg.base+api.PathCheck, nativeBody(tg, 0, tg.old))
	if err != nil {
		return nil, fmt.Errorf("bench: first native check: %w", err)
	}

	warm, warmed := opt, map[string]bool{}
	warm.Duration = warmupOf(opt.Duration)
	rep.Warmup = warm.Duration.Seconds()
	measure := func(scenario, target, proto string, pr probe, fn reqFunc) {
		if key := target + " " + proto; !warmed[key] {
			warmed[key] = true
			opt.Logf("load: warming %s over %s for %s", target, proto, warm.Duration)
			runPhase(ctx, warm, fn)
		}
		opt.Logf("load: %s %s over %s for %s", target, scenario, proto, opt.Duration)
		s0, self0 := pr.read(ctx), selfCPU()
		p := runPhase(ctx, opt, fn)
		s1 := pr.read(ctx)
		p.Scenario, p.Target, p.Proto = scenario, target, proto
		p.LoadCPU = selfCPU() - self0
		addPhase(opt, rep, p, s0, s1)
	}

	for _, c := range []struct {
		proto string
		hc    *http.Client
	}{{ProtoH2, h2}, {ProtoH3, h3}} {
		if c.proto == ProtoH3 && opt.NoHTTP3 {
			continue
		}
		hc := c.hc
		measure(ScenarioCapgoUpToDate, TargetPatchwire, c.proto, pr, func(ctx context.Context, i int64, _ *rand.Rand) shot {
			return capgoRequest(ctx, hc, tg, int(i%int64(opt.Devices)), tg.cur, false)
		})
		measure(ScenarioCapgoUpdate, TargetPatchwire, c.proto, pr, func(ctx context.Context, i int64, rnd *rand.Rand) shot {
			return capgoRequest(ctx, hc, tg, int(i%int64(opt.Devices)), tg.old, rnd.Float64() < opt.DownloadShare)
		})
		measure(ScenarioNativeUpToDate, TargetPatchwire, c.proto, pr, func(ctx context.Context, i int64, _ *rand.Rand) shot {
			return nativeRequest(ctx, hc, tg, int(i%int64(opt.Devices)), tg.cur, false)
		})
		measure(ScenarioNativeUpdate, TargetPatchwire, c.proto, pr, func(ctx context.Context, i int64, rnd *rand.Rand) shot {
			return nativeRequest(ctx, hc, tg, int(i%int64(opt.Devices)), tg.old, rnd.Float64() < opt.DownloadShare)
		})
		if len(tg.objects) > 0 {
			measureObjects(measure, TargetPatchwire, c.proto, tg.base, hc, pr, tg)
		}
	}
	if objects := otherObjectPhases(ctx, opt, rep, measure, tg, tg.tls, work); objects != nil {
		objects(TargetPatchwire, tg.base, pr)
	}
	rep.ServerEnd = pr.read(ctx)

	if !opt.NoCeilings {
		if err := runCeilings(ctx, opt, rep, tg, files, capgoAnswer, nativeAnswer, work, measure); err != nil {
			return nil, err
		}
	}
	rep.LoadPeakRSS = maxRSS()
	rep.ratios()
	return rep, nil
}

// setupTarget starts and seeds the server (or reaches --server) and
// returns the target, the current bundle's files by digest (for the
// ceilings), the server's probe and what stops it.
func setupTarget(ctx context.Context, opt LoadOptions, work string, rep *LoadReport) (loadTarget, map[string][]byte, probe, func(), error) {
	tg := loadTarget{app: opt.App}
	for _, c := range delta.All() {
		tg.codecs = append(tg.codecs, c.Name())
	}
	stop := func() {}
	var pr probe
	var admin *client.Client
	if opt.Server == "" {
		cs, err := startChildServer(ctx, opt.cpus, opt.Exe, filepath.Join(work, "server"), opt.Stderr)
		if err != nil {
			return tg, nil, pr, stop, err
		}
		stop = func() { cs.Close() }
		tg.base = cs.url
		if tg.tls, err = client.TLSConfig(cs.certFile, false); err != nil {
			return tg, nil, pr, stop, err
		}
		pid := cs.pid()
		pr = probe{pids: func() []int { return []int{pid} }, metrics: cs.url + "/metrics"}
		if admin, err = client.New(client.Config{Server: cs.url, Key: cs.adminKey, CAFile: cs.certFile, Timeout: 10 * time.Minute}); err != nil {
			return tg, nil, pr, stop, err
		}
		rep.Server = fmt.Sprintf("`patchwire serve` child process (pid %d, %s)", pid, cs.url)
	} else {
		u, err := url.Parse(opt.Server)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return tg, nil, pr, stop, fmt.Errorf("bench: --server %q: want https://HOST:PORT", opt.Server)
		}
		loopback := u.Hostname() == "localhost"
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			loopback = true
		}
		if !loopback && !opt.AllowRemote {
			return tg, nil, pr, stop, fmt.Errorf("bench: --server %q is not a loopback address: load it only with --allow-remote", opt.Server)
		}
		tg.base = strings.TrimRight(opt.Server, "/")
		if tg.tls, err = client.TLSConfig(opt.CAFile, opt.CAFile == ""); err != nil {
			return tg, nil, pr, stop, err
		}
		pr = probe{metrics: tg.base + "/metrics"}
		if loopback {
			if pid := localPID(u.Port()); pid > 0 {
				pr.pids = func() []int { return []int{pid} }
			}
		}
		rep.Server = tg.base
		if !opt.NoSeed {
			if opt.AdminKey == "" {
				return tg, nil, pr, stop, errors.New("bench: --server needs an admin key (--admin-key or $PATCHWIRE_API_KEY) to seed it, or --no-seed")
			}
			if admin, err = client.New(client.Config{Server: tg.base, Key: opt.AdminKey, CAFile: opt.CAFile, Insecure: opt.CAFile == "", Timeout: 10 * time.Minute}); err != nil {
				return tg, nil, pr, stop, err
			}
		}
	}
	hc := httpsClient(tg.tls)
	defer hc.CloseIdleConnections()
	var files map[string][]byte
	idle := pr
	idle.hc = hc
	rep.ServerIdle = idle.read(ctx)
	if admin != nil {
		defer admin.Close()
		v1, v2 := syntheticApp(1), syntheticApp(2)
		opt.Logf("load: seeding %s with %s and %s on channel %s", opt.App, v1.Name, v2.Name, benchChannel)
		if err := seed(ctx, admin, opt.App, v1, v2); err != nil {
			return tg, nil, pr, stop, err
		}
		tg.old = bundleRef{v1.Name, v1.Manifest.Digest()}
		tg.cur = bundleRef{v2.Name, v2.Manifest.Digest()}
		files = map[string][]byte{}
		for _, e := range v2.Manifest.Entries() {
			tg.objects = append(tg.objects, "/o/"+e.Digest.String())
			files[e.Digest.String()] = v2.Files[e.Path]
		}
		rep.BundleBytes, rep.Objects = v2.Size(), v2.Manifest.Len()
		if err := waitServed(ctx, hc, tg, time.Minute); err != nil {
			return tg, nil, pr, stop, err
		}
		return tg, files, pr, stop, nil
	}
	// --no-seed: what the public channel serves to a device on its
	// built-in bundle.
	tg.old = bundleRef{"builtin", (&manifest.Manifest{}).Digest()}
	ans, _, err := nativeAnswerOf(ctx, hc, tg, 0, tg.old)
	if err != nil {
		return tg, nil, pr, stop, err
	}
	if ans.Update == nil {
		return tg, nil, pr, stop, fmt.Errorf("bench: %s serves no update of %s to a new device: %+v", tg.base, tg.app, ans.NoUpdate)
	}
	tg.cur = bundleRef{ans.Update.Target.Version, ans.Update.Target.Manifest}
	mb, err := getBytes(ctx, hc, tg.base+"/m/"+tg.cur.digest.String())
	if err != nil {
		return tg, nil, pr, stop, err
	}
	m, err := manifest.Decode(mb, manifest.DefaultLimits())
	if err != nil {
		return tg, nil, pr, stop, fmt.Errorf("bench: manifest of %s: %w", tg.cur.version, err)
	}
	files = map[string][]byte{}
	for _, e := range m.Entries() {
		p := "/o/" + e.Digest.String()
		if _, ok := files[e.Digest.String()]; ok {
			continue
		}
		b, err := getBytes(ctx, hc, tg.base+p)
		if err != nil {
			return tg, nil, pr, stop, err
		}
		tg.objects = append(tg.objects, p)
		files[e.Digest.String()] = b
		rep.BundleBytes += int64(len(b))
	}
	rep.Objects = m.Len()
	rep.Notes = append(rep.Notes, fmt.Sprintf("--no-seed: devices run the built-in bundle (update) or %s (up to date), as served by %s's public channel", tg.cur.version, tg.app))
	return tg, files, pr, stop, nil
}

// seed creates app (if new) with v1 and v2 and points the public channel
// at v2; what exists already is kept.
func seed(ctx context.Context, admin *client.Client, app string, v1, v2 *Version) error {
	exists := func(err error) bool {
		var ae *client.APIError
		return errors.As(err, &ae) && ae.Status == http.StatusConflict
	}
	if _, err := admin.CreateApp(ctx, app); err != nil && !exists(err) {
		return fmt.Errorf("bench: create app %s: %w", app, err)
	}
	for _, v := range []*Version{v1, v2} {
		if _, err := admin.Upload(ctx, memSource{v}, client.UploadOptions{App: app, Version: v.Name}); err != nil && !exists(err) {
			return fmt.Errorf("bench: upload %s: %w", v.Name, err)
		}
	}
	return setChannel(ctx, admin, app, v2.Name)
}

// waitServed waits until devices on tg.old are offered tg.cur by both
// protocols, the native one with a step.
func waitServed(ctx context.Context, hc *http.Client, tg loadTarget, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ans, _, err := nativeAnswerOf(ctx, hc, tg, 0, tg.old)
		ok := err == nil && ans.Update != nil && ans.Update.Step != nil && ans.Update.Target.Version == tg.cur.version
		if ok {
			s := capgoRequest(ctx, hc, tg, 0, tg.old, false)
			ok, err = s.err == nil, s.err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s is not served after %s: %v", tg.cur.version, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// measureObjects runs the object phase against target at base over proto
// (hc speaks it): GETs of the bundle's objects in turn.
func measureObjects(measure measureFunc, target, proto, base string, hc *http.Client, pr probe, tg loadTarget) {
	measure(ScenarioObject, target, proto, pr, func(ctx context.Context, i int64, _ *rand.Rand) shot {
		n, err := get(ctx, hc, base+tg.objects[i%int64(len(tg.objects))])
		return shot{n: n, dl: true, err: err}
	})
}

// addPhase fills p's server figures from the target's stats before (s0)
// and after (s1) it, adds it to rep and logs it.
func addPhase(opt LoadOptions, rep *LoadReport, p Phase, s0, s1 ProcStats) {
	p.ServerCPU, p.ServerPeakRSS = -1, s1.PeakRSS
	if s0.CPU >= 0 && s1.CPU >= 0 {
		p.ServerCPU = s1.CPU - s0.CPU
	}
	if p.ServerPeakRSS < 0 {
		p.ServerPeakRSS = s1.RSS
	}
	rep.Phases = append(rep.Phases, p)
	opt.Logf("  %.0f/s, p50 %.2f ms, p99 %.2f ms, %d errors, %.1f MB/s, server CPU %.1f s, load CPU %.1f s", p.PerSecond, p.P50ms, p.P99ms, p.Errors,
		p.BytesPerSec/1e6, p.ServerCPU, p.LoadCPU)
	if p.FirstError != "" {
		opt.Logf("  first error: %s", p.FirstError)
	}
}

// otherObjectPhases returns what runs the object phases beside the Go
// client's HTTP/2 and HTTP/3 ones against a target at base: over HTTP/1.1
// (unless NoHTTP1) and with h2load (unless NoH2Load); nil when there are
// none.
func otherObjectPhases(ctx context.Context, opt LoadOptions, rep *LoadReport, measure measureFunc, tg loadTarget, conf *tls.Config,
	work string) func(target, base string, pr probe) {
	if len(tg.objects) == 0 || opt.NoHTTP1 && opt.NoH2Load {
		return nil
	}
	return func(target, base string, pr probe) {
		if !opt.NoHTTP1 {
			h1 := https1Client(conf, opt.Concurrency)
			measureObjects(measure, target, ProtoH1, base, h1, pr, tg)
			h1.CloseIdleConnections()
		}
		if !opt.NoH2Load {
			measureObjectsH2load(ctx, opt, rep, target, base, pr, tg, work)
		}
	}
}

// ratios fills Ratios: every patchwire phase against the ceilings of its
// protocol (HTTP/2 and HTTP/1.1: nginx and net/http; HTTP/3: quic-go).
func (r *LoadReport) ratios() {
	find := func(scenario, target, proto string) *Phase {
		for i := range r.Phases {
			if p := &r.Phases[i]; p.Scenario == scenario && p.Target == target && p.Proto == proto {
				return p
			}
		}
		return nil
	}
	for _, p := range r.Phases {
		if p.Target != TargetPatchwire {
			continue
		}
		ceilings := []string{TargetQUICGo}
		if p.Proto == ProtoH2 || p.Proto == ProtoH1 || p.Proto == ProtoH2Load {
			ceilings = []string{TargetNginx, TargetNetHTTP}
		}
		for _, target := range ceilings {
			scen := ScenarioObject
			switch {
			case strings.HasPrefix(p.Scenario, "capgo"), strings.HasPrefix(p.Scenario, "native") && target == TargetNginx:
				scen = ScenarioCapgoJSON
			case strings.HasPrefix(p.Scenario, "native"):
				scen = ScenarioNativeAnswer
			}
			c := find(scen, target, p.Proto)
			if c == nil {
				continue
			}
			x := Ratio{Scenario: p.Scenario, Proto: p.Proto, Ceiling: target + " " + scen, Unit: "req/s", Patchwire: p.PerSecond, Value: c.PerSecond, Target: 0.5, P99ms: p.P99ms}
			if scen == ScenarioObject {
				x.Unit, x.Patchwire, x.Value, x.Target = "bytes/s", p.BytesPerSec, c.BytesPerSec, 0.8
			}
			if x.Value > 0 {
				x.Ratio = x.Patchwire / x.Value
				r.Ratios = append(r.Ratios, x)
			}
		}
	}
}

// shot is the outcome of one request of a phase: response bytes, the
// check's latency (0: the whole call's), whether it downloaded, error.
type shot struct {
	n   int64
	lat time.Duration
	dl  bool
	err error
}

// reqFunc makes request i of a phase.
type reqFunc func(ctx context.Context, i int64, rnd *rand.Rand) shot

// runPhase runs fn on Concurrency workers until Duration or MaxRequests.
func runPhase(ctx context.Context, opt LoadOptions, fn reqFunc) Phase {
	ctx, cancel := context.WithTimeout(ctx, opt.Duration)
	defer cancel()
	var next, errs, dls, total atomic.Int64
	var firstErr atomic.Value
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
				s := fn(ctx, i, rnd)
				if ctx.Err() != nil {
					return // cut by the end of the phase: not counted
				}
				if s.lat == 0 {
					s.lat = time.Since(t)
				}
				lats[w] = append(lats[w], s.lat)
				total.Add(s.n)
				if s.err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, s.err.Error())
				} else if s.dl {
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
	n := int64(len(all))
	p := Phase{Requests: n, Errors: errs.Load(), Downloads: dls.Load(), Seconds: secs, PerSecond: float64(n) / secs,
		Bytes: total.Load(), BytesPerSec: float64(total.Load()) / secs}
	p.P50ms, p.P95ms, p.P99ms = percentiles(all)
	if e, ok := firstErr.Load().(string); ok {
		p.FirstError = e
	}
	return p
}

// percentiles are the p50, p95 and p99 of lats in milliseconds (lats is
// sorted).
func percentiles(lats []time.Duration) (p50, p95, p99 float64) {
	slices.Sort(lats)
	pct := func(q float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[min(len(lats)-1, int(q*float64(len(lats))))].Microseconds()) / 1000
	}
	return pct(0.50), pct(0.95), pct(0.99)
}

// deviceID is simulated device i's id.
func deviceID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }

// capgoBody is device i's Capgo check running b.
func capgoBody(tg loadTarget, i int, b bundleRef) []byte { return checkBody(tg, bodyCapgo, i, b) }

// encodeCapgoBody encodes device i's Capgo check running b.
func encodeCapgoBody(tg loadTarget, i int, b bundleRef) []byte {
	body, _ := json.Marshal(map[string]any{
		"platform": "android", "device_id": deviceID(i), "app_id": tg.app, "version_build": "1.0.0", "version_code": "1",
		"version_os": "14", "version_name": b.version, "plugin_version": "7.0.0", "is_emulator": false, "is_prod": true, "defaultChannel": "",
	})
	return body
}

// capgoRequest is device i's Capgo check running b, and the zip it names
// when dl. A device on tg.cur must get no update, one on tg.old one.
func capgoRequest(ctx context.Context, hc *http.Client, tg loadTarget, i int, b bundleRef, dl bool) shot {
	t := time.Now()
	body, err := post(ctx, hc, tg.base+"/updates", capgoBody(tg, i, b))
	s := shot{n: int64(len(body)), lat: time.Since(t), err: err}
	if err != nil {
		return s
	}
	update := bytes.Contains(body, []byte(`"url"`))
	if want := b != tg.cur; update != want {
		s.err = fmt.Errorf("bench: Capgo check from %s: want update %v: %.200s", b.version, want, body)
		return s
	}
	if !dl || !update {
		return s
	}
	var ans struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.URL == "" {
		s.err = fmt.Errorf("bench: Capgo answer without url")
		return s
	}
	m, err := get(ctx, hc, ans.URL)
	s.n, s.dl, s.err = s.n+m, true, err
	return s
}

// nativeBody is device i's POST /v1/check running b.
func nativeBody(tg loadTarget, i int, b bundleRef) []byte { return checkBody(tg, bodyNative, i, b) }

// encodeNativeBody encodes device i's POST /v1/check running b.
func encodeNativeBody(tg loadTarget, i int, b bundleRef) []byte {
	req, _ := json.Marshal(api.CheckRequest{App: tg.app, DeviceID: deviceID(i), Platform: "android", NativeVersion: "1.0.0",
		Current: api.CurrentBundle{Version: b.version, Manifest: b.digest}, Codecs: tg.codecs})
	return req
}

// nativeAnswerOf makes device i's native check and decodes the answer
// (its signature is not checked: the load generator only counts).
func nativeAnswerOf(ctx context.Context, hc *http.Client, tg loadTarget, i int, b bundleRef) (*api.CheckAnswer, int64, error) {
	body, err := post(ctx, hc, tg.base+api.PathCheck, nativeBody(tg, i, b))
	if err != nil {
		return nil, int64(len(body)), err
	}
	var sc api.SignedCheck
	var ans api.CheckAnswer
	if err := sc.UnmarshalBinary(body); err != nil {
		return nil, int64(len(body)), err
	}
	if err := ans.UnmarshalBinary(sc.Payload); err != nil {
		return nil, int64(len(body)), err
	}
	return &ans, int64(len(body)), nil
}

// nativeRequest is device i's native check running b, and the step's
// download when dl. A device on tg.cur must get no update, one on tg.old
// one.
func nativeRequest(ctx context.Context, hc *http.Client, tg loadTarget, i int, b bundleRef, dl bool) shot {
	t := time.Now()
	ans, n, err := nativeAnswerOf(ctx, hc, tg, i, b)
	s := shot{n: n, lat: time.Since(t), err: err}
	if err != nil {
		return s
	}
	if want := b != tg.cur; (ans.Update != nil) != want {
		s.err = fmt.Errorf("bench: native check from %s: want update %v: %+v", b.version, want, ans.NoUpdate)
		return s
	}
	if !dl || ans.Update == nil || ans.Update.Step == nil {
		return s
	}
	m, err := get(ctx, hc, tg.base+"/o/"+ans.Update.Step.Digest.String())
	s.n, s.dl, s.err = s.n+m, true, err
	return s
}

// post POSTs body to u as JSON and returns the answer whole.
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

// get GETs u and counts its body's bytes, keeping none.
func get(ctx context.Context, hc *http.Client, u string) (n int64, err error) {
	err = fetch(ctx, hc, u, func(r io.Reader) (err error) {
		n, err = io.Copy(io.Discard, r)
		return err
	})
	return n, err
}

// getBytes GETs u whole.
func getBytes(ctx context.Context, hc *http.Client, u string) (b []byte, err error) {
	err = fetch(ctx, hc, u, func(r io.Reader) (err error) {
		b, err = io.ReadAll(r)
		return err
	})
	return b, err
}

// fetch GETs u and hands its body to read; a status other than 200 is an
// error once the body is read.
func fetch(ctx context.Context, hc *http.Client, u string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = read(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", u, resp.Status)
	}
	return err
}

// fmtMiB is n bytes in MiB, "?" when unknown (negative).
func fmtMiB(n int64) string {
	if n < 0 {
		return "?"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 0, 64)
}
