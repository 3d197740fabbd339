package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// BenchmarkNativeCheck measures the server's own work for one POST
// /v1/check, without network or TLS (the server's handler called
// directly): an app with 10 or 2,000 bundles, a device that is up to date
// or gets an update (its step already made). The cost must not grow with
// the bundles.
func BenchmarkNativeCheck(b *testing.B) {
	for _, n := range []int{10, 2000} {
		b.Run(fmt.Sprintf("bundles=%d", n), func(b *testing.B) { benchmarkNativeCheck(b, n) })
	}
}

func benchmarkNativeCheck(b *testing.B, bundles int) {
	env := servertest.Start(b)
	ctx := context.Background()
	st := env.Store
	const app = "com.example.app"
	if _, err := st.CreateApp(ctx, app); err != nil {
		b.Fatal(err)
	}
	digests := make([]manifest.Digest, bundles+1)
	for i := 1; i <= bundles; i++ {
		var es []manifest.Entry
		for f := range 30 {
			tag := f % 3
			if f == 0 {
				tag = i // one file of each bundle is its own
			}
			data := bytes.Repeat([]byte(fmt.Sprintf("export const v%d_%d = %d;\n", tag, f, f)), 400)
			d := manifest.Sum(data)
			if _, err := st.PutObject(ctx, d, data); err != nil {
				b.Fatal(err)
			}
			es = append(es, manifest.Entry{Path: fmt.Sprintf("assets/chunk-%02d.js", f), Digest: d, Size: int64(len(data))})
		}
		m, _ := manifest.New(es, manifest.DefaultLimits())
		digests[i] = m.Digest()
		if _, err := st.CommitBundle(ctx, app, fmt.Sprintf("1.0.%d", i), m, api.BundleMeta{}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: fmt.Sprintf("1.0.%d", bundles),
		Public: true, IOS: true, Android: true, AllowDevice: true, AllowProd: true}); err != nil {
		b.Fatal(err)
	}
	h := env.Server.Handler()
	for _, kind := range []string{"up_to_date", "update"} {
		from := bundles
		if kind == "update" {
			from = bundles - 1
		}
		bodies := make([][]byte, 1000)
		for i := range bodies {
			bodies[i], _ = json.Marshal(api.CheckRequest{App: app, DeviceID: fmt.Sprintf("0f673663-459a-44c0-a7f5-%012d", i),
				Platform: "android", NativeVersion: "1.0.0", Codecs: []string{"zstd-dict", "bsdiff"},
				Current: api.CurrentBundle{Version: fmt.Sprintf("1.0.%d", from), Manifest: digests[from]}})
		}
		w := &discardWriter{h: http.Header{}}
		check := func(body []byte) {
			req, _ := http.NewRequest("POST", "https://127.0.0.1"+api.PathCheck, bytes.NewReader(body))
			req.RemoteAddr = "127.0.0.1:1"
			w.reset()
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
		check(bodies[0]) // the first check schedules the pair's patches
		if err := server.SettlePatches(ctx, env.Server); err != nil {
			b.Fatal(err)
		}
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				check(bodies[i%len(bodies)])
			}
		})
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

// Write answers 200 when no status was written, as net/http does.
func (w *discardWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// reset readies w for the next request.
func (w *discardWriter) reset() {
	clear(w.h)
	w.status = 0
}
