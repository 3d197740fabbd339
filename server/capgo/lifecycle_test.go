package capgo_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestPluginLifecycle plays what the unmodified plugin does against the live
// server, over HTTPS (HTTP/2) and over HTTP/3: check, download the zip,
// verify its checksum, report "set", check again (up to date); then a new
// bundle delivered by manifest, where only the files the device lacks are
// fetched and every file, Brotli ones decoded, matches its file_hash.
func TestPluginLifecycle(t *testing.T) {
	for _, transport := range []string{"https", "http3"} {
		t.Run(transport, func(t *testing.T) {
			env := servertest.Start(t)
			c := env.HTTPSClient()
			if transport == "http3" {
				c = env.HTTP3Client()
			}
			lifecycle(t, env, c)
		})
	}
}

func lifecycle(t *testing.T, env *servertest.Env, c *http.Client) {
	ctx := context.Background()
	newApp(t, env, testApp)
	v1 := bundleFiles("v1")
	commitBundle(t, env, testApp, "1.0.1", v1)
	channel(t, env, testApp, "production", "1.0.1", nil)
	updates := env.URL + "/updates"

	// 1. An old plugin (no manifest support) on the native bundle checks.
	oldPlugin := func(m map[string]any) { m["plugin_version"] = "6.0.0" }
	r := do(t, c, "POST", updates, info(oldPlugin))
	if r.Status != 200 || r.Body["version"] != "1.0.1" {
		t.Fatalf("first check: %d %s", r.Status, r.Raw)
	}
	for _, k := range []string{"error", "kind", "manifest", "link", "comment"} {
		if _, ok := r.Body[k]; ok {
			t.Errorf("update answer carries %q: %s", k, r.Raw)
		}
	}
	if r.Body["session_key"] != "" {
		t.Errorf("session_key = %v, want \"\"", r.Body["session_key"])
	}
	url, sum := r.Body["url"].(string), r.Body["checksum"].(string)
	if !strings.HasPrefix(url, env.URL+"/o/") || len(sum) != 64 {
		t.Fatalf("url %q, checksum %q", url, sum)
	}

	// 2. Download the zip, verify the checksum like the plugin does, and
	// unzip it; a resumed download (Range) gets the rest.
	resp, z := get(t, c, url, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("zip download: %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	if h := sha256.Sum256(z); hex.EncodeToString(h[:]) != sum {
		t.Fatalf("zip checksum %x, answer says %s", h, sum)
	}
	resp, tail := get(t, c, url, "bytes=100-")
	if resp.StatusCode != 206 || !bytes.Equal(tail, z[100:]) {
		t.Fatalf("resumed download: %d, %d bytes", resp.StatusCode, len(tail))
	}
	checkZip(t, z, v1)
	// The zip is built once: a second check (another device) names the
	// same object.
	r2 := do(t, c, "POST", updates, info(func(m map[string]any) {
		oldPlugin(m)
		m["device_id"] = "44f128a5-ac7a-4c9a-be4c-224b6bf81b20"
	}))
	if r2.Body["checksum"] != sum || r2.Body["url"] != url {
		t.Errorf("second device got another zip: %s", r2.Raw)
	}

	// 3. The plugin reports the download (a single object, as Android's
	// download worker sends) and the switch (a batch, as its queue sends).
	done := info(oldPlugin)
	delete(done, "key_id")
	done["action"], done["version_name"], done["old_version_name"] = "download_complete", "1.0.1", ""
	if r := do(t, c, "POST", env.URL+"/stats", done); r.Status != 200 || string(r.Raw) != `{"status":"ok"}` {
		t.Fatalf("stats: %d %s", r.Status, r.Raw)
	}
	set := info(oldPlugin)
	set["action"], set["version_name"], set["old_version_name"] = "set", "1.0.1", "builtin"
	set["timestamp"] = time.Now().UnixMilli()
	r = do(t, c, "POST", env.URL+"/stats", []any{set})
	if r.Status != 200 || r.Body["status"] != "ok" {
		t.Fatalf("stats: %d %s", r.Status, r.Raw)
	}
	if res := r.Body["results"].([]any); len(res) != 1 || res[0].(map[string]any)["status"] != "ok" {
		t.Fatalf("stats results: %s", r.Raw)
	}

	// 4. Next check: up to date.
	r = do(t, c, "POST", updates, info(func(m map[string]any) { oldPlugin(m); m["version_name"] = "1.0.1" }))
	if r.Status != 200 || r.Body["error"] != "no_new_version_available" || r.Body["kind"] != "up_to_date" ||
		r.Body["message"] != "No new version available" || len(r.Body) != 3 {
		t.Fatalf("check after set: %d %s", r.Status, r.Raw)
	}

	// 5. A new bundle, delivered by manifest to a current plugin that holds
	// 1.0.1's files (its cache and its current bundle).
	v2 := bundleFiles("v2")
	v2["assets/new.css"] = []byte("body { color: red }\n")
	commitBundle(t, env, testApp, "1.0.2", v2)
	setBundle(t, env, testApp, "production", "1.0.2")
	r = do(t, c, "POST", updates, info(func(m map[string]any) { m["version_name"] = "1.0.1" }))
	if r.Status != 200 || r.Body["version"] != "1.0.2" {
		t.Fatalf("manifest check: %d %s", r.Status, r.Raw)
	}
	if _, ok := r.Body["error"]; ok {
		t.Fatalf("update answer carries error: %s", r.Raw)
	}
	if u, _ := r.Body["url"].(string); !strings.HasPrefix(u, "https://") {
		t.Errorf("manifest answer without a valid url: %s", r.Raw)
	}
	have := map[string][]byte{}
	for _, b := range v1 {
		h := sha256.Sum256(b)
		have[hex.EncodeToString(h[:])] = b
	}
	got, fetched := fetchManifest(t, c, r.Body["manifest"].([]any), have)
	if len(got) != len(v2) {
		t.Errorf("manifest has %d files, bundle %d", len(got), len(v2))
	}
	for p, b := range v2 {
		if !bytes.Equal(got[p], b) {
			t.Errorf("%s: manifest delivery differs from the bundle", p)
		}
	}
	if fetched != 3 { // app.js and precompressed.br (changed), new.css (new)
		t.Errorf("fetched %d files, want only the 3 the device lacked", fetched)
	}

	// 6. Set, then up to date.
	set = info(nil)
	set["action"], set["version_name"], set["old_version_name"] = "set", "1.0.2", "1.0.1"
	if r = do(t, c, "POST", env.URL+"/stats", set); r.Status != 200 || string(r.Raw) != `{"status":"ok"}` {
		t.Fatalf("stats: %d %s", r.Status, r.Raw)
	}
	r = do(t, c, "POST", updates, info(func(m map[string]any) { m["version_name"] = "1.0.2" }))
	if r.Body["error"] != "no_new_version_available" || r.Body["kind"] != "up_to_date" {
		t.Fatalf("check after second set: %s", r.Raw)
	}

	// 7. The stats show where the device is and what it did.
	st, err := env.Client(env.AdminKey, false).Stats(ctx, testApp, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]api.BundleStats{
		"1.0.2":   {Version: "1.0.2", Devices: 1, Installs: 1},
		"1.0.1":   {Version: "1.0.1", Downloads: 1, Installs: 1},
		"builtin": {Version: "builtin", Devices: 1}, // the second device, which only checked
	}
	if len(st.Bundles) != len(want) {
		t.Fatalf("stats: %+v", st)
	}
	for _, b := range st.Bundles {
		if b != want[b.Version] {
			t.Errorf("stats of %s: %+v, want %+v", b.Version, b, want[b.Version])
		}
	}
}

// checkZip unzips z and compares it with files.
func checkZip(t *testing.T, z []byte, files map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(files) {
		t.Errorf("zip has %d entries, bundle %d", len(zr.File), len(files))
	}
	for _, f := range zr.File {
		if f.Flags&0x8 != 0 {
			t.Errorf("%s: zip entry uses a data descriptor", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if want, ok := files[f.Name]; !ok || !bytes.Equal(b, want) {
			t.Errorf("%s: zip entry differs from the bundle", f.Name)
		}
	}
}

// fetchManifest does what the plugin does with a manifest: for each entry,
// reuse a file the device holds (by hash) or download it, decode Brotli
// for .br names, check the hash, and write it under its name without .br.
// It returns the files by path and how many were downloaded.
func fetchManifest(t *testing.T, c *http.Client, entries []any, have map[string][]byte) (map[string][]byte, int) {
	t.Helper()
	out := map[string][]byte{}
	fetched, brotlis := 0, 0
	for _, e := range entries {
		m := e.(map[string]any)
		name, hash, url := m["file_name"].(string), m["file_hash"].(string), m["download_url"].(string)
		target := strings.TrimSuffix(name, ".br")
		if _, dup := out[target]; dup {
			t.Errorf("two manifest entries write %s", target)
		}
		if b, ok := have[hash]; ok {
			out[target] = b // reused from the device's own files
			continue
		}
		resp, b := get(t, c, url, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("%s: %d, Content-Encoding %q", url, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		fetched++
		if strings.HasSuffix(name, ".br") {
			brotlis++
			if b, err := io.ReadAll(brotli.NewReader(bytes.NewReader(b))); err != nil {
				t.Fatalf("%s: brotli: %v", name, err)
			} else {
				out[target] = b
			}
		} else {
			out[target] = b
		}
		if h := sha256.Sum256(out[target]); hex.EncodeToString(h[:]) != hash {
			t.Errorf("%s: content hashes to %x, file_hash %s", name, h, hash)
		}
	}
	if brotlis == 0 {
		t.Error("no Brotli file was fetched")
	}
	return out, fetched
}
