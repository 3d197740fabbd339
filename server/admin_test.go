package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
)

const app = "com.example.app"

// state fingerprints everything stored, to prove a refused request changed nothing.
//
// The patcher's background work (patches and steps a channel change
// schedules) is let finish first: it is not the request's doing.
func state(t *testing.T, env *servertest.Env) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := server.SettlePatches(ctx, env.Server); err != nil {
		t.Fatal(err)
	}
	n, d, err := env.Store.StateDigest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d keys, %s", n, d)
}

// call sends a raw request with the admin key and decodes the error body.
func call(t *testing.T, env *servertest.Env, method, path, key, contentType string, body []byte) (int, api.Error) {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := env.HTTPSClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e api.Error
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(b, &e); err != nil || e.Code == "" || e.Message == "" {
			t.Errorf("%s %s: status %d with body %q, want a JSON error", method, path, resp.StatusCode, b)
		}
		if strings.HasSuffix(e.Message, store.ErrInvalid.Error()) {
			t.Errorf("%s %s: message %q repeats the store's sentinel the code already says", method, path, e.Message)
		}
	}
	return resp.StatusCode, e
}

func newApp(t *testing.T, env *servertest.Env) *client.Client {
	t.Helper()
	c := env.Client(env.AdminKey, false)
	if _, err := c.CreateApp(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	return c
}

func uploadJSON(t *testing.T, files []manifest.Entry, version string) []byte {
	t.Helper()
	b, err := json.Marshal(api.UploadRequest{Version: version, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadManifestRefusals(t *testing.T) {
	env := servertest.Start(t)
	newApp(t, env)
	d := manifest.Sum([]byte("x"))
	entry := func(p string) manifest.Entry { return manifest.Entry{Path: p, Digest: d, Size: 1} }
	uploads := "/api/v1/apps/" + app + "/uploads"
	cases := []struct {
		name   string
		body   []byte
		ctype  string
		status int
		code   string
	}{
		{"dot-dot", uploadJSON(t, []manifest.Entry{entry("../a")}, "1.0.0"), "application/json", 400, manifest.CodeUnsafePath},
		{"absolute", uploadJSON(t, []manifest.Entry{entry("/a")}, "1.0.0"), "", 400, manifest.CodeUnsafePath},
		{"drive letter", uploadJSON(t, []manifest.Entry{entry("C:/a")}, "1.0.0"), "", 400, manifest.CodeUnsafePath},
		{"backslash", uploadJSON(t, []manifest.Entry{entry(`a\..\b`)}, "1.0.0"), "", 400, manifest.CodeUnsafePath},
		{"nested dot-dot", uploadJSON(t, []manifest.Entry{entry("a/../../b")}, "1.0.0"), "", 400, manifest.CodeUnsafePath},
		{"NUL", uploadJSON(t, []manifest.Entry{entry("a\x00b")}, "1.0.0"), "", 400, manifest.CodeUnsafePath},
		{"control", uploadJSON(t, []manifest.Entry{entry("a\x1bb")}, "1.0.0"), "", 400, manifest.CodeUnsafePath},
		{"duplicate", uploadJSON(t, []manifest.Entry{entry("a.js"), entry("a.js")}, "1.0.0"), "", 400, manifest.CodeDuplicatePath},
		{"case collision", uploadJSON(t, []manifest.Entry{entry("app.js"), entry("APP.js")}, "1.0.0"), "", 400, manifest.CodeCaseCollision},
		{"NFC collision", uploadJSON(t, []manifest.Entry{entry("caf\u00e9.js"), entry("cafe\u0301.js")}, "1.0.0"), "", 400, manifest.CodeCaseCollision},
		{"long path", uploadJSON(t, []manifest.Entry{entry(strings.Repeat("a", 5000))}, "1.0.0"), "", 400, manifest.CodeUnsafePath},
		{"deep path", uploadJSON(t, []manifest.Entry{entry(strings.Repeat("a/", 100) + "b")}, "1.0.0"), "", 400, manifest.CodeUnsafePath},
		{"empty", uploadJSON(t, nil, "1.0.0"), "", 400, manifest.CodeEmptyBundle},
		{"bad version", uploadJSON(t, []manifest.Entry{entry("index.html")}, "v1.2"), "", 400, api.CodeInvalidVersion},
		{"not JSON", []byte("{"), "", 400, api.CodeBadRequest},
		{"trailing garbage", append(uploadJSON(t, []manifest.Entry{entry("index.html")}, "1.0.0"), "x"...), "", 400, api.CodeBadRequest},
		{"unknown member", []byte(`{"version":"1.0.0","files":[],"extra":1}`), "", 400, api.CodeBadRequest},
		{"case-variant member", []byte(`{"Version":"1.0.0","files":[]}`), "", 400, api.CodeBadRequest},
		{"duplicate member", []byte(`{"version":"1.0.0","version":"2.0.0","files":[]}`), "", 400, api.CodeBadRequest},
		{"bad digest", []byte(`{"version":"1.0.0","files":[{"path":"a","sha256":"ABC","size":1}]}`), "", 400, api.CodeBadRequest},
		{"wrong content type", uploadJSON(t, []manifest.Entry{entry("index.html")}, "1.0.0"), "text/plain", 415, "unsupported_media_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t, env)
			status, e := call(t, env, "POST", uploads, env.AdminKey, tc.ctype, tc.body)
			if status != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", status, e.Code, e.Message, tc.status, tc.code)
			}
			if after := state(t, env); after != before {
				t.Errorf("store changed: %s -> %s", before, after)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	env := servertest.Start(t, servertest.WithLimits(server.Limits{AuthFailuresPerMinute: 5}))
	admin := newApp(t, env)
	ctx := context.Background()
	if _, err := admin.CreateApp(ctx, "com.other.app"); err != nil {
		t.Fatal(err)
	}
	up, err := admin.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{app}})
	if err != nil {
		t.Fatal(err)
	}
	read, err := admin.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	body := uploadJSON(t, []manifest.Entry{{Path: "index.html", Digest: manifest.Sum(nil), Size: 0}}, "1.0.0")
	cases := []struct {
		name, method, path, key string
		status                  int
	}{
		{"upload key on its app", "POST", "/api/v1/apps/" + app + "/uploads", up.Secret, 201},
		{"upload key on another app", "POST", "/api/v1/apps/com.other.app/uploads", up.Secret, 403},
		{"upload key creates apps", "POST", "/api/v1/apps", up.Secret, 403},
		{"read key lists bundles", "GET", "/api/v1/apps/" + app + "/bundles", read.Secret, 200},
		{"read key uploads", "POST", "/api/v1/apps/" + app + "/uploads", read.Secret, 403},
		{"admin lists keys", "GET", "/api/v1/keys", env.AdminKey, 200},
		{"upload key lists keys", "GET", "/api/v1/keys", up.Secret, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b []byte
			if tc.method == "POST" {
				b = body
			}
			if status, e := call(t, env, tc.method, tc.path, tc.key, "", b); status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, e.Message, tc.status)
			}
		})
	}

	t.Run("two Authorization headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", env.URL+"/api/v1/apps", nil)
		req.Header.Add("Authorization", "Bearer a")
		req.Header.Add("Authorization", "Bearer b")
		resp, err := env.HTTPSClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 && resp.StatusCode != 429 {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("100 KB Authorization header", func(t *testing.T) {
		req, _ := http.NewRequest("GET", env.URL+"/api/v1/apps", nil)
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("k", 100_000))
		resp, err := env.HTTP1Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 431 {
			t.Fatalf("status %d, want 431", resp.StatusCode)
		}
	})
}

func TestVersionsAreImmutable(t *testing.T) {
	env := servertest.Start(t)
	newApp(t, env)
	z := zipOf(t, map[string]string{"index.html": "<h1>1</h1>"})
	path := "/api/v1/apps/" + app + "/bundles/1.0.0"
	if status, e := call(t, env, "PUT", path, env.AdminKey, "application/zip", z); status != 201 {
		t.Fatalf("first upload: %d %s", status, e.Message)
	}
	before := state(t, env)
	status, e := call(t, env, "PUT", path, env.AdminKey, "application/zip", zipOf(t, map[string]string{"index.html": "<h1>2</h1>"}))
	if status != 409 || e.Code != api.CodeVersionExists || !strings.Contains(e.Message, "immutable") {
		t.Fatalf("second upload: %d %q %q, want 409 version_exists saying versions are immutable", status, e.Code, e.Message)
	}
	body := uploadJSON(t, []manifest.Entry{{Path: "index.html", Digest: manifest.Sum(nil), Size: 0}}, "1.0.0")
	if status, e := call(t, env, "POST", "/api/v1/apps/"+app+"/uploads", env.AdminKey, "", body); status != 409 {
		t.Fatalf("manifest upload of an existing version: %d %q", status, e.Code)
	}
	if after := state(t, env); after != before {
		t.Errorf("store changed: %s -> %s", before, after)
	}
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipWith builds a zip whose entries are given by their headers.
func zipWith(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(e.hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zipEntry struct {
	hdr  *zip.FileHeader
	data []byte
}

func entryWithMode(name string, mode os.FileMode, data string) zipEntry {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.SetMode(mode)
	return zipEntry{h, []byte(data)}
}

func TestZipUploadRefusals(t *testing.T) {
	lim := server.DefaultLimits()
	lim.MaxUploadBytes = 8 << 20
	lim.Bundle.MaxBundleBytes = 4 << 20
	env := servertest.Start(t, servertest.WithLimits(lim))
	newApp(t, env)
	good := map[string]string{"index.html": "<h1>hi</h1>"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"dot-dot entry", zipOf(t, with(map[string]string{"../evil.js": "x"})), 400, manifest.CodeUnsafePath},
		{"absolute entry", zipOf(t, with(map[string]string{"/abs.js": "x"})), 400, manifest.CodeUnsafePath},
		{"backslash entry", zipOf(t, with(map[string]string{`a\b.js`: "x"})), 400, manifest.CodeUnsafePath},
		{"case collision", zipOf(t, with(map[string]string{"app.js": "1", "APP.js": "2"})), 400, manifest.CodeCaseCollision},
		{"no index.html", zipOf(t, map[string]string{"main.js": "x"}), 400, manifest.CodeNoIndex},
		{"truncated", zipOf(t, good)[:40], 400, manifest.CodeCorruptZip},
		{"junk", []byte("this is not a zip at all"), 400, manifest.CodeCorruptZip},
		{"prepended junk", append([]byte("JUNK"), zipOf(t, good)...), 400, manifest.CodeCorruptZip},
		{"over the upload limit", append(zipOf(t, good), make([]byte, 9<<20)...), 413, api.CodeBodyTooLarge},
		{"symlink entry", zipWith(t, entryWithMode("index.html", 0o644, "hi"), entryWithMode("link.js", os.ModeSymlink|0o777, "/etc/passwd")), 400, manifest.CodeNotRegular},
		{"device entry", zipWith(t, entryWithMode("index.html", 0o644, "hi"), entryWithMode("dev", os.ModeDevice|0o644, "")), 400, manifest.CodeNotRegular},
		{"inflation ratio bomb", zipWith(t, entryWithMode("index.html", 0o644, "hi"), entryWithMode("zeros.js", 0o644, strings.Repeat("\x00", 3<<20))), 400, manifest.CodeCompression},
		{"more bytes than the bundle limit", zipWith(t, entryWithMode("index.html", 0o644, "hi"),
			zipEntry{&zip.FileHeader{Name: "a.bin", Method: zip.Store}, randomBytes(5<<19, 7)},
			zipEntry{&zip.FileHeader{Name: "b.bin", Method: zip.Store}, randomBytes(5<<19, 8)}), 413, manifest.CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t, env)
			status, e := call(t, env, "PUT", "/api/v1/apps/"+app+"/bundles/1.0.0", env.AdminKey, "application/zip", tc.body)
			if status != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", status, e.Code, e.Message, tc.status, tc.code)
			}
			if after := state(t, env); after != before {
				t.Errorf("store changed: %s -> %s", before, after)
			}
		})
	}
}

