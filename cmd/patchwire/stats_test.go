package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestStats: devices report through the Capgo endpoints; `patchwire stats`
// shows per bundle what they did, as a table and as JSON, for all channels
// or one.
func TestStats(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	c.must("app", "add", "com.example.app")
	c.must("bundle", "upload", writeBundle(t, fixtureFiles(1)), "--app", "com.example.app", "--version", "1.0.1", "--channel", "production")
	hc := srv.HTTPSClient()
	post := func(path string, body map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		resp, err := hc.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	dev := map[string]any{"platform": "android", "device_id": "44f128a5-ac7a-4c9a-be4c-224b6bf81b20",
		"app_id": "com.example.app", "version_build": "1.0.0", "version_os": "14", "version_name": "builtin",
		"plugin_version": "8.51.14", "is_emulator": false, "is_prod": true}
	post("/updates", dev)
	for _, action := range []string{"download_complete", "set", "update_fail", "download_fail"} {
		ev := map[string]any{"action": action, "version_name": "1.0.1"}
		for k, v := range dev {
			if _, ok := ev[k]; !ok {
				ev[k] = v
			}
		}
		post("/stats", ev)
	}

	out := c.must("stats", "--app", "com.example.app")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "ROLLBACKS") || strings.Join(strings.Fields(lines[1]), " ") != "1.0.1 1 1 1 1 1" {
		t.Errorf("stats table:\n%s", out)
	}
	var st api.AppStats
	if err := json.Unmarshal([]byte(c.must("stats", "--app", "com.example.app", "--channel", "production", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Channel != "production" || len(st.Bundles) != 1 || st.Bundles[0] != (api.BundleStats{Version: "1.0.1", Devices: 1, Downloads: 1, Installs: 1, Failures: 1, Rollbacks: 1}) {
		t.Errorf("stats --json: %+v", st)
	}
	if out := c.must("stats", "--app", "com.example.app", "--channel", "beta"); !strings.Contains(out, "No devices") {
		t.Errorf("stats of an unused channel:\n%s", out)
	}
	// The same over time, the device found by search, and the key.
	series := c.must("stats", "--app", "com.example.app", "--series")
	if !strings.Contains(series, "BUCKET (UTC)") || !strings.Contains(series, "1.0.1") {
		t.Errorf("stats --series:\n%s", series)
	}
	if out := c.must("stats", "--app", "com.example.app", "--series", "--bucket", "day", "--since", "72h"); !strings.Contains(out, "1.0.1") {
		t.Errorf("stats --series --bucket day:\n%s", out)
	}
	if out := c.must("device", "list", "--app", "com.example.app", "--search", "44F1"); !strings.Contains(out, "44f128a5-ac7a-4c9a-be4c-224b6bf81b20") {
		t.Errorf("device list --search:\n%s", out)
	}
	if out := c.must("device", "info", "--app", "com.example.app", "--device", "44f128a5-ac7a-4c9a-be4c-224b6bf81b20"); !strings.Contains(out, "update_fail") || !strings.Contains(out, "android") {
		t.Errorf("device info:\n%s", out)
	}
	if out := c.must("key", "whoami"); !strings.Contains(out, "scope admin") {
		t.Errorf("key whoami:\n%s", out)
	}
	if _, _, err := c.run("stats"); err == nil {
		t.Error("stats without --app succeeded")
	}
	if _, _, err := c.run("stats", "--app", "com.example.nope"); err == nil || !strings.Contains(err.Error(), "not_found") && !strings.Contains(err.Error(), "not found") {
		t.Errorf("stats of an unknown app: %v", err)
	}
}
