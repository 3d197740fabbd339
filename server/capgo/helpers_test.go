package capgo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/servertest"
)

const (
	testApp    = "com.example.app"
	testDevice = "0f673663-459a-44c0-a7f5-613f2a4af3ab"
)

// bundleFiles returns the files of a test bundle: an index, a large
// compressible script (offered as .br), a small one, incompressible bytes
// of 12 KiB (Brotli is not smaller), an empty file and a file whose name
// ends in .br (always delivered Brotli-wrapped). tag changes app.js only.
func bundleFiles(tag string) map[string][]byte {
	var js strings.Builder
	for i := 0; js.Len() < 64<<10; i++ {
		fmt.Fprintf(&js, "export function f%d(x) { return x * %d + %q; }\n", i, i, tag)
	}
	noise := make([]byte, 12<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	return map[string][]byte{
		"index.html":              []byte(`<!doctype html><script type="module" src="assets/app.js"></script>`),
		"assets/app.js":           []byte(js.String()),
		"assets/small.js":         []byte("console.log('small')\n"),
		"assets/noise.bin":        noise,
		"assets/empty.txt":        {},
		"assets/precompressed.br": []byte("not really brotli, but named so: " + tag + "\n"),
	}
}

// commitBundle stores files and commits them as version of app.
func commitBundle(t testing.TB, env *servertest.Env, app, version string, files map[string][]byte) api.Bundle {
	t.Helper()
	ctx := context.Background()
	var es []manifest.Entry
	for p, b := range files {
		d := manifest.Sum(b)
		if _, err := env.Store.PutObject(ctx, d, b); err != nil {
			t.Fatal(err)
		}
		es = append(es, manifest.Entry{Path: p, Digest: d, Size: int64(len(b))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Store.CommitBundle(ctx, app, version, m, api.BundleMeta{Link: "https://example.com/notes/" + version, Comment: "release " + version})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newApp creates app with a public channel "production" serving bundle
// (may be "").
func newApp(t testing.TB, env *servertest.Env, app string) {
	t.Helper()
	if _, err := env.Store.CreateApp(context.Background(), app); err != nil {
		t.Fatal(err)
	}
}

// channel creates a channel with Capgo's defaults plus edit.
func channel(t testing.TB, env *servertest.Env, app, name, bundle string, edit func(*api.Channel)) {
	t.Helper()
	c := api.Channel{App: app, Name: name, Bundle: bundle, Public: true, IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true, Policy: "major"}
	if edit != nil {
		edit(&c)
	}
	if _, err := env.Store.CreateChannel(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func setBundle(t testing.TB, env *servertest.Env, app, name, bundle string) {
	t.Helper()
	if _, err := env.Store.SetChannelBundle(context.Background(), app, name, bundle); err != nil {
		t.Fatal(err)
	}
}

// info is an update-check body as the Android plugin 8.51.14 builds it
// (protocol §1); edit changes it.
func info(edit func(map[string]any)) map[string]any {
	m := map[string]any{
		"platform": "android", "device_id": testDevice, "app_id": testApp, "custom_id": "",
		"version_build": "1.0.0", "version_code": "10", "version_os": "14", "version_name": "builtin",
		"plugin_version": "8.51.14", "is_emulator": false, "is_prod": true, "install_source": "google_play",
		"defaultChannel": "",
	}
	if edit != nil {
		edit(m)
	}
	return m
}

// reply is a decoded answer.
type reply struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// do sends a request with a JSON body (raw bytes when body is []byte).
func do(t testing.TB, c *http.Client, method, url string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	rep := reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &rep.Body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, url, err, raw)
		}
	}
	return rep
}

// get fetches a URL, optionally with a Range header.
func get(t testing.TB, c *http.Client, url, rng string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// keys returns the sorted keys of a body, for messages.
func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return fmt.Sprint(ks)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
