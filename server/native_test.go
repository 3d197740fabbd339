package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/bench/viteapp"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/native"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/step"
	"github.com/patchwire/patchwire/store"
)

// nativeEnv is a server with app and its releases published straight into
// the store (no publish-time patches), and a public channel serving one.
type nativeEnv struct {
	*servertest.Env
	t        *testing.T
	releases map[string]map[string][]byte // version → files
	pub      ed25519.PublicKey
}

func newNativeEnv(t *testing.T) *nativeEnv {
	t.Helper()
	env := servertest.Start(t)
	if _, err := env.Store.CreateApp(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	// The public key as `patchwire key signing --public` prints it.
	priv, err := server.LoadSigningKey(env.Dir)
	if err != nil {
		t.Fatal(err)
	}
	printed := checksig.PublicKeyBase64(priv.Public().(ed25519.PublicKey))
	pub, err := base64.StdEncoding.DecodeString(printed)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("public key %q: %v", printed, err)
	}
	return &nativeEnv{Env: env, t: t, releases: map[string]map[string][]byte{}, pub: pub}
}

func manifestOfFiles(t testing.TB, files map[string][]byte) *manifest.Manifest {
	t.Helper()
	var es []manifest.Entry
	for p, b := range files {
		es = append(es, manifest.Entry{Path: p, Digest: manifest.Sum(b), Size: int64(len(b))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// publish stores version's files and commits it.
func (e *nativeEnv) publish(version string, files map[string][]byte) *manifest.Manifest {
	e.t.Helper()
	ctx := context.Background()
	for _, b := range files {
		if _, err := e.Store.PutObject(ctx, manifest.Sum(b), b); err != nil {
			e.t.Fatal(err)
		}
	}
	m := manifestOfFiles(e.t, files)
	if _, err := e.Store.CommitBundle(ctx, app, version, m, api.BundleMeta{}); err != nil {
		e.t.Fatal(err)
	}
	e.releases[version] = files
	return m
}

// serve makes the public channel "production" serve version.
func (e *nativeEnv) serve(version string) api.Channel {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.Store.GetChannel(ctx, app, "production"); err == nil {
		c, err := e.Store.SetChannelBundle(ctx, app, "production", version)
		if err != nil {
			e.t.Fatal(err)
		}
		return c
	}
	c, err := e.Store.CreateChannel(ctx, api.Channel{
		App: app, Name: "production", Bundle: version, Public: true,
		IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true, Policy: "major",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func checkRequest(version string, m manifest.Digest) api.CheckRequest {
	return api.CheckRequest{
		App: app, DeviceID: "3F1C2A4E-5B6D-4E7F-8A9B-0C1D2E3F4A5B", Platform: "android",
		NativeVersion: "1.0", Current: api.CurrentBundle{Version: version, Manifest: m},
		Codecs: []string{delta.NameZstdDict, delta.NameBsdiff},
	}
}

// post sends a check and returns the raw signed answer.
func (e *nativeEnv) post(c *http.Client, req api.CheckRequest) api.SignedCheck {
	e.t.Helper()
	body, _ := json.Marshal(req)
	resp, err := c.Post(e.URL+api.PathCheck, "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("check: %d %s", resp.StatusCode, b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("check answer Cache-Control %q", cc)
	}
	if ct := resp.Header.Get("Content-Type"); ct != api.CheckContentType {
		e.t.Errorf("check answer Content-Type %q", ct)
	}
	var sc api.SignedCheck
	if err := sc.UnmarshalBinary(b); err != nil {
		e.t.Fatal(err)
	}
	return sc
}

// check posts req and verifies the answer with the printed public key.
func (e *nativeEnv) check(c *http.Client, req api.CheckRequest) api.CheckAnswer {
	e.t.Helper()
	sc := e.post(c, req)
	a, err := checksig.Verify(sc, []ed25519.PublicKey{e.pub}, req.Subject())
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	if want := checksig.KeyID(e.pub); sc.KeyID != want {
		e.t.Errorf("key id %q, want %q", sc.KeyID, want)
	}
	return *a
}

// get fetches url and returns the response with its body read.
func fetchURL(t testing.TB, c *http.Client, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// getStep downloads and decodes the step of up for a device running cur
// (nil: the step must start from nothing).
func getStep(t testing.TB, c *http.Client, base string, cur map[string][]byte, up *api.Update) (*step.Step, *manifest.Manifest) {
	t.Helper()
	if up.Step == nil {
		t.Fatalf("update to %s has no step", up.Target.Version)
	}
	resp, b := fetchURL(t, c, base+"/o/"+up.Step.Digest.String())
	if resp.StatusCode != 200 || int64(len(b)) != up.Step.Size || manifest.Sum(b) != up.Step.Digest {
		t.Fatalf("GET step: %d, %d bytes, want %d", resp.StatusCode, len(b), up.Step.Size)
	}
	from := &manifest.Manifest{}
	if empty, err := step.StartsFrom(b, from.Digest()); err != nil {
		t.Fatal(err)
	} else if !empty {
		from = manifestOfFiles(t, cur)
	}
	s, err := step.Decode(from, b, step.DefaultLimits())
	if err != nil {
		t.Fatalf("decode step: %v", err)
	}
	return s, from
}

// install applies up to the device's files as a device does, verifying
// every byte, and returns the target's files and the bytes downloaded
// (step and objects, raw: this client does not ask for zstd).
func install(t testing.TB, c *http.Client, base string, cur map[string][]byte, up *api.Update) (map[string][]byte, int64) {
	t.Helper()
	s, from := getStep(t, c, base, cur, up)
	downloaded := up.Step.Size
	target, patched, err := s.Rebuild(from, func(e manifest.Entry) ([]byte, error) { return cur[e.Path], nil }, manifest.DefaultLimits())
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if target.Digest() != up.Target.Manifest || target.Len() != up.Target.Files || target.TotalSize() != up.Target.Size {
		t.Fatalf("step rebuilds %s, the signed target is %s", target.Digest(), up.Target.Manifest)
	}
	have := map[manifest.Digest][]byte{}
	for _, b := range cur {
		have[manifest.Sum(b)] = b
	}
	for d, b := range patched {
		have[d] = b
	}
	for _, w := range s.Writes {
		if w.Kind != step.Object {
			continue
		}
		resp, b := fetchURL(t, c, base+"/o/"+w.Digest.String())
		if resp.StatusCode != 200 || manifest.Sum(b) != w.Digest {
			t.Fatalf("GET object %s: %d", w.Path, resp.StatusCode)
		}
		downloaded += int64(len(b))
		have[w.Digest] = b
	}
	next := map[string][]byte{}
	for _, e := range target.Entries() {
		b, ok := have[e.Digest]
		if !ok {
			t.Fatalf("%s: bytes not rebuilt", e.Path)
		}
		next[e.Path] = b
	}
	return next, downloaded
}

// countKinds counts a step's writes by kind.
func countKinds(s *step.Step) (copies, patched, objects int) {
	for _, w := range s.Writes {
		switch w.Kind {
		case step.Copy:
			copies++
		case step.Patched:
			patched++
		case step.Object:
			objects++
		}
	}
	return
}

func TestNativeCheck(t *testing.T) {
	e := newNativeEnv(t)
	va := viteapp.New(1, 4000)
	v1 := e.publish("1.0.0", va.Files())
	va.Release(3)
	v2 := e.publish("1.0.1", va.Files())
	ch := e.serve("1.0.1")
	https, h3 := e.HTTPSClient(), e.HTTP3Client()

	// Nothing made yet, and nothing is made while the workers are held:
	// the answer comes at once, with whole objects.
	resume := server.PausePatches(e.Server)
	start := time.Now()
	a := e.check(https, checkRequest("1.0.0", v1.Digest()))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("check took %v", took)
	}
	up := a.Update
	if a.NoUpdate != nil || up == nil {
		t.Fatalf("want an update, got %+v", a.NoUpdate)
	}
	if a.Type != api.CheckAnswerType || a.App != app || a.Channel != "production" || a.Platform != "android" ||
		a.DeviceID != checkRequest("", manifest.Digest{}).DeviceID || a.Sequence != ch.Sequence || a.Sequence == 0 {
		t.Errorf("binding: %+v", a)
	}
	if d := a.Expires.Sub(a.IssuedAt); d != server.DefaultAnswerTTL || time.Since(a.IssuedAt) > time.Minute {
		t.Errorf("issued %v, expires %v", a.IssuedAt, a.Expires)
	}
	if up.Target.Version != "1.0.1" || up.Target.Manifest != v2.Digest() || up.Target.Files != v2.Len() || up.Target.Size != v2.TotalSize() {
		t.Errorf("target %+v", up.Target)
	}
	s, _ := getStep(t, https, e.URL, e.releases["1.0.0"], up)
	if _, patched, objects := countKinds(s); s.From != v1.Digest() || patched != 0 || objects == 0 {
		t.Fatalf("draft step: %s", s)
	}
	// Only what changes is listed.
	if n := len(s.Writes) + len(s.Removed); n >= v2.Len() || len(s.Removed) == 0 {
		t.Errorf("step lists %d files for a 3-chunk release of %d files", n, v2.Len())
	}
	_, whole := install(t, https, e.URL, e.releases["1.0.0"], up)

	// Once the patcher has run, the next check (over HTTP/3) gets the
	// final step, with the bundle patch inside.
	resume()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.WaitPatches(ctx, e.Server); err != nil {
		t.Fatal(err)
	}
	a = e.check(h3, checkRequest("1.0.0", v1.Digest()))
	s, _ = getStep(t, h3, e.URL, e.releases["1.0.0"], a.Update)
	if _, patched, objects := countKinds(s); patched == 0 || objects != 0 {
		t.Fatalf("final step: %s", s)
	}
	if s.Codec != delta.NameZstdDict && s.Codec != delta.NameBsdiff {
		t.Errorf("codec %q", s.Codec)
	}
	got, download := install(t, h3, e.URL, e.releases["1.0.0"], a.Update)
	if len(got) != len(e.releases["1.0.1"]) {
		t.Errorf("installed %d files, want %d", len(got), len(e.releases["1.0.1"]))
	}
	if download != a.Update.Step.Size || download*5 > whole {
		t.Errorf("final step: %d bytes against %d for the draft", download, whole)
	}
}

func TestNativeCheckSignature(t *testing.T) {
	e := newNativeEnv(t)
	va := viteapp.New(2, 500)
	v1 := e.publish("1.2.0", va.Files())
	e.serve("1.2.0")
	req := checkRequest("builtin", manifest.Digest{})
	sub := req.Subject()
	sc := e.post(e.HTTPSClient(), req)
	if _, err := checksig.Verify(sc, []ed25519.PublicKey{e.pub}, sub); err != nil {
		t.Fatal(err)
	}
	// The subject is signed, not sent: the answer (a fleet answer, nothing
	// of the device's decided it) verifies for no other app, platform or
	// base (TestNativeFleetAnswers: for every other device).
	with := func(f func(*api.Subject)) api.Subject {
		o := sub
		f(&o)
		return o
	}
	for _, other := range []api.Subject{
		with(func(s *api.Subject) { s.App = "com.example.other" }),
		with(func(s *api.Subject) { s.Platform = "ios" }),
		with(func(s *api.Subject) { s.Base.Current.Version = "1.1.0" }),
	} {
		if _, err := checksig.Verify(sc, []ed25519.PublicKey{e.pub}, other); !errors.Is(err, checksig.ErrBadSignature) {
			t.Errorf("answer verifies for %+v: %v", other, err)
		}
		if bytes.Contains(sc.Payload, []byte(sub.DeviceID)) || bytes.Contains(sc.Payload, []byte(sub.App)) {
			t.Errorf("the payload repeats the subject: %s", sc.Payload)
		}
	}
	tampered := sc
	tampered.Payload = bytes.Replace(sc.Payload, []byte("1.2.0"), []byte("6.6.6"), 1)
	if bytes.Equal(tampered.Payload, sc.Payload) {
		t.Fatalf("payload does not name the version: %s", sc.Payload)
	}
	if _, err := checksig.Verify(tampered, []ed25519.PublicKey{e.pub}, sub); !errors.Is(err, checksig.ErrBadSignature) {
		t.Errorf("tampered payload: %v", err)
	}
	tampered = sc
	tampered.Signature = append([]byte(nil), sc.Signature...)
	tampered.Signature[10] ^= 1
	if _, err := checksig.Verify(tampered, []ed25519.PublicKey{e.pub}, sub); !errors.Is(err, checksig.ErrBadSignature) {
		t.Errorf("tampered signature: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := checksig.Verify(sc, []ed25519.PublicKey{other}, sub); !errors.Is(err, checksig.ErrUnknownKey) {
		t.Errorf("other key: %v", err)
	}
	// The signature covers the context prefix: the bare payload's does not verify.
	if ed25519.Verify(e.pub, sc.Payload, sc.Signature) {
		t.Error("signature verifies without the context")
	}
	// The key is made once (mode 0600) and kept across restarts.
	fi, err := os.Stat(filepath.Join(e.Dir, server.SigningKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key file: %v %v", fi.Mode(), err)
	}
	e.Restart()
	if !e.Server.SigningPublicKey().Equal(e.pub) {
		t.Error("signing key changed across a restart")
	}
	// Unknown current bundle: a step from nothing, every file fetched whole.
	a := e.check(e.HTTPSClient(), checkRequest("builtin", manifest.Sum([]byte("not a manifest"))))
	if a.Update == nil {
		t.Fatalf("unknown bundle: %+v", a.NoUpdate)
	}
	s, _ := getStep(t, e.HTTPSClient(), e.URL, nil, a.Update)
	if copies, patched, objects := countKinds(s); s.From.String() != api.EmptyManifest || objects != v1.Len() || copies+patched+len(s.Removed) != 0 {
		t.Fatalf("unknown bundle: %s", s)
	}
	install(t, e.HTTPSClient(), e.URL, nil, a.Update)
}

func TestNativeCheckRefusals(t *testing.T) {
	e := newNativeEnv(t)
	va := viteapp.New(3, 500)
	v1 := e.publish("1.0.0", va.Files())
	ch := e.serve("1.0.0")
	c := e.HTTPSClient()
	for _, tc := range []struct {
		name string
		edit func(*api.CheckRequest)
		code string
	}{
		{"already there", func(r *api.CheckRequest) {}, "no_new_version_available"},
		{"unknown app", func(r *api.CheckRequest) { r.App = "com.example.other" }, "on_premise_app"},
		{"bad native version", func(r *api.CheckRequest) { r.NativeVersion = "one" }, "semver_error"},
		{"missing device id", func(r *api.CheckRequest) { r.DeviceID = "" }, "missing_info"},
		{"bad platform", func(r *api.CheckRequest) { r.Platform = "symbian" }, "missing_info"},
		{"private channel", func(r *api.CheckRequest) { r.Channel = "nope"; r.Current.Version = "builtin" }, "no_channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := checkRequest("1.0.0", v1.Digest())
			tc.edit(&req)
			a := e.check(c, req)
			if a.Update != nil || a.NoUpdate == nil || a.NoUpdate.Code != tc.code || a.NoUpdate.Message == "" {
				t.Fatalf("got %+v %+v, want %s", a.NoUpdate, a.Update, tc.code)
			}
			if a.App != req.App || a.DeviceID != req.DeviceID {
				t.Errorf("binding %+v", a)
			}
		})
	}
	a := e.check(c, checkRequest("1.0.0", v1.Digest()))
	if a.Channel != "production" || a.Sequence != ch.Sequence {
		t.Errorf("no update on a channel: channel %q sequence %d", a.Channel, a.Sequence)
	}
	// Builtin: the channel sends devices back.
	ch2, err := e.Store.SetChannelBundle(context.Background(), app, "production", "builtin")
	if err != nil {
		t.Fatal(err)
	}
	a = e.check(c, checkRequest("1.0.0", v1.Digest()))
	if a.Update == nil || a.Update.Target.Version != "builtin" || !a.Update.Target.Manifest.IsZero() || a.Update.Step != nil || a.Sequence != ch2.Sequence || ch2.Sequence <= ch.Sequence {
		t.Errorf("builtin: %+v sequence %d", a.Update, a.Sequence)
	}

	// Requests are strict and bounded.
	for _, tc := range []struct {
		name, ctype, body string
		status            int
	}{
		{"unknown member", "application/json", `{"app_id":"a","bogus":1}`, 400},
		{"not JSON", "application/json", `{`, 400},
		{"trailing data", "application/json", `{} {}`, 400},
		{"wrong type", "text/plain", `{}`, 415},
		{"too large", "application/json", `{"app_id":"` + strings.Repeat("a", 20<<10) + `"}`, 413},
		{"long field", "application/json", `{"app_id":"` + strings.Repeat("a", 300) + `"}`, 400},
		{"many codecs", "application/json", `{"codecs":[` + strings.Repeat(`"x",`, 20) + `"x"]}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Post(e.URL+api.PathCheck, tc.ctype, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

// TestNativeSkipAndPublish: a commit precomputes patches to the new
// bundle from the last ones, a device several releases behind gets one
// patch straight to the target (never a chain), and the patch URL is
// immutable.
func TestNativeSkipAndPublish(t *testing.T) {
	env := servertest.Start(t)
	c := newApp(t, env)
	e := &nativeEnv{Env: env, t: t, releases: map[string]map[string][]byte{}}
	priv, err := server.LoadSigningKey(env.Dir)
	if err != nil {
		t.Fatal(err)
	}
	e.pub = priv.Public().(ed25519.PublicKey)
	ctx := context.Background()
	va := viteapp.New(4, 2000)
	ms := map[string]*manifest.Manifest{}
	for i := 1; i <= 5; i++ {
		v := fmt.Sprintf("1.0.%d", i)
		if i > 1 {
			va.Release(2)
		}
		files := va.Files()
		// The upload protocol, objects sent raw (identity).
		ms[v] = manifestOfFiles(t, files)
		uploadRaw(t, env, v, files)
		e.releases[v] = files
	}
	e.serve("1.0.5")
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := server.WaitPatches(wctx, env.Server); err != nil {
		t.Fatal(err)
	}
	// Made at publish: the first check already has the final step.
	a := e.check(e.HTTP3Client(), checkRequest("1.0.1", ms["1.0.1"].Digest()))
	if a.Update == nil {
		t.Fatalf("no update: %+v", a.NoUpdate)
	}
	s, _ := getStep(t, e.HTTPSClient(), env.URL, e.releases["1.0.1"], a.Update)
	if _, patched, objects := countKinds(s); patched == 0 || objects != 0 {
		t.Fatalf("no bundle patch for 1.0.1 → 1.0.5 after publish: %s", s)
	}
	install(t, e.HTTPSClient(), env.URL, e.releases["1.0.1"], a.Update)

	// The step URL: immutable, strong ETag, Range, conditional requests.
	hc := e.HTTPSClient()
	url := env.URL + "/o/" + a.Update.Step.Digest.String()
	resp, body := fetchURL(t, hc, url)
	etag := `"` + a.Update.Step.Digest.String() + `"`
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") != server.CacheForever ||
		resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Encoding") != "" || int64(len(body)) != a.Update.Step.Size {
		t.Fatalf("GET step: %d %v", resp.StatusCode, resp.Header)
	}
	resp, part := fetchURL(t, hc, url, "Range", "bytes=10-19")
	if resp.StatusCode != 206 || !bytes.Equal(part, body[10:20]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(body)) {
		t.Errorf("Range: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	resp, part = fetchURL(t, hc, url, "Range", "bytes=5-", "If-Range", etag)
	if resp.StatusCode != 206 || !bytes.Equal(part, body[5:]) {
		t.Errorf("If-Range resume: %d", resp.StatusCode)
	}
	if resp, _ := fetchURL(t, hc, url, "If-None-Match", etag); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	h3resp, h3body := fetchURL(t, e.HTTP3Client(), url, "Range", "bytes=0-9")
	if h3resp.StatusCode != 206 || !bytes.Equal(h3body, body[:10]) {
		t.Errorf("HTTP/3 Range: %d", h3resp.StatusCode)
	}
	// The bundle patch inside is also served at its own immutable URL.
	purl := env.URL + server.DeltaPath(s.Codec, ms["1.0.1"].Digest(), ms["1.0.5"].Digest())
	if resp, pb := fetchURL(t, hc, purl); resp.StatusCode != 200 || !bytes.Equal(pb, s.Patch) {
		t.Errorf("GET %s: %d", purl, resp.StatusCode)
	}
	headReq, _ := http.NewRequest("HEAD", purl, nil)
	if resp, err := hc.Do(headReq); err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(s.Patch)) {
		t.Errorf("HEAD: %v %v", resp, err)
	}
	z := strings.Repeat("0", 64)
	for path, status := range map[string]int{
		server.DeltaPath("zstd-dict", ms["1.0.5"].Digest(), ms["1.0.1"].Digest()): 404, // never made
		"/d/zstd-dict/" + z + "/" + strings.Repeat("A", 64):                       400,
		"/d/gzip/" + z + "/" + z: 404,
	} {
		if resp, _ := fetchURL(t, hc, env.URL+path); resp.StatusCode != status || resp.Header.Get("Cache-Control") == server.CacheForever {
			t.Errorf("GET %s: %d (%s), want %d", path, resp.StatusCode, resp.Header.Get("Cache-Control"), status)
		}
	}

	// Every device from 1.0.1 shares the patch; it was made once, straight
	// from 1.0.1 to 1.0.5, and is stored as an object under its digest.
	sp, err := env.Store.GetPatch(ctx, store.PatchKey{Codec: s.Codec, From: ms["1.0.1"].Digest(), To: ms["1.0.5"].Digest(), Bundle: true})
	if err != nil || sp.Digest != manifest.Sum(s.Patch) {
		t.Fatalf("stored mapping %+v, %v", sp, err)
	}
	// Channel changes schedule patches too: rolling back to 1.0.3 makes
	// the patches from the last bundles to it.
	if _, err := c.SetChannelBundle(ctx, app, "production", "1.0.3"); err != nil {
		t.Fatal(err)
	}
	if err := server.WaitPatches(wctx, env.Server); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.GetPatch(ctx, store.PatchKey{Codec: delta.NameZstdDict, From: ms["1.0.5"].Digest(), To: ms["1.0.3"].Digest(), Bundle: true}); err != nil {
		t.Errorf("no 1.0.5 → 1.0.3 patch after the channel change: %v", err)
	}
}

// uploadRaw uploads version through the upload protocol (manifest,
// objects, commit), sending objects uncompressed.
func uploadRaw(t *testing.T, env *servertest.Env, version string, files map[string][]byte) {
	t.Helper()
	hc := env.HTTPSClient()
	do := func(method, path string, body []byte, ctype string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, env.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+env.AdminKey)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	m := manifestOfFiles(t, files)
	body, _ := json.Marshal(api.UploadRequest{Version: version, Files: m.Entries()})
	var up api.UploadResponse
	do("POST", strings.Replace(api.PathUploads, "{app}", app, 1), body, "application/json", &up)
	byDigest := map[manifest.Digest][]byte{}
	for _, b := range files {
		byDigest[manifest.Sum(b)] = b
	}
	for _, d := range up.Missing {
		p := strings.NewReplacer("{id}", up.ID, "{sha256}", d.String()).Replace(api.PathUploadObject)
		do("PUT", p, byDigest[d], "application/octet-stream", nil)
	}
	do("POST", strings.Replace(api.PathUploadCommit, "{id}", up.ID, 1), nil, "", nil)
}

// TestNativePlanGrowsWithTheChange: a one-file change in a 2,000-file
// bundle gets a signed answer whose size does not depend on the bundle's
// file count (the bundle patch names only its bases, not its dictionary).
func TestNativePlanGrowsWithTheChange(t *testing.T) {
	e := newNativeEnv(t)
	v1 := map[string][]byte{"index.html": []byte("<h1>app</h1>")}
	for i := 0; i < 2000; i++ {
		v1[fmt.Sprintf("assets/icons/icon-%04d.svg", i)] = []byte(fmt.Sprintf("<svg id=%d>%s</svg>", i, strings.Repeat("p", i%97)))
	}
	var js bytes.Buffer
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&js, "export const v%d = %d;\n", rng.Int63(), rng.Int63())
	}
	v1["assets/app.js"] = js.Bytes()
	v2 := map[string][]byte{}
	for k, v := range v1 {
		v2[k] = v
	}
	v2["assets/app.js"] = append([]byte("// fix\n"), v1["assets/app.js"]...)
	m1 := e.publish("1.0.0", v1)
	e.publish("1.0.1", v2)
	e.serve("1.0.1")
	// The first check schedules the patches (published through the store,
	// not the API, nothing precomputed them); the next one gets them.
	e.check(e.HTTPSClient(), checkRequest("1.0.0", m1.Digest()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.WaitPatches(ctx, e.Server); err != nil {
		t.Fatal(err)
	}
	req := checkRequest("1.0.0", m1.Digest())
	sc := e.post(e.HTTPSClient(), req)
	a, err := checksig.Verify(sc, []ed25519.PublicKey{e.pub}, req.Subject())
	if err != nil || a.Update == nil {
		t.Fatalf("check: %v %+v", err, a)
	}
	s, _ := getStep(t, e.HTTPSClient(), e.URL, v1, a.Update)
	if _, patched, _ := countKinds(s); patched == 0 {
		t.Fatalf("a one-line change is not patched: %s", s)
	}
	t.Logf("signed payload %d bytes; %s", len(sc.Payload), s)
	if a.Update.Step.Size > 1024 {
		t.Fatalf("the step of a one-file change in a %d-file bundle is %d bytes", len(v1), a.Update.Step.Size)
	}
	install(t, e.HTTPSClient(), e.URL, v1, a.Update)
}

// TestNativeAnswerIsConstant: the signed answer names the target and one
// step, so it stays within 600 bytes on the wire for a 3,000-file bundle
// where 400 files are renamed by content hash, for a known and for an
// unknown starting bundle, before and after the patches exist (issue 8).
func TestNativeAnswerIsConstant(t *testing.T) {
	e := newNativeEnv(t)
	rng := rand.New(rand.NewSource(8))
	v1, v2 := map[string][]byte{}, map[string][]byte{}
	for i := 0; i < 3000; i++ {
		body := []byte(fmt.Sprintf("export const chunk%d = %q;\n%s", i, strings.Repeat("x", i%50), strings.Repeat("/* pad */\n", 20+i%30)))
		hash := func(b []byte) string { return strings.ToUpper(manifest.Sum(b).String()[:8]) }
		name := func(b []byte) string {
			return fmt.Sprintf("build/p-%s.entry.js", hash(append([]byte(fmt.Sprint(i)), b...)))
		}
		v1[name(body)] = body
		if i < 400 {
			body = append(append([]byte(nil), body...), fmt.Sprintf("export const fix%d = %d;\n", i, rng.Int())...)
		}
		v2[name(body)] = body
	}
	m1 := e.publish("1.0.0", v1)
	e.publish("1.0.1", v2)
	e.serve("1.0.1")
	for _, phase := range []string{"before patches", "after patches"} {
		for _, cur := range []struct {
			name  string
			files map[string][]byte
			m     manifest.Digest
		}{{"known bundle", v1, m1.Digest()}, {"unknown bundle", nil, manifest.Sum([]byte("unknown"))}} {
			req := checkRequest("1.0.0", cur.m)
			sc := e.post(e.HTTPSClient(), req)
			a, err := checksig.Verify(sc, []ed25519.PublicKey{e.pub}, req.Subject())
			if err != nil || a.Update == nil {
				t.Fatalf("%s, %s: %v %+v", phase, cur.name, err, a.NoUpdate)
			}
			wire := answerBytes(sc)
			_, n := install(t, e.HTTPSClient(), e.URL, cur.files, a.Update)
			t.Logf("%s, %s: answer %d B, step %d B, downloaded %d B", phase, cur.name, wire, a.Update.Step.Size, n)
			if wire > 600 {
				t.Errorf("%s, %s: the answer is %d bytes on the wire, want at most 600", phase, cur.name, wire)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := server.WaitPatches(ctx, e.Server); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
}

// TestNativeFleetAnswers: an answer nothing of the device's decided is
// signed once for the fleet: every device sending the same request but for
// its id gets the same bytes, which verify for each of them (and for no
// other base); an override or a rollout draw makes it a device answer,
// which verifies for its device only.
func TestNativeFleetAnswers(t *testing.T) {
	e := newNativeEnv(t)
	va := viteapp.New(4, 300)
	v1 := e.publish("1.0.0", va.Files())
	va.Release(2)
	e.publish("1.0.1", va.Files())
	ch := e.serve("1.0.1")
	c := e.HTTPSClient()
	keys := []ed25519.PublicKey{e.pub}
	ids := []string{"0f673663-459a-44c0-a7f5-000000000001", "0f673663-459a-44c0-a7f5-000000000002", "0f673663-459a-44c0-a7f5-000000000003"}
	reqFor := func(id string) api.CheckRequest {
		r := checkRequest("1.0.0", v1.Digest())
		r.DeviceID = id
		if id == ids[2] {
			r.Codecs = []string{delta.NameBsdiff} // no answer depends on them
		}
		return r
	}
	// post sends the check of each device; all within one second when
	// they can be (the cache keeps one second's answers).
	var before, after native.Signatures // around the attempt post returns
	post := func() []api.SignedCheck {
		for range 5 {
			start := time.Now().Unix()
			before = server.NativeSignatures(e.Server)
			var out []api.SignedCheck
			for _, id := range ids {
				out = append(out, e.post(c, reqFor(id)))
			}
			after = server.NativeSignatures(e.Server)
			if time.Now().Unix() == start {
				return out
			}
		}
		t.Fatal("five tries each crossed a second")
		return nil
	}
	// The first check queues the pair's patch job: until it is done the
	// step, so the answer, changes.
	e.post(c, reqFor(ids[0]))
	if err := server.WaitPatches(context.Background(), e.Server); err != nil {
		t.Fatal(err)
	}
	scs := post()
	for i, sc := range scs {
		if sc.Payload[0] != byte(api.AudienceFleet) {
			t.Fatalf("device %d: audience %d, want a fleet answer", i, sc.Payload[0])
		}
		if !bytes.Equal(sc.Signature, scs[0].Signature) || !bytes.Equal(sc.Payload, scs[0].Payload) {
			t.Errorf("device %d got another fleet answer than device 0", i)
		}
		for _, id := range ids {
			a, err := checksig.Verify(sc, keys, reqFor(id).Subject())
			if err != nil || a.Audience != api.AudienceFleet || a.DeviceID != id || a.Update == nil || a.Update.Target.Version != "1.0.1" {
				t.Fatalf("device %d's answer for device %s: %+v, %v", i, id, a, err)
			}
		}
		other := reqFor(ids[0])
		other.Current = api.CurrentBundle{Version: "builtin"}
		if _, err := checksig.Verify(sc, keys, other.Subject()); !errors.Is(err, checksig.ErrBadSignature) {
			t.Errorf("a fleet answer verifies for another base: %v", err)
		}
	}
	// One signature at most (none when the warm-up's of this second is
	// still kept) for the three devices.
	signed, cached := after.Fleet-before.Fleet, after.FleetCached-before.FleetCached
	if signed > 1 || signed+cached != uint64(len(ids)) || after.Device != before.Device {
		t.Errorf("signatures %+v, then %+v: want at most one fleet signature for %d devices", before, after, len(ids))
	}
	_, metrics := fetchURL(t, c, e.URL+server.PathMetrics)
	if want := fmt.Sprintf("patchwire_native_answers_total{signature=\"fleet_cached\"} %d", after.FleetCached); !bytes.Contains(metrics, []byte(want)) {
		t.Errorf("/metrics has no %q", want)
	}

	// Device-bound: an override of one device, a rollout drawing by id.
	// Each answer verifies only for its device.
	deviceOnly := func(what string) {
		t.Helper()
		for i, sc := range post() {
			if sc.Payload[0] != byte(api.AudienceDevice) {
				t.Fatalf("%s: device %d: audience %d, want a device answer", what, i, sc.Payload[0])
			}
			for j, id := range ids {
				_, err := checksig.Verify(sc, keys, reqFor(id).Subject())
				if (i == j) != (err == nil) {
					t.Errorf("%s: device %d's answer for device %d: %v", what, i, j, err)
				}
			}
		}
	}
	ctx := context.Background()
	if _, err := e.Store.CreateChannel(ctx, api.Channel{App: app, Name: "pinned", Bundle: "1.0.1",
		IOS: true, Android: true, AllowDevice: true, AllowProd: true, AllowDev: true, Policy: "major"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.SetOverride(ctx, app, ids[1], "pinned"); err != nil {
		t.Fatal(err)
	}
	scs = post()
	if scs[1].Payload[0] != byte(api.AudienceDevice) || scs[0].Payload[0] != byte(api.AudienceFleet) || scs[2].Payload[0] != byte(api.AudienceFleet) {
		t.Errorf("override of device 1: audiences %d %d %d, want fleet, device, fleet", scs[0].Payload[0], scs[1].Payload[0], scs[2].Payload[0])
	}
	if _, err := checksig.Verify(scs[1], keys, reqFor(ids[0]).Subject()); !errors.Is(err, checksig.ErrBadSignature) {
		t.Errorf("the overridden device's answer verifies for another: %v", err)
	}
	if err := e.Store.ClearOverride(ctx, app, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Rollout(ctx, app, ch.Name, api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.0.0", BasisPoints: 5000}); err != nil {
		t.Fatal(err)
	}
	deviceOnly("rollout at 50 %")
	if _, err := e.Store.Rollout(ctx, app, ch.Name, api.RolloutRequest{Action: api.RolloutPause}); err != nil {
		t.Fatal(err)
	}
	for i, sc := range post() {
		if sc.Payload[0] != byte(api.AudienceFleet) {
			t.Errorf("paused rollout: device %d: audience %d, want a fleet answer", i, sc.Payload[0])
		}
	}
}
