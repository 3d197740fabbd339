package device_test

// End-to-end tests against the real patchwire server (servertest: real
// store, HTTPS on TCP and HTTP/3 on UDP): bundles uploaded with package
// client, channels set through the store, check answers signed by the
// server's key, objects and patches served by the server.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/step"
)

// realEnv is a running patchwire server with testApp on it.
type realEnv struct {
	*servertest.Env
	t     *testing.T
	admin *client.Client
	pub   ed25519.PublicKey
}

func startReal(t *testing.T, opts ...servertest.Option) *realEnv {
	t.Helper()
	env := servertest.Start(t, opts...)
	admin := env.Client(env.AdminKey, false)
	if _, err := admin.CreateApp(context.Background(), testApp); err != nil {
		t.Fatal(err)
	}
	// The public key as `patchwire key signing --public` prints it.
	pub, err := checksig.ParsePublicKey(checksig.PublicKeyBase64(env.Server.SigningPublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	return &realEnv{Env: env, t: t, admin: admin, pub: pub}
}

// upload sends b as a version of testApp with the client package.
func (e *realEnv) upload(b *bundle) {
	e.t.Helper()
	src, err := manifest.OpenDir(context.Background(), b.writeDir(e.t, e.t.TempDir()), manifest.DefaultLimits())
	if err != nil {
		e.t.Fatal(err)
	}
	defer src.Close()
	if _, err := e.admin.Upload(context.Background(), src, client.UploadOptions{App: testApp, Version: b.version}); err != nil {
		e.t.Fatalf("upload %s: %v", b.version, err)
	}
}

// serve makes the public channel serve version.
func (e *realEnv) serve(version string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.Store.GetChannel(ctx, testApp, testChannel); err == nil {
		if _, err := e.Store.SetChannelBundle(ctx, testApp, testChannel, version); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	_, err := e.Store.CreateChannel(ctx, api.Channel{
		App: testApp, Name: testChannel, Bundle: version, Public: true, IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true, Policy: "none", AllowUnderNative: true,
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// config is a device configuration for this server.
func (e *realEnv) config() device.Config {
	return device.Config{
		Server: e.URL, App: testApp, Platform: "android", NativeVersion: "1.0.0",
		PublicKeys: []ed25519.PublicKey{e.pub}, TLS: e.TLSConfig(), RetryDelay: 10 * time.Millisecond,
	}
}

// warm asks the server for the step from `from` until it carries its
// patches (the server answers with a draft step of whole objects until
// the patches are made in the background after a publish or the first
// check that needs them), so that the device's update gets them: until the
// step and the objects it names come to at most target's size/ratio bytes,
// or a step with a patch stops shrinking for two seconds (a draft step
// does not shrink until it is replaced: it is waited for up to 30s).
func (e *realEnv) warm(from *bundle, version string, target *bundle, ratio int64) {
	e.t.Helper()
	hc := e.HTTPSClient()
	req := api.CheckRequest{
		App: testApp, DeviceID: "00000000-0000-4000-8000-00000000beef", Platform: "android", NativeVersion: "1.0.0",
		Current: api.CurrentBundle{Version: version, Manifest: from.m.Digest()}, Codecs: []string{"zstd-dict", "bsdiff"},
	}
	body, _ := json.Marshal(req)
	last, since := int64(-1), time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := hc.Post(e.URL+api.PathCheck, "application/json", bytes.NewReader(body))
		if err != nil {
			e.t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		ans, err := device.VerifyCheck(b, []ed25519.PublicKey{e.pub}, req.Subject())
		if err != nil {
			e.t.Fatal(err)
		}
		if ans.Update == nil || ans.Update.Step == nil {
			e.t.Fatalf("warm: no step: %+v", ans.NoUpdate)
		}
		objects, patched := e.stepObjects(from, *ans.Update.Step)
		n := ans.Update.Step.Size + objects
		if n <= target.m.TotalSize()/ratio {
			return
		}
		if n != last {
			last, since = n, time.Now()
		} else if patched && time.Since(since) > 2*time.Second {
			e.t.Logf("warm: the step still downloads %d bytes of %d", n, target.m.TotalSize())
			return
		}
	}
	e.t.Logf("warm: gave up after 30s")
}

// stepObjects downloads the step ref from the server and returns the
// bytes of the objects it fetches whole, and whether it patches files.
func (e *realEnv) stepObjects(from *bundle, ref api.StepRef) (int64, bool) {
	e.t.Helper()
	b := e.get("/o/" + ref.Digest.String())
	if manifest.Sum(b) != ref.Digest || int64(len(b)) != ref.Size {
		e.t.Fatalf("step %s: the server sent %d other bytes", ref.Digest, len(b))
	}
	start := from.m
	if ok, err := step.StartsFrom(b, from.m.Digest()); err == nil && !ok {
		start = &manifest.Manifest{} // a step from nothing
	}
	s, err := step.Decode(start, b, step.DefaultLimits())
	if err != nil {
		e.t.Fatalf("step %s: %v", ref.Digest, err)
	}
	return s.DeliverBytes(), s.Codec != ""
}

// get fetches a URL path of the server, 200 only.
func (e *realEnv) get(urlPath string) []byte {
	e.t.Helper()
	resp, err := e.HTTPSClient().Get(e.URL + urlPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %s, %v", urlPath, resp.Status, err)
	}
	return b
}

// servesManifests reports whether the server serves target manifests at
// api.PathManifest, which a device falls back to when a step is unusable.
func (e *realEnv) servesManifests(b *bundle) bool {
	e.t.Helper()
	resp, err := e.HTTPSClient().Get(e.URL + "/m/" + b.m.Digest().String())
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && bytes.Equal(got, b.m.Encode())
}

// TestServerChain: v1 -> v2 -> v3 and v1 -> v3 against the real server over
// HTTP/3; deleted files are gone, unchanged files reused, changed ones patched.
func TestServerChain(t *testing.T) {
	v1, v2, v3 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1"), fixture(t, "v3", "1.0.2")
	e := startReal(t)
	for _, b := range []*bundle{v1, v2, v3} {
		e.upload(b)
	}
	e.serve("1.0.0")
	dir := seeded(t, v1)
	direct := seeded(t, v1)
	cfg := e.config()

	res, err := update(t, dir, cfg)
	if err != nil || res.Outcome != device.OutcomeNoUpdate {
		t.Fatalf("on v1 with the channel at v1: %+v, %v", res, err)
	}
	if res.Protocol != "HTTP/3.0" {
		t.Errorf("protocol %q, want HTTP/3.0", res.Protocol)
	}

	e.serve("1.0.1")
	e.warm(v1, "builtin", v2, 20)
	res = mustUpdate(t, dir, cfg, v2)
	t.Logf("v1->v2: %d bytes downloaded of %d (plan %d); reused %d, patched %d, fetched %d", res.DownloadedBytes, v2.m.TotalSize(), res.PlannedBytes, res.Reused, res.Patched, res.Fetched)
	if res.Protocol != "HTTP/3.0" || res.Patched == 0 || res.Reused < 3 || res.Fallbacks != 0 {
		t.Errorf("v1->v2: %+v", res)
	}
	if res.DownloadedBytes > v2.m.TotalSize()/4 {
		t.Errorf("v1->v2 downloaded %d bytes of a %d-byte bundle", res.DownloadedBytes, v2.m.TotalSize())
	}

	e.serve("1.0.2")
	e.warm(v2, "1.0.1", v3, 20)
	res = mustUpdate(t, dir, cfg, v3)
	t.Logf("v2->v3: %d bytes downloaded of %d; reused %d, patched %d, fetched %d", res.DownloadedBytes, v3.m.TotalSize(), res.Reused, res.Patched, res.Fetched)
	if res.Patched == 0 || res.DownloadedBytes > v3.m.TotalSize()/4 {
		t.Errorf("v2->v3: %+v", res)
	}
	if got := strings.Join(bundleDirs(t, dir), ","); got != "1.0.2,builtin" {
		t.Errorf("bundles: %s", got)
	}

	e.warm(v1, "builtin", v3, 20)
	res = mustUpdate(t, direct, cfg, v3)
	t.Logf("v1->v3: %d bytes downloaded of %d; reused %d, patched %d, fetched %d", res.DownloadedBytes, v3.m.TotalSize(), res.Reused, res.Patched, res.Fetched)
	if res.Patched == 0 || res.DownloadedBytes > v3.m.TotalSize()/4 {
		t.Errorf("v1->v3: %+v", res)
	}

	// Nothing more to do.
	if res, err := update(t, dir, cfg); err != nil || res.Outcome != device.OutcomeNoUpdate {
		t.Fatalf("on v3: %+v, %v", res, err)
	}
	// Not ready before the next start: rolled back, reported to the
	// server's Capgo /stats endpoint.
	e.serve("1.0.0")
	res, err = update(t, dir, cfg)
	if err != nil || res.To == nil || res.To.Version != "1.0.0" {
		t.Fatalf("channel back to v1: %+v, %v", res, err)
	}
	sr, err := device.Start(context.Background(), dir, cfg)
	if err != nil || sr.RolledBack == nil || sr.Current.Version != "1.0.2" {
		t.Fatalf("start: %+v, %v", sr, err)
	}
	assertRunning(t, dir, v3)
	if s := status(t, dir); s.QueuedStats != 0 {
		t.Errorf("server did not take the stats: %d queued", s.QueuedStats)
	}
	// The server counted the rollback (its stats writer batches: poll).
	var rollbacks, installs int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && rollbacks == 0; time.Sleep(50 * time.Millisecond) {
		st, err := e.admin.Stats(context.Background(), testApp, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range st.Bundles {
			if b.Version == "1.0.0" {
				rollbacks = b.Rollbacks
			}
			installs += b.Installs
		}
	}
	if rollbacks != 1 || installs == 0 {
		t.Errorf("server stats: %d rollbacks of 1.0.0, %d installs", rollbacks, installs)
	}
}

// TestServerVite: a Vite build where every chunk's name changes: the
// device patches the renamed chunks from their predecessors instead of
// fetching them.
func TestServerVite(t *testing.T) {
	r1 := newBundle(t, "2.0.0", viteBuild(1))
	r2 := newBundle(t, "2.0.1", viteBuild(2))
	renamed := 0
	for p := range r1.files {
		if _, ok := r2.files[p]; !ok {
			renamed++
		}
	}
	if renamed < 12 {
		t.Fatalf("only %d files renamed", renamed)
	}
	e := startReal(t)
	e.upload(r1)
	e.upload(r2)
	e.serve("2.0.0")
	dir := seeded(t, r1)
	cfg := e.config()
	cfg.NativeVersion = "2.0.0"
	e.serve("2.0.1")
	e.warm(r1, "builtin", r2, 40)
	res := mustUpdate(t, dir, cfg, r2)
	t.Logf("vite: %d bytes downloaded of %d (plan %d); reused %d, patched %d, fetched %d", res.DownloadedBytes, r2.m.TotalSize(), res.PlannedBytes, res.Reused, res.Patched, res.Fetched)
	if res.Patched < renamed-3 {
		t.Errorf("patched %d of %d renamed chunks", res.Patched, renamed)
	}
	if res.DownloadedBytes*10 > r2.m.TotalSize() {
		t.Errorf("downloaded %d bytes for a %d-byte bundle, want under a tenth", res.DownloadedBytes, r2.m.TotalSize())
	}
	if res.Reused < 2 {
		t.Errorf("fonts not reused: %+v", res)
	}
}

// TestServerNoUDP: UDP to the server is blocked (datagrams vanish, as
// behind many firewalls): the device gives HTTP/3 up after its HTTP/3
// timeout, falls back to HTTPS over TCP and completes. In front of the
// real server: a TCP proxy, and a UDP socket on the same port that
// swallows every datagram.
func TestServerNoUDP(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	e := startReal(t)
	e.upload(v1)
	e.upload(v2)
	e.serve("1.0.1")
	p := newCutProxy(t, strings.TrimPrefix(e.URL, "https://"))
	hole, err := net.ListenPacket("udp", p.ln.Addr().String())
	if err != nil {
		t.Skipf("UDP port of the proxy is taken: %v", err)
	}
	defer hole.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := hole.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	dir := seeded(t, v1)
	cfg := e.config()
	cfg.Server = p.URL()
	cfg.H3Timeout = 500 * time.Millisecond
	start := time.Now()
	res := mustUpdate(t, dir, cfg, v2)
	if res.Protocol != "HTTP/2.0" {
		t.Errorf("protocol %q, want HTTP/2.0", res.Protocol)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("fallback took %v", d)
	}
	// HTTP/3 only: fails, and leaves the bundle alone.
	cfg.Transport = device.TransportHTTP3
	cfg.Retries = 1
	cfg.NoStats = true
	e.serve("1.0.0")
	if _, err := update(t, dir, cfg); err == nil {
		t.Fatal("HTTP/3-only update with UDP blocked succeeded")
	}
	assertRunning(t, dir, v2)
}

// TestServerCuts: connections to the real server cut at random offsets
// (and the server unreachable): every failed try leaves the old bundle
// running and nothing half-installed; the retries resume instead of
// starting over, and the total received stays near one clean download.
func TestServerCuts(t *testing.T) {
	v1 := fixture(t, "v1", "1.0.0")
	v2 := withBlob(t, fixture(t, "v2", "1.0.1"), "1.0.1", 1_500_000, 9)
	e := startReal(t)
	e.upload(v1)
	e.upload(v2)
	e.serve("1.0.1")
	addr := strings.TrimPrefix(e.URL, "https://")
	p := newCutProxy(t, addr)
	cfg := e.config()
	cfg.Server = p.URL()
	cfg.Transport = device.TransportTCP
	cfg.Retries = 1

	// A clean run on another device: the reference byte count.
	clean := mustUpdate(t, seeded(t, v1), cfg, v2)
	dir := seeded(t, v1)

	// Server down: fails fast, nothing changes.
	p.setDown(true)
	res, err := update(t, dir, cfg)
	if err == nil {
		t.Fatal("update with the server down succeeded")
	}
	assertRunning(t, dir, v1)
	p.setDown(false)

	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var total int64
	tries := 0
	for ; tries < 60; tries++ {
		// Cut the next connection after 1 KB to 300 KB (TLS handshake
		// included): in the handshake, the check answer or the objects.
		p.cutNext(int64(1_000 + r.IntN(300_000)))
		res, err = update(t, dir, cfg)
		total += res.DownloadedBytes
		if err == nil {
			break
		}
		assertRunning(t, dir, v1)
		if got := bundleDirs(t, dir); len(got) != 1 {
			t.Fatalf("try %d left %v", tries, got)
		}
	}
	if err != nil {
		t.Fatalf("no success after %d cut tries: %v", tries, err)
	}
	assertRunning(t, dir, v2)
	if tries < 2 || res.ResumedBytes == 0 {
		t.Errorf("%d cut tries, last resumed %d bytes", tries, res.ResumedBytes)
	}
	// Each try may waste at most its check answer (cut mid-answer).
	limit := int64(float64(clean.DownloadedBytes)*1.1) + int64(tries+1)*(16<<10)
	t.Logf("%d cuts (%d by the proxy): %d bytes received in all, clean run %d, limit %d", tries, p.cuts.Load(), total, clean.DownloadedBytes, limit)
	if total > limit {
		t.Errorf("received %d bytes in all for a %d-byte update", total, clean.DownloadedBytes)
	}
}

// TestServerLyingMirror: the real server behind a mirror (a CDN, say) that
// lies: it corrupts or truncates objects (the step among them), strips
// the signature, replays an older answer, or serves one past its expiry.
// The device refuses each, keeps its bundle, and then completes through
// the honest mirror; a step swapped for other bytes falls back to the
// target manifest (/m/) and whole files.
func TestServerLyingMirror(t *testing.T) {
	v1, v2, v3 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1"), fixture(t, "v3", "1.0.2")
	e := startReal(t)
	e.upload(v1)
	e.upload(v2)
	e.upload(v3)
	e.serve("1.0.1")
	e.warm(v1, "builtin", v2, 20)
	// Protocol 2's fallback needs the server's /m/{sha256}.
	fallback := e.servesManifests(v2)
	if !fallback {
		t.Log("the server does not serve /m/{sha256} (api.PathManifest): the fallback cases expect the update to fail")
	}
	m := newMirror(t, e.URL, e.TLSConfig())
	cfg := e.config()
	cfg.Server = m.srv.URL
	cfg.TLS = e.TLSConfig().Clone()
	cfg.TLS.RootCAs.AddCert(m.srv.Certificate())
	cfg.Transport = device.TransportTCP
	cfg.Retries = 2
	isObject := func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/o/") }
	isCheck := func(r *http.Request) bool { return r.URL.Path == api.PathCheck }

	// Record an honest answer to replay later.
	var recorded []byte
	m.setEdit(func(r *http.Request, status int, h http.Header, body []byte) (int, []byte) {
		if isCheck(r) && recorded == nil {
			recorded = body
		}
		return status, body
	})
	dir := seeded(t, v1)
	res := mustUpdate(t, dir, cfg, v2)
	if res.Fallbacks != 0 || res.Patched == 0 {
		t.Errorf("honest mirror: %+v", res)
	}

	e.serve("1.0.2")
	e.warm(v2, "1.0.1", v3, 20)
	// Corrupt objects: the step fails verification, the device falls back
	// to the target manifest, and then the whole files fail theirs.
	corruptWant := device.ErrDigest
	if !fallback {
		corruptWant = device.ErrBadPlan
	}
	cases := []struct {
		name string
		edit func(r *http.Request, status int, h http.Header, body []byte) (int, []byte)
		want error
	}{
		{"corrupt objects", func(r *http.Request, status int, h http.Header, body []byte) (int, []byte) {
			if isObject(r) && len(body) > 0 {
				body = append([]byte(nil), body...)
				body[len(body)/2] ^= 1
			}
			return status, body
		}, corruptWant},
		{"truncated objects", func(r *http.Request, status int, h http.Header, body []byte) (int, []byte) {
			if isObject(r) && len(body) > 1 {
				body = body[:len(body)-1]
			}
			return status, body
		}, nil},
		{"unsigned answer", func(r *http.Request, status int, h http.Header, body []byte) (int, []byte) {
			if isCheck(r) && len(body) > 3 {
				body = body[:3] // the magic alone: no key id, no signature
			}
			return status, body
		}, device.ErrUnsigned},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m.setEdit(c.edit)
			_, err := update(t, dir, cfg)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			assertRunning(t, dir, v2)
		})
	}
	// Expired: the device's clock is a day past the server's answer TTL.
	m.setEdit(nil)
	late := cfg
	late.Now = func() time.Time { return time.Now().Add(server.DefaultAnswerTTL + time.Hour) }
	if _, err := update(t, dir, late); !errors.Is(err, device.ErrExpired) {
		t.Fatalf("expired answer: %v", err)
	}
	assertRunning(t, dir, v2)

	// The step swapped for other bytes of its size: its digest check fails
	// and the device fetches the target manifest and the files whole.
	var mu sync.Mutex
	stepPath := ""
	m.setEdit(func(r *http.Request, status int, h http.Header, body []byte) (int, []byte) {
		mu.Lock()
		defer mu.Unlock()
		if isCheck(r) {
			var sc api.SignedCheck
			var ans api.CheckAnswer
			if sc.UnmarshalBinary(body) == nil && ans.UnmarshalBinary(sc.Payload) == nil && ans.Update != nil && ans.Update.Step != nil {
				stepPath = "/o/" + ans.Update.Step.Digest.String()
			}
		}
		if r.URL.Path == stepPath {
			return status, bytes.Repeat([]byte{'x'}, len(body))
		}
		return status, body
	})
	if fallback {
		res := mustUpdate(t, dir, cfg, v3)
		if res.Fallbacks == 0 || res.Patched != 0 {
			t.Errorf("swapped step: %+v", res)
		}
	} else {
		if _, err := update(t, dir, cfg); !errors.Is(err, device.ErrBadPlan) {
			t.Fatalf("swapped step without /m/: %v", err)
		}
		assertRunning(t, dir, v2)
		m.setEdit(nil)
		mustUpdate(t, dir, cfg, v3)
	}
	reqs := strings.Join(m.requests(), "\n")
	mu.Lock()
	tried := stepPath != "" && strings.Contains(reqs, "GET "+stepPath)
	mu.Unlock()
	if !tried {
		t.Errorf("no step was tried:\n%s", reqs)
	}
	if fallback && !strings.Contains(reqs, "GET /m/"+v3.m.Digest().String()) {
		t.Errorf("no fallback to the target manifest:\n%s", reqs)
	}

	// Replayed: the honest answer recorded for the move to v2, whose
	// sequence is now below the one accepted with v3. It is a fleet
	// answer, signed for the request of a device on v1: on v3 its
	// signature does not verify, before its sequence is read (a device
	// answer gets as far as ErrRollback: TestLiarRefusals).
	m.setEdit(func(r *http.Request, status int, h http.Header, body []byte) (int, []byte) {
		if isCheck(r) {
			return 200, recorded
		}
		return status, body
	})
	if _, err := update(t, dir, cfg); !errors.Is(err, device.ErrBadSignature) {
		t.Fatalf("replayed answer: %v", err)
	}
	assertRunning(t, dir, v3)
}
