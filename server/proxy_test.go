package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
)

// forwardedURLs publishes one bundle on a public channel and returns the
// URLs the Capgo and native checks answer with when asked over the
// cleartext listener with the given headers.
func forwardedURLs(t *testing.T, env *servertest.Env, header map[string]string) (capgoURL string) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Store.GetApp(ctx, app); err != nil {
		if _, err := env.Store.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"index.html": []byte("<!doctype html>proxied")}
		uploadRaw(t, env, "1.0.1", files)
		if _, err := env.Store.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: "1.0.1", Public: true,
			IOS: true, Android: true, Electron: true, AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true, Policy: "major"}); err != nil {
			t.Fatal(err)
		}
	}
	post := func(path string, body any) []byte {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", env.HTTPURL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	var capgo struct{ URL string }
	if err := json.Unmarshal(post("/updates", map[string]any{
		"platform": "android", "device_id": "0f673663-459a-44c0-a7f5-613f2a4af3ab", "app_id": app,
		"version_build": "1.0.0", "version_name": "builtin", "plugin_version": "8.51.14", "is_emulator": false, "is_prod": true,
	}), &capgo); err != nil || capgo.URL == "" {
		t.Fatalf("capgo answer: %v %+v", err, capgo)
	}
	return capgo.URL
}

// TestForwardedURLs covers issue 14 item 7: behind a trusted proxy the
// download URLs of both check protocols use the forwarded scheme and host;
// the same headers from an untrusted peer are ignored; --public-url wins.
func TestForwardedURLs(t *testing.T) {
	fwd := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "updates.example.com", "X-Forwarded-For": "198.51.100.1"}
	rfc := map[string]string{"Forwarded": `for=198.51.100.1;proto=https;host="updates.example.com:8443"`}
	tests := []struct {
		name   string
		opts   []servertest.Option
		header map[string]string
		want   string // URL prefix; "" = the cleartext listener's own
	}{
		{"trusted proxy, X-Forwarded-*", []servertest.Option{withTrustedProxies("127.0.0.0/8")}, fwd, "https://updates.example.com/o/"},
		{"trusted proxy, Forwarded", []servertest.Option{withTrustedProxies("127.0.0.0/8")}, rfc, "https://updates.example.com:8443/o/"},
		{"trusted proxy, no headers", []servertest.Option{withTrustedProxies("127.0.0.0/8")}, nil, ""},
		{"untrusted peer", []servertest.Option{withTrustedProxies("192.0.2.0/24")}, fwd, ""},
		{"no trusted proxies", nil, fwd, ""},
		{"--public-url wins", []servertest.Option{withTrustedProxies("127.0.0.0/8"), func(c *server.Config, _ *store.Options) {
			c.PublicURL = "https://cdn.example.com/"
		}}, fwd, "https://cdn.example.com/o/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.Start(t, tc.opts...)
			want := tc.want
			if want == "" {
				want = env.HTTPURL + "/o/"
			}
			// Native answers carry no URL (protocol 2: the device joins
			// its server URL and /o/{sha256}); Capgo's do.
			if capgoURL := forwardedURLs(t, env, tc.header); !strings.HasPrefix(capgoURL, want) {
				t.Errorf("capgo url %q, want prefix %q", capgoURL, want)
			}
		})
	}
}

// TestProxyWarning covers issue 14 item 7: a cleartext listener with
// neither --public-url nor --trusted-proxy is reported at start.
func TestProxyWarning(t *testing.T) {
	st, err := store.Open(store.Options{Dir: filepath.Join(t.TempDir(), "db"), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tests := []struct {
		name string
		cfg  server.Config
		warn bool
	}{
		{"cleartext alone", server.Config{HTTPAddr: "127.0.0.1:0"}, true},
		{"cleartext with --public-url", server.Config{HTTPAddr: "127.0.0.1:0", PublicURL: "https://u.example.com"}, false},
		{"cleartext with --trusted-proxy", server.Config{HTTPAddr: "127.0.0.1:0"}, false},
		{"no cleartext listener", server.Config{}, false},
	}
	tests[2].cfg.TrustedProxies = withPrefixes("10.0.0.0/8")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.cfg.DataDir = t.TempDir()
			srv, err := server.New(tc.cfg, st, slog.New(slog.NewTextHandler(&buf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			_ = srv.Shutdown(context.Background())
			if got := strings.Contains(buf.String(), "--public-url or --trusted-proxy"); got != tc.warn {
				t.Errorf("warned = %v, want %v; log:\n%s", got, tc.warn, buf.String())
			}
		})
	}
}