func TestObjectUploadRefusals(t *testing.T) {
	env := servertest.Start(t)
	c := newApp(t, env)
	content := []byte("<h1>hello</h1>")
	d := manifest.Sum(content)
	status, e := call(t, env, "POST", "/api/v1/apps/"+app+"/uploads", env.AdminKey, "",
		uploadJSON(t, []manifest.Entry{{Path: "index.html", Digest: d, Size: int64(len(content))}}, "1.0.0"))
	if status != 201 {
		t.Fatalf("create upload: %d %s", status, e.Message)
	}
	ups, err := env.Store.ListUploads(context.Background())
	if err != nil || len(ups) != 1 {
		t.Fatalf("uploads: %v %v", ups, err)
	}
	id := ups[0].ID
	objPath := func(d manifest.Digest) string { return "/api/v1/uploads/" + id + "/objects/" + d.String() }
	wrong := []byte("<h1>hellO</h1>")
	cases := []struct {
		name   string
		path   string
		body   []byte
		status int
		code   string
	}{
		{"bytes that do not hash to the digest", objPath(d), wrong, 400, manifest.CodeDigestMismatch},
		{"one byte short", objPath(d), content[:len(content)-1], 400, manifest.CodeDigestMismatch},
		{"one byte more", objPath(d), append(append([]byte{}, content...), '!'), 413, api.CodeBodyTooLarge},
		{"not in the upload", objPath(manifest.Sum(wrong)), wrong, 400, api.CodeBadRequest},
		{"commit before objects", "/api/v1/uploads/" + id + "/commit", nil, 409, api.CodeMissingObjects},
		{"unknown session", "/api/v1/uploads/0123/objects/" + d.String(), content, 404, api.CodeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t, env)
			method := "PUT"
			if strings.HasSuffix(tc.path, "/commit") {
				method = "POST"
			}
			status, e := call(t, env, method, tc.path, env.AdminKey, "", tc.body)
			if status != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", status, e.Code, e.Message, tc.status, tc.code)
			}
			if after := state(t, env); after != before {
				t.Errorf("store changed: %s -> %s", before, after)
			}
		})
	}
	bundles, err := c.ListBundles(context.Background(), app)
	if err != nil || len(bundles) != 0 {
		t.Fatalf("bundles after refusals: %v %v", bundles, err)
	}
	var apiErr *client.APIError
	if err := c.DeleteBundle(context.Background(), app, "9.9.9"); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("delete unknown bundle: %v", err)
	}
}

