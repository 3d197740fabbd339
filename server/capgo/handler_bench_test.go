package capgo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store"
)

// BenchmarkHandleUpdates measures the server's own work for one update
// check, without network or TLS: the handler called directly, an app with
// 10 or 2,000 bundles (30-file manifests) and 3 channels, a device that is
// up to date or gets an update. The cost of a check must not grow with the
// bundles.
func BenchmarkHandleUpdates(b *testing.B) {
	for _, n := range []int{10, 2000} {
		b.Run(fmt.Sprintf("bundles=%d", n), func(b *testing.B) { benchmarkHandleUpdates(b, n) })
	}
}

func benchmarkHandleUpdates(b *testing.B, bundles int) {
	st, err := store.Open(store.Options{Dir: b.TempDir(), GCInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const app = "com.example.app"
	if _, err := st.CreateApp(ctx, app); err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= bundles; i++ {
		var es []manifest.Entry
		for f := range 30 {
			tag := i * (f % 3)
			if f > 0 && bundles > 10 {
				tag = f % 3 // many bundles: one file of each is its own
			}
			data := bytes.Repeat([]byte(fmt.Sprintf("export const v%d_%d = %d;\n", tag, f, f)), 400)
			d := manifest.Sum(data)
			if _, err := st.PutObject(ctx, d, data); err != nil {
				b.Fatal(err)
			}
			es = append(es, manifest.Entry{Path: fmt.Sprintf("assets/chunk-%02d.js", f), Digest: d, Size: int64(len(data))})
		}
		m, _ := manifest.New(es, manifest.DefaultLimits())
		if _, err := st.CommitBundle(ctx, app, fmt.Sprintf("1.0.%d", i), m, api.BundleMeta{}); err != nil {
			b.Fatal(err)
		}
	}
	latest := fmt.Sprintf("1.0.%d", bundles)
	for i, name := range []string{"production", "beta", "alpha"} {
		c := api.Channel{App: app, Name: name, Bundle: fmt.Sprintf("1.0.%d", bundles-i), Public: i == 0, AllowSelfAssign: i > 0,
			IOS: true, Android: true, Electron: true, AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true}
		if _, err := st.CreateChannel(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	h := New(Deps{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Limits: Limits{FlushInterval: time.Hour}})
	defer h.Close()
	mux := http.NewServeMux()
	h.Register(mux)
	for _, kind := range []string{"up_to_date", "update"} {
		bodies := make([][]byte, 1000)
		for i := range bodies {
			m := map[string]any{"platform": "android", "device_id": fmt.Sprintf("0f673663-459a-44c0-a7f5-%012d", i),
				"app_id": app, "custom_id": "", "version_build": "1.0.0", "version_code": "10", "version_os": "14",
				"version_name": "builtin", "plugin_version": "8.51.14", "is_emulator": false, "is_prod": true,
				"install_source": "google_play", "defaultChannel": ""}
			if kind == "up_to_date" {
				m["version_name"] = latest
			}
			bodies[i], _ = json.Marshal(m)
		}
		b.Run(kind, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			req, _ := http.NewRequest("POST", "https://example.com/updates", nil)
			rd := &bytes.Reader{}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				rd.Reset(bodies[i%len(bodies)])
				req.Body, req.ContentLength = io.NopCloser(rd), int64(rd.Len())
				clear(w.h)
				mux.ServeHTTP(w, req)
				if w.status != 200 {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
