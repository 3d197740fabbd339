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
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
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
	printed := server.PublicKeyBase64(priv.Public().(ed25519.PublicKey))
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
	var sc api.SignedCheck
	if err := json.Unmarshal(b, &sc); err != nil {
		e.t.Fatal(err)
	}
	return sc
}

// check posts req and verifies the answer with the printed public key.
func (e *nativeEnv) check(c *http.Client, req api.CheckRequest) api.CheckAnswer {
	e.t.Helper()
	sc := e.post(c, req)
	a, err := server.VerifyCheck(e.pub, sc)
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	if want := server.SigningKeyID(e.pub); sc.KeyID != want {
		e.t.Errorf("key id %q, want %q", sc.KeyID, want)
	}
	return a
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

// install executes plan on the device's files as a device does, verifying
// every byte, and returns the target's files.
func install(t testing.TB, c *http.Client, cur map[string][]byte, plan *api.Plan) map[string][]byte {
	t.Helper()
	next := map[string][]byte{}
	if plan.From.String() != api.EmptyManifest {
		if got := manifestOfFiles(t, cur).Digest(); got != plan.From {
			t.Fatalf("plan starts from %s, the device runs %s", plan.From, got)
		}
		for p, b := range cur {
			next[p] = b
		}
	}
	for _, p := range plan.Removed {
		if _, ok := next[p]; !ok {
			t.Fatalf("removed %q is not in the current bundle", p)
		}
		delete(next, p)
	}
	// The target manifest, derived before downloading anything.
	derived := map[string]manifest.Entry{}
	for p, b := range next {
		derived[p] = manifest.Entry{Path: p, Digest: manifest.Sum(b), Size: int64(len(b))}
	}
	var entries []manifest.Entry
	for _, cp := range plan.Copies {
		entries = append(entries, cp.Entry)
	}
	for _, f := range plan.Fetches {
		entries = append(entries, f.Entry)
	}
	for _, fp := range plan.FilePatches {
		entries = append(entries, fp.Entry)
	}
	if plan.BundlePatch != nil {
		entries = append(entries, plan.BundlePatch.Entries...)
	}
	for _, e := range entries {
		derived[e.Path] = e
	}
	var list []manifest.Entry
	for _, e := range derived {
		list = append(list, e)
	}
	m, err := manifest.New(list, manifest.DefaultLimits())
	if err != nil || m.Digest() != plan.Target.Manifest {
		t.Fatalf("derived target manifest does not match the signed one: %v", err)
	}
	download := func(url string, d manifest.Digest, size int64) []byte {
		resp, b := fetchURL(t, c, url)
		if resp.StatusCode != 200 || int64(len(b)) != size || manifest.Sum(b) != d {
			t.Fatalf("GET %s: %d, %d bytes, want %d with digest %s", url, resp.StatusCode, len(b), size, d)
		}
		return b
	}
	var downloaded int64
	put := func(e manifest.Entry, b []byte) {
		if int64(len(b)) != e.Size || manifest.Sum(b) != e.Digest {
			t.Fatalf("%s does not rebuild", e.Path)
		}
		next[e.Path] = b
	}
	for _, cp := range plan.Copies {
		put(cp.Entry, cur[cp.Source])
	}
	for _, f := range plan.Fetches {
		put(f.Entry, download(f.URL, f.Entry.Digest, f.Entry.Size))
		downloaded += f.Entry.Size // raw: this client does not ask for zstd
	}
	for _, fp := range plan.FilePatches {
		codec, _ := delta.Lookup(fp.Patch.Codec)
		patch := download(fp.Patch.URL, fp.Patch.Digest, fp.Patch.Size)
		downloaded += fp.Patch.Size
		out, err := codec.Apply(cur[fp.Base], patch, fp.Entry.Size)
		if err != nil {
			t.Fatal(err)
		}
		put(fp.Entry, out)
	}
	if bp := plan.BundlePatch; bp != nil {
		codec, _ := delta.Lookup(bp.Patch.Codec)
		patch := download(bp.Patch.URL, bp.Patch.Digest, bp.Patch.Size)
		downloaded += bp.Patch.Size
		layout, err := manifest.DictionaryOrder(manifestOfFiles(t, cur), bp.Bases)
		if err != nil {
			t.Fatal(err)
		}
		dict := make([][]byte, len(layout))
		for i, e := range layout {
			dict[i] = cur[e.Path]
		}
		sizes := make([]int64, len(bp.Entries))
		for i, e := range bp.Entries {
			sizes[i] = e.Size
		}
		out, err := delta.ApplyBundle(codec, dict, patch, sizes)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range bp.Entries {
			put(e, out[i])
		}
	}
	if got := manifestOfFiles(t, next).Digest(); got != plan.Target.Manifest {
		t.Fatalf("installed bundle is %s, want %s", got, plan.Target.Manifest)
	}
	if plan.BundlePatch != nil && downloaded != plan.DownloadBytes {
		t.Errorf("downloaded %d bytes, the plan says %d", downloaded, plan.DownloadBytes)
	}
	return next
}

func TestNativeCheck(t *testing.T) {
	e := newNativeEnv(t)
	va := server.NewViteApp(1, 4000)
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
	p := a.Plan
	if a.NoUpdate != nil || p == nil {
		t.Fatalf("want a plan, got %+v", a.NoUpdate)
	}
	if a.Type != api.CheckAnswerType || a.App != app || a.Channel != "production" || a.Platform != "android" ||
		a.DeviceID != checkRequest("", manifest.Digest{}).DeviceID || a.Sequence != ch.Sequence || a.Sequence == 0 {
		t.Errorf("binding: %+v", a)
	}
	if d := a.Expires.Sub(a.IssuedAt); d != server.DefaultAnswerTTL || time.Since(a.IssuedAt) > time.Minute {
		t.Errorf("issued %v, expires %v", a.IssuedAt, a.Expires)
	}
	if p.Target.Version != "1.0.1" || p.Target.Manifest != v2.Digest() || p.Target.Files != v2.Len() || p.Target.Size != v2.TotalSize() || p.From != v1.Digest() {
		t.Errorf("target %+v from %s", p.Target, p.From)
	}
	if p.BundlePatch != nil || len(p.FilePatches) != 0 || len(p.Fetches) == 0 {
		t.Fatalf("first plan: %d fetches, %d file patches, bundle %v", len(p.Fetches), len(p.FilePatches), p.BundlePatch != nil)
	}
	// Only what changes is listed.
	if n := len(p.Fetches) + len(p.Copies) + len(p.Removed); n >= v2.Len()+v1.Len() || len(p.Removed) == 0 {
		t.Errorf("plan lists %d files for a 3-chunk release of %d files", n, v2.Len())
	}
	var whole int64
	for _, f := range p.Fetches {
		whole += f.Entry.Size
	}
	install(t, https, e.releases["1.0.0"], p)

	// Once the patcher has run, the next check (over HTTP/3) gets the
	// bundle patch.
	resume()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.WaitPatches(ctx, e.Server); err != nil {
		t.Fatal(err)
	}
	a = e.check(h3, checkRequest("1.0.0", v1.Digest()))
	p = a.Plan
	if p == nil || p.BundlePatch == nil {
		t.Fatalf("second plan has no bundle patch: %+v", p)
	}
	if len(p.Fetches)+len(p.FilePatches) != 0 || p.DownloadBytes != p.BundlePatch.Patch.Size || p.DownloadBytes*5 > whole {
		t.Errorf("bundle patch plan: %d bytes against %d whole", p.DownloadBytes, whole)
	}
	if p.BundlePatch.Patch.Codec != delta.NameZstdDict && p.BundlePatch.Patch.Codec != delta.NameBsdiff {
		t.Errorf("codec %q", p.BundlePatch.Patch.Codec)
	}
	got := install(t, h3, e.releases["1.0.0"], p)
	if len(got) != len(e.releases["1.0.1"]) {
		t.Errorf("installed %d files, want %d", len(got), len(e.releases["1.0.1"]))
	}
	// A device that applies only zstd-dict gets a zstd-dict patch.
	req := checkRequest("1.0.0", v1.Digest())
	req.Codecs = []string{delta.NameZstdDict}
	if p := e.check(https, req).Plan; p.BundlePatch == nil || p.BundlePatch.Patch.Codec != delta.NameZstdDict {
		t.Errorf("zstd-dict only: %+v", p.BundlePatch)
	}
	// A device that applies no codec gets whole objects.
	req.Codecs = nil
	if p := e.check(https, req).Plan; p.BundlePatch != nil || len(p.FilePatches) != 0 {
		t.Error("no codecs: patches planned")
	}
}

func TestNativeCheckSignature(t *testing.T) {
	e := newNativeEnv(t)
	va := server.NewViteApp(2, 500)
	v1 := e.publish("1.2.0", va.Files())
	e.serve("1.2.0")
	sc := e.post(e.HTTPSClient(), checkRequest("builtin", manifest.Digest{}))
	if _, err := server.VerifyCheck(e.pub, sc); err != nil {
		t.Fatal(err)
	}
	tampered := sc
	tampered.Payload = bytes.Replace(sc.Payload, []byte(`"1.2.0"`), []byte(`"6.6.6"`), 1)
	if bytes.Equal(tampered.Payload, sc.Payload) {
		t.Fatalf("payload does not name the version: %s", sc.Payload)
	}
	if _, err := server.VerifyCheck(e.pub, tampered); !errors.Is(err, server.ErrBadSignature) {
		t.Errorf("tampered payload: %v", err)
	}
	tampered = sc
	tampered.Signature = append([]byte(nil), sc.Signature...)
	tampered.Signature[10] ^= 1
	if _, err := server.VerifyCheck(e.pub, tampered); !errors.Is(err, server.ErrBadSignature) {
		t.Errorf("tampered signature: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := server.VerifyCheck(other, sc); !errors.Is(err, server.ErrBadSignature) {
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
	// Unknown current bundle: a plan from nothing, every file fetched whole.
	a := e.check(e.HTTPSClient(), checkRequest("builtin", manifest.Sum([]byte("not a manifest"))))
	if a.Plan == nil || a.Plan.From.String() != api.EmptyManifest || len(a.Plan.Fetches) != v1.Len() ||
		len(a.Plan.Copies)+len(a.Plan.Removed)+len(a.Plan.FilePatches) != 0 || a.Plan.BundlePatch != nil {
		t.Fatalf("unknown bundle: %+v", a.Plan)
	}
	install(t, e.HTTPSClient(), nil, a.Plan)
}

func TestNativeCheckRefusals(t *testing.T) {
	e := newNativeEnv(t)
	va := server.NewViteApp(3, 500)
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
			if a.Plan != nil || a.NoUpdate == nil || a.NoUpdate.Code != tc.code || a.NoUpdate.Message == "" {
				t.Fatalf("got %+v %+v, want %s", a.NoUpdate, a.Plan, tc.code)
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
	if a.Plan == nil || a.Plan.Target.Version != "builtin" || !a.Plan.Target.Manifest.IsZero() || a.Sequence != ch2.Sequence || ch2.Sequence <= ch.Sequence {
		t.Errorf("builtin: %+v sequence %d", a.Plan, a.Sequence)
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
	va := server.NewViteApp(4, 2000)
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
	// Made at publish: the first check already has the bundle patch.
	a := e.check(e.HTTP3Client(), checkRequest("1.0.1", ms["1.0.1"].Digest()))
	p := a.Plan
	if p == nil || p.BundlePatch == nil {
		t.Fatalf("no bundle patch for 1.0.1 → 1.0.5 after publish: %+v", p)
	}
	wantURL := env.URL + server.DeltaPath(p.BundlePatch.Patch.Codec, ms["1.0.1"].Digest(), ms["1.0.5"].Digest())
	if p.BundlePatch.Patch.URL != wantURL {
		t.Errorf("patch URL %s, want %s", p.BundlePatch.Patch.URL, wantURL)
	}
	install(t, e.HTTPSClient(), e.releases["1.0.1"], p)

	// The patch URL: immutable, strong ETag, Range, conditional requests.
	hc := e.HTTPSClient()
	url := p.BundlePatch.Patch.URL
	resp, body := fetchURL(t, hc, url)
	etag := `"` + p.BundlePatch.Patch.Digest.String() + `"`
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") != server.CacheForever ||
		resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Encoding") != "" || int64(len(body)) != p.BundlePatch.Patch.Size {
		t.Fatalf("GET patch: %d %v", resp.StatusCode, resp.Header)
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
	h3resp, h3body := fetchURL(t, e.HTTP3Client(), url, "Range", "bytes=0-99")
	if h3resp.StatusCode != 206 || !bytes.Equal(h3body, body[:100]) {
		t.Errorf("HTTP/3 Range: %d", h3resp.StatusCode)
	}
	headReq, _ := http.NewRequest("HEAD", url, nil)
	if resp, err := hc.Do(headReq); err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) {
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
	sp, err := env.Store.GetPatch(ctx, store.PatchKey{Codec: p.BundlePatch.Patch.Codec, From: ms["1.0.1"].Digest(), To: ms["1.0.5"].Digest(), Bundle: true})
	if err != nil || sp.Digest != p.BundlePatch.Patch.Digest {
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
	sc := e.post(e.HTTPSClient(), checkRequest("1.0.0", m1.Digest()))
	a, err := server.VerifyCheck(e.pub, sc)
	if err != nil || a.Plan == nil {
		t.Fatalf("check: %v %+v", err, a)
	}
	if a.Plan.BundlePatch == nil && len(a.Plan.FilePatches) == 0 {
		t.Fatalf("a one-line change is not patched: %+v", a.Plan)
	}
	t.Logf("signed payload %d bytes; bundle patch %v, %d file patches", len(sc.Payload), a.Plan.BundlePatch != nil, len(a.Plan.FilePatches))
	if len(sc.Payload) > 2048 {
		t.Fatalf("signed payload is %d bytes for a one-file change in a %d-file bundle", len(sc.Payload), len(v1))
	}
	install(t, e.HTTPSClient(), v1, a.Plan)
}
