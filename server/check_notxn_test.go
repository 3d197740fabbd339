package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestChecksTouchNoTransaction: once an app's catalog and a pair's plan
// are in memory, update checks of either protocol, up to date or getting
// an update, open no read transaction; a channel change is seen by the
// very next check (which reads again).
func TestChecksTouchNoTransaction(t *testing.T) {
	env := servertest.Start(t)
	ctx := context.Background()
	st := env.Store
	const app = "com.example.app"
	if _, err := st.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	digests := map[string]manifest.Digest{}
	for i := 1; i <= 3; i++ {
		var es []manifest.Entry
		for f := range 4 {
			data := bytes.Repeat([]byte(fmt.Sprintf("export const v%d_%d = %d;\n", i*(f%2), f, f)), 200)
			d := manifest.Sum(data)
			if _, err := st.PutObject(ctx, d, data); err != nil {
				t.Fatal(err)
			}
			es = append(es, manifest.Entry{Path: fmt.Sprintf("assets/chunk-%d.js", f), Digest: d, Size: int64(len(data))})
		}
		m, err := manifest.New(es, manifest.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprintf("1.0.%d", i)
		digests[v] = m.Digest()
		if _, err := st.CommitBundle(ctx, app, v, m, api.BundleMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: "1.0.3",
		Public: true, IOS: true, Android: true, AllowDevice: true, AllowProd: true}); err != nil {
		t.Fatal(err)
	}
	h := env.Server.Handler()
	post := func(path string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest("POST", "https://127.0.0.1"+path, bytes.NewReader(b))
		req.RemoteAddr = "127.0.0.1:1"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, w.Body.Bytes()
	}
	native := func(dev int, version string) api.CheckRequest {
		return api.CheckRequest{App: app, DeviceID: fmt.Sprintf("0f673663-459a-44c0-a7f5-%012d", dev),
			Platform: "android", NativeVersion: "1.0.0", Codecs: []string{"zstd-dict", "bsdiff"},
			Current: api.CurrentBundle{Version: version, Manifest: digests[version]}}
	}
	capgo := func(dev int, version string) map[string]any {
		return map[string]any{"platform": "android", "device_id": fmt.Sprintf("0f673663-459a-44c0-a7f5-%012d", dev),
			"app_id": app, "version_build": "1.0.0", "version_code": "10", "version_os": "14",
			"version_name": version, "plugin_version": "8.51.14", "is_emulator": false, "is_prod": true}
	}
	checks := []struct {
		name string
		do   func(dev int) (int, []byte)
	}{
		{"native up to date", func(dev int) (int, []byte) { return post(api.PathCheck, native(dev, "1.0.3")) }},
		{"native update", func(dev int) (int, []byte) { return post(api.PathCheck, native(dev, "1.0.2")) }},
		{"capgo up to date", func(dev int) (int, []byte) { return post("/updates", capgo(dev, "1.0.3")) }},
		{"capgo update", func(dev int) (int, []byte) { return post("/updates", capgo(dev, "1.0.1")) }},
	}
	for _, c := range checks { // warm: decode the catalog, plan and prepare each pair
		if code, body := c.do(0); code != http.StatusOK {
			t.Fatalf("%s: %d %s", c.name, code, body)
		}
	}
	if err := server.SettlePatches(ctx, env.Server); err != nil {
		t.Fatal(err)
	}
	for _, c := range checks { // the final steps made: plan them once more
		c.do(0)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			before := st.ReadTransactions()
			for dev := 1; dev <= 20; dev++ {
				if code, body := c.do(dev); code != http.StatusOK {
					t.Fatalf("%d %s", code, body)
				}
			}
			if n := st.ReadTransactions() - before; n != 0 {
				t.Errorf("20 checks opened %d read transactions, want 0", n)
			}
		})
	}
	// A write is seen by the next check.
	if _, err := st.SetChannelBundle(ctx, app, "production", "1.0.2"); err != nil {
		t.Fatal(err)
	}
	_, body := post("/updates", capgo(30, "1.0.2"))
	if !bytes.Contains(body, []byte("no_new_version_available")) {
		t.Errorf("after the channel moved to 1.0.2, a device on 1.0.2 got %s", body)
	}
}