// TestUploadSmallCompressibleObjects guards a regression: objects whose
// zstd form is smaller than zstd's minimum window (1 KiB) must upload.
func TestUploadSmallCompressibleObjects(t *testing.T) {
	env := servertest.Start(t)
	c := newApp(t, env)
	dir := t.TempDir()
	for name, size := range map[string]int{"index.html": 224, "a.css": 40, "b.js": 1000, "c.js": 5000} {
		if err := os.WriteFile(dir+"/"+name, bytes.Repeat([]byte("ab"), size/2), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := manifest.OpenDir(context.Background(), dir, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sum, err := c.Upload(context.Background(), src, client.UploadOptions{App: app, Version: "1.0.0"})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if sum.ObjectsNew != 4 || sum.ObjectBytes >= sum.BundleBytes {
		t.Fatalf("summary %+v: want 4 new objects sent compressed", sum)
	}
}

func TestNoAltSvcWithoutHTTP3(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config, _ *store.Options) { c.DisableHTTP3 = true })
	resp, _ := get(t, env.HTTPSClient(), "GET", env.URL+"/healthz", nil)
	if alt := resp.Header.Get("Alt-Svc"); alt != "" {
		t.Fatalf("Alt-Svc %q with HTTP/3 disabled", alt)
	}
}

// TestSlowUploadBodyTimesOut: a body that stalls is cut on every transport,
// HTTP/3 included (its server has no ReadTimeout of its own), and its
// temporary file is removed. Once the body flows it is the minimum body
// rate's window that cuts it (bodyrate.go), not ReadTimeout.
func TestSlowUploadBodyTimesOut(t *testing.T) {
	env := servertest.Start(t, servertest.WithLimits(server.Limits{ReadTimeout: time.Second, WriteTimeout: 5 * time.Second, MinBodyRateWindow: time.Second}))
	newApp(t, env)
	for name, hc := range map[string]*http.Client{"https": env.HTTPSClient(), "http3": env.HTTP3Client()} {
		t.Run(name, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			go pw.Write([]byte("PK\x03\x04")) // then nothing more
			req, _ := http.NewRequest("PUT", env.URL+"/api/v1/apps/"+app+"/bundles/1.0.0", pr)
			req.Header.Set("Authorization", "Bearer "+env.AdminKey)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			start := time.Now()
			resp, err := hc.Do(req.WithContext(ctx))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if took := time.Since(start); ctx.Err() != nil || took > 5*time.Second {
				t.Fatalf("the stalled upload ran %v (err %v): the server never cut it", took, err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	if left, _ := filepath.Glob(filepath.Join(env.Dir, "tmp", "upload-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestZipUploadSchedulesPatches: a zip upload is an upload commit, and like
// the upload protocol's commit it schedules patches to the new bundle from
// the app's last bundles (docs/architecture.md, "Making patches").
func TestZipUploadSchedulesPatches(t *testing.T) {
	env := servertest.Start(t)
	newApp(t, env)
	ctx := context.Background()
	js := strings.Repeat("export const greeting = 'hello, world';\n", 200)
	var ms []manifest.Digest
	for i, v := range []string{"1.0.0", "1.0.1"} {
		body := zipOf(t, map[string]string{"index.html": "<script src=app.js></script>", "app.js": js + fmt.Sprint(i)})
		status, e := call(t, env, "PUT", "/api/v1/apps/"+app+"/bundles/"+v, env.AdminKey, "", body)
		if status != 201 {
			t.Fatalf("zip upload %s: %d %s", v, status, e.Message)
		}
		b, err := env.Store.GetBundle(ctx, app, v)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, b.Manifest)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := server.WaitPatches(wctx, env.Server); err != nil {
		t.Fatal(err)
	}
	got, err := env.Store.LookupPatches(ctx, []store.PatchKey{
		{Codec: "zstd-dict", From: ms[0], To: ms[1], Bundle: true},
		{Codec: "bsdiff", From: ms[0], To: ms[1], Bundle: true},
	})
	if err != nil || len(got) == 0 {
		t.Fatalf("no bundle patch 1.0.0 → 1.0.1 after the zip upload: %v %v", got, err)
	}
}

// TestStartRemovesLeftoverTempFiles: spooled uploads a crash left behind
// are removed when the server starts again.
func TestStartRemovesLeftoverTempFiles(t *testing.T) {
	env := servertest.Start(t)
	left := env.Dir + "/tmp/upload-123.zip"
	if err := os.MkdirAll(env.Dir+"/tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(left, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	env.Restart()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("leftover %s after restart: %v", left, err)
	}
}

// TestUploadCapgoEncryptionRefusals: an upload whose capgo_encryption does
// not fit its files is a 400 invalid_capgo_encryption that stores nothing;
// one that fits opens the session.
func TestUploadCapgoEncryptionRefusals(t *testing.T) {
	env := servertest.Start(t)
	newApp(t, env)
	d := manifest.Sum([]byte("x"))
	files := []manifest.Entry{{Path: "index.html", Digest: d, Size: 1}, {Path: "js/app.js", Digest: d, Size: 1}}
	zipEntry := manifest.Entry{Path: api.CapgoZipPath, Digest: d, Size: 1}
	sig := strings.Repeat("ab", 256)
	b64 := base64.StdEncoding.EncodeToString
	valid := func() *api.CapgoEncryption {
		return &api.CapgoEncryption{Format: 1, KeyID: "MIIBCgKCAQEAvD1tX3Jd", SessionKey: b64(make([]byte, 16)) + ":" + b64(make([]byte, 256)),
			Files: map[string]string{"index.html": sig, "js/app.js": sig}}
	}
	body := func(files []manifest.Entry, keyID string, edit func(*api.CapgoEncryption)) []byte {
		enc := valid()
		edit(enc)
		b, err := json.Marshal(api.UploadRequest{Version: "1.0.0", Files: files, BundleMeta: api.BundleMeta{CapgoKeyID: keyID, CapgoEncryption: enc}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	uploads := "/api/v1/apps/" + app + "/uploads"
	cases := []struct {
		name string
		body []byte
	}{
		{"format 0", body(files, "", func(e *api.CapgoEncryption) { e.Format = 0 })},
		{"bad session key", body(files, "", func(e *api.CapgoEncryption) { e.SessionKey = `x":"y` })},
		{"file without hash", body(files, "", func(e *api.CapgoEncryption) { delete(e.Files, "index.html") })},
		{"hash of no file", body(files, "", func(e *api.CapgoEncryption) { e.Files["gone.js"] = sig })},
		{"short file hash", body(files, "", func(e *api.CapgoEncryption) { e.Files["index.html"] = "00" })},
		{"zip without checksum", body(append(files[:2:2], zipEntry), "", func(*api.CapgoEncryption) {})},
		{"other key id", body(files, "AAAAAAAAAAAAAAAAAAAA", func(*api.CapgoEncryption) {})},
		{"encryption as a file too", body(append(files[:2:2], manifest.Entry{Path: api.CapgoEncryptionPath, Digest: d, Size: 1}), "", func(*api.CapgoEncryption) {})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t, env)
			status, e := call(t, env, "POST", uploads, env.AdminKey, "application/json", tc.body)
			if status != http.StatusBadRequest || e.Code != api.CodeInvalidCapgoEncryption {
				t.Fatalf("got %d %q (%s), want 400 %q", status, e.Code, e.Message, api.CodeInvalidCapgoEncryption)
			}
			if after := state(t, env); after != before {
				t.Errorf("store changed: %s -> %s", before, after)
			}
		})
	}
	if status, e := call(t, env, "POST", uploads, env.AdminKey, "application/json", body(files, "MIIBCgKCAQEAvD1tX3Jd", func(*api.CapgoEncryption) {})); status != http.StatusCreated {
		t.Errorf("valid encryption: %d %q (%s), want 201", status, e.Code, e.Message)
	}
}
