package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/client"
)

var (
	buildOnce sync.Once
	builtExe  string
	buildErr  error
)

// patchwireExe builds cmd/patchwire once for the package's tests: the load
// benchmark starts the server and the ceilings from it.
func patchwireExe(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the patchwire binary and runs a child server")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "patchwire-bench-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtExe = filepath.Join(dir, "patchwire")
		out, err := exec.Command("go", "build", "-o", builtExe, "../cmd/patchwire").CombinedOutput()
		if err != nil {
			t.Logf("go build: %s", out)
			buildErr = err
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtExe
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtExe != "" {
		os.RemoveAll(filepath.Dir(builtExe))
	}
	os.Exit(code)
}

// noNginx says whether the nginx ceiling must be skipped, and says so.
func noNginx(t *testing.T) bool {
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Log("nginx is not installed: the nginx ceiling is skipped (Debian: nginx-light)")
		return true
	}
	return false
}

// TestRunLoad runs every load phase for a second against a `patchwire
// serve` child process and the ceilings (nginx when installed).
func TestRunLoad(t *testing.T) {
	exe := patchwireExe(t)
	skipNginx := noNginx(t)
	rep, err := RunLoad(context.Background(), LoadOptions{Exe: exe, Devices: 20, Concurrency: 8, Duration: time.Second, DownloadShare: 0.2,
		NoNginx: skipNginx, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if splitCPUs().pinned() && !strings.Contains(rep.CPUs, "run on CPU") {
		t.Errorf("the generator and its targets should have run apart: %q", rep.CPUs)
	}
	want := map[string]bool{}
	for _, proto := range []string{ProtoH2, ProtoH3} {
		for _, s := range []string{ScenarioCapgoUpToDate, ScenarioCapgoUpdate, ScenarioNativeUpToDate, ScenarioNativeUpdate, ScenarioObject} {
			want[TargetPatchwire+" "+s+" "+proto] = true
		}
	}
	for _, s := range []string{ScenarioCapgoJSON, ScenarioNativeAnswer, ScenarioObject} {
		want[TargetNetHTTP+" "+s+" "+ProtoH2] = true
		want[TargetQUICGo+" "+s+" "+ProtoH3] = true
	}
	objectProtos := []string{ProtoH1}
	if _, err := exec.LookPath("h2load"); err == nil {
		objectProtos = append(objectProtos, ProtoH2Load)
	} else {
		t.Log("h2load is not installed: its object phases are skipped (Debian: nghttp2-client)")
	}
	for _, proto := range objectProtos {
		want[TargetPatchwire+" "+ScenarioObject+" "+proto] = true
		want[TargetNetHTTP+" "+ScenarioObject+" "+proto] = true
		if !skipNginx {
			want[TargetNginx+" "+ScenarioObject+" "+proto] = true
		}
	}
	if !skipNginx {
		want[TargetNginx+" "+ScenarioCapgoJSON+" "+ProtoH2] = true
		want[TargetNginx+" "+ScenarioObject+" "+ProtoH2] = true
	}
	for _, p := range rep.Phases {
		k := p.Target + " " + p.Scenario + " " + p.Proto
		if !want[k] {
			t.Errorf("unexpected phase %s", k)
		}
		delete(want, k)
		if p.Requests == 0 || p.Errors != 0 || p.Bytes == 0 {
			t.Errorf("%s: %+v", k, p)
		}
		if p.ServerCPU <= 0 || p.ServerPeakRSS <= 0 || p.LoadCPU <= 0 {
			t.Errorf("%s: server CPU %v s, peak RSS %d, load CPU %v s", k, p.ServerCPU, p.ServerPeakRSS, p.LoadCPU)
		}
		if p.Target == TargetPatchwire && strings.HasSuffix(p.Scenario, "update") && p.Downloads == 0 {
			t.Errorf("%s: no downloads", k)
		}
	}
	for k := range want {
		t.Errorf("no phase %s", k)
	}
	ceilings := map[string]bool{}
	for _, r := range rep.Ratios {
		ceilings[strings.Fields(r.Ceiling)[0]] = true
		if r.Ratio <= 0 {
			t.Errorf("ratio %+v", r)
		}
	}
	if !ceilings[TargetNetHTTP] || !ceilings[TargetQUICGo] || ceilings[TargetNginx] == skipNginx {
		t.Errorf("ratios against %v", ceilings)
	}
	if rep.ServerStart.Goroutines <= 0 || rep.ServerEnd.FDs <= 0 || rep.ServerEnd.PeakRSS <= 0 {
		t.Errorf("server start %+v, end %+v", rep.ServerStart, rep.ServerEnd)
	}
	if rep.ServerIdle.RSS <= 0 || rep.ServerIdle.RSS > rep.ServerStart.PeakRSS {
		t.Errorf("server before seeding %+v, after %+v", rep.ServerIdle, rep.ServerStart)
	}
	var b strings.Builder
	rep.Markdown(&b)
	t.Logf("\n%s", b.String())
}

// TestLongRun runs the long-run mode for two seconds: every device checks
// a few times, every device behind downloads the update once.
func TestLongRun(t *testing.T) {
	exe := patchwireExe(t)
	rep, err := RunLoad(context.Background(), LoadOptions{Exe: exe, Long: true, Devices: 200, Concurrency: 16, Interval: 500 * time.Millisecond,
		Duration: 2 * time.Second, DownloadShare: 0.05, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Long
	if l == nil || l.Errors != 0 || l.Checks < 600 || l.Downloads != 10 || l.Updates < 10 {
		t.Fatalf("long run: %+v", l)
	}
	if l.Start.Goroutines <= 0 || l.End.Goroutines <= 0 || l.Start.FDs <= 0 || l.End.FDs <= 0 || l.End.RSS <= 0 || len(l.Samples) < 2 {
		t.Errorf("server figures: start %+v, end %+v, %d samples", l.Start, l.End, len(l.Samples))
	}
	var b strings.Builder
	rep.Markdown(&b)
	t.Logf("\n%s", b.String())
}

// TestBenchLoadCommand runs `patchwire bench load` itself (short phases,
// no ceilings) and reads the JSON it writes.
func TestBenchLoadCommand(t *testing.T) {
	exe := patchwireExe(t)
	out := t.TempDir()
	cmd := exec.Command(exe, "bench", "load", "--duration", "300ms", "--concurrency", "4", "--devices", "10", "--no-ceilings", "--no-h2load", "--out", out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !strings.Contains(string(b), "| capgo up-to-date | patchwire | HTTP/2 |") {
		t.Errorf("no table in the output:\n%s", b)
	}
	js, err := os.ReadFile(filepath.Join(out, "load.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(js, &r); err != nil || r.Load == nil || len(r.Load.Phases) != 11 { // 10, and objects over HTTP/1.1
		t.Fatalf("load.json: %v, %+v", err, r.Load)
	}
}

func TestLoadRefusesRemote(t *testing.T) {
	if _, err := RunLoad(context.Background(), LoadOptions{Server: "https://example.com", App: "a.b"}); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("a remote server was accepted: %v", err)
	}
}

// TestLoadExternalServer drives a server it did not start (--server):
// seeded with the admin key, then with --no-seed, and reads the server's
// figures from /metrics as for a remote one.
func TestLoadExternalServer(t *testing.T) {
	exe := patchwireExe(t)
	ctx := context.Background()
	cs, err := startChildServer(ctx, cpuSplit{}, exe, filepath.Join(t.TempDir(), "server"), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for _, opt := range []LoadOptions{
		{Server: cs.url, AdminKey: cs.adminKey, CAFile: cs.certFile},
		{Server: cs.url, NoSeed: true},                               // after the first run's seeding
		{Server: cs.url, NoSeed: true, NoHTTP3: true, NoHTTP1: true}, // HTTP/2 phases only
	} {
		opt.Exe, opt.Devices, opt.Concurrency, opt.Duration, opt.NoCeilings, opt.Logf = exe, 10, 4, 300*time.Millisecond, true, t.Logf
		opt.NoH2Load = true // TestRunLoad has it
		rep, err := RunLoad(ctx, opt)
		if err != nil {
			t.Fatalf("%+v: %v", opt, err)
		}
		want := 11 // 5 scenarios over HTTP/2 and HTTP/3, objects over HTTP/1.1
		if opt.NoHTTP3 {
			want = 5
		}
		if len(rep.Phases) != want || rep.ServerStats != "proc" {
			t.Fatalf("%d phases, server figures from %s", len(rep.Phases), rep.ServerStats)
		}
		for _, p := range rep.Phases {
			if p.Requests == 0 || p.Errors != 0 || p.ServerCPU < 0 || (opt.NoHTTP3 && p.Proto != ProtoH2) {
				t.Errorf("no-seed %v: %s %s %s: %+v", opt.NoSeed, p.Target, p.Scenario, p.Proto, p)
			}
		}
	}
	tc, err := client.TLSConfig(cs.certFile, false)
	if err != nil {
		t.Fatal(err)
	}
	hc := httpsClient(tc)
	s := probe{metrics: cs.url + "/metrics", hc: hc}.read(ctx)
	if s.CPU <= 0 || s.RSS <= 0 || s.FDs <= 0 || s.Goroutines <= 0 || s.PeakRSS != -1 {
		t.Errorf("from /metrics: %+v", s)
	}
}

// TestCheckBodies: the bodies made beforehand are the ones a check would
// encode when sent, and a device or bundle outside them is encoded then.
func TestCheckBodies(t *testing.T) {
	tg := loadTarget{app: "com.example.app", codecs: []string{"zstd"},
		old: bundleRef{version: "1.0.0"}, cur: bundleRef{version: "1.0.1"}}
	tg.old.digest[0], tg.cur.digest[0] = 1, 2
	tg.bodies = newCheckBodies(tg, 3)
	// marked: the same table with every body replaced by a marker, to see
	// which checks take theirs from it.
	marked := tg
	marked.bodies = newCheckBodies(tg, 3)
	for proto := range marked.bodies {
		for k := range marked.bodies[proto] {
			for i := range marked.bodies[proto][k] {
				marked.bodies[proto][k][i] = []byte("made")
			}
		}
	}
	other := bundleRef{version: "0.9.0"}
	cases := []struct {
		name   string
		device int
		b      bundleRef
		made   bool
	}{
		{"old bundle", 0, tg.old, true},
		{"current bundle", 2, tg.cur, true},
		{"device past those made", 3, tg.cur, false},
		{"another bundle", 1, other, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range []struct {
				proto        int
				body, encode func(loadTarget, int, bundleRef) []byte
			}{{bodyCapgo, capgoBody, encodeCapgoBody}, {bodyNative, nativeBody, encodeNativeBody}} {
				if made := string(checkBody(marked, p.proto, c.device, c.b)) == "made"; made != c.made {
					t.Fatalf("protocol %d: made beforehand %v, want %v", p.proto, made, c.made)
				}
				if got, want := p.body(tg, c.device, c.b), p.encode(tg, c.device, c.b); string(got) != string(want) {
					t.Fatalf("protocol %d: body %s, want %s", p.proto, got, want)
				}
			}
		})
	}
}
