package capgo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/server/servertest"
)

// event is a stats event as the plugin's queue sends it (protocol §6).
func event(action, version string, edit func(map[string]any)) map[string]any {
	return info(func(m map[string]any) {
		m["action"], m["version_name"], m["old_version_name"] = action, version, ""
		m["timestamp"] = 1760000000000
		if edit != nil {
			edit(m)
		}
	})
}

// TestStatsAnswers checks every answer shape of POST /stats.
func TestStatsAnswers(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	newApp(t, env, testApp)
	commitBundle(t, env, testApp, "1.0.1", map[string][]byte{"index.html": []byte("x")})
	other := func(m map[string]any) { m["app_id"] = "com.example.other" }
	unknown := func(m map[string]any) { m["app_id"] = "com.example.unknown" }
	ok := map[string]any{"status": "ok"}
	badRequest := []string{"error", "message", "moreInfo"}
	many := make([]any, 1001)
	for i := range many {
		many[i] = event("app_moved_to_foreground", "builtin", nil)
	}
	meta := map[string]any{}
	for i := range 31 {
		meta[fmt.Sprint("k", i)] = "v"
	}

	cases := []struct {
		name    string
		body    any
		status  int
		code    string   // body "error", "" for none
		keys    []string // exact keys of the body
		results []string // batch: each result's status or error code
	}{
		{name: "single event", body: event("set", "1.0.1", nil), status: 200, keys: []string{"status"}},
		{name: "android worker event without key_id and timestamp", status: 200, keys: []string{"status"},
			body: event("download_zip_start", "1.0.1", func(m map[string]any) { delete(m, "timestamp"); delete(m, "key_id") })},
		{name: "per-file failure", body: event("download_manifest_checksum_fail", "1.0.1:assets/app.js", nil), status: 200, keys: []string{"status"}},
		{name: "builtin", body: event("app_moved_to_foreground", "builtin", nil), status: 200, keys: []string{"status"}},
		{name: "unknown", body: event("app_moved_to_foreground", "unknown", nil), status: 200, keys: []string{"status"}},
		{name: "no action", body: event("", "1.0.1", func(m map[string]any) { delete(m, "action") }), status: 200, keys: []string{"status"}},
		{name: "empty batch", body: []any{}, status: 200, keys: []string{"results", "status"}, results: []string{}},
		{name: "batch", body: []any{event("download_complete", "1.0.1", nil), event("set", "1.0.1", nil)}, status: 200,
			keys: []string{"results", "status"}, results: []string{"ok", "ok"}},
		{name: "batch with a bad event", status: 200, keys: []string{"results", "status"},
			results: []string{"ok", "invalid_json_body", "missing_device_id", "version_not_found", "invalid_json_body"},
			body: []any{
				event("set", "1.0.1", nil),
				event("no_such_action", "1.0.1", nil),
				event("set", "1.0.1", func(m map[string]any) { delete(m, "device_id") }),
				event("set", "9.9.9", nil),
				event("set", "1.0.1", func(m map[string]any) { m["metadata"] = meta }),
			}},
		{name: "batch of an unknown app", body: []any{event("set", "1.0.1", unknown), event("set", "1.0.1", unknown)}, status: 200,
			keys: []string{"results", "status"}, results: []string{"on_premise_app", "on_premise_app"}},
		{name: "not JSON", body: "set", status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "empty body", body: "", status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "too many events", body: many, status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "too large", body: event("set", "1.0.1", func(m map[string]any) { m["pad"] = strings.Repeat("x", 3<<20) }), status: 413, code: "body_too_large", keys: badRequest},
		{name: "no app_id", body: event("set", "1.0.1", func(m map[string]any) { delete(m, "app_id") }), status: 400, code: "invalid_app_id", keys: badRequest},
		{name: "not an object", body: "42", status: 400, code: "invalid_app_id", keys: badRequest},
		{name: "bad app_id", body: event("set", "1.0.1", func(m map[string]any) { m["app_id"] = "app" }), status: 400, code: "invalid_app_id", keys: badRequest},
		{name: "batch, later app_id bad", body: []any{event("set", "1.0.1", nil), event("set", "1.0.1", func(m map[string]any) { m["app_id"] = 5 })},
			status: 200, code: "invalid_app_id", keys: []string{"error", "message"}},
		{name: "batch, mixed app_ids", body: []any{event("set", "1.0.1", nil), event("set", "1.0.1", other)},
			status: 200, code: "mixed_app_ids", keys: []string{"error", "message"}},
		{name: "unknown action", body: event("fly", "1.0.1", nil), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "no device_id", body: event("set", "1.0.1", func(m map[string]any) { delete(m, "device_id") }), status: 400, code: "missing_device_id", keys: badRequest},
		{name: "bad version_build", body: event("set", "1.0.1", func(m map[string]any) { m["version_build"] = "x.y" }), status: 400, code: "semver_error", keys: badRequest},
		{name: "no version_os", body: event("set", "1.0.1", func(m map[string]any) { delete(m, "version_os") }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "custom_id too long", body: event("set", "1.0.1", func(m map[string]any) { m["custom_id"] = strings.Repeat("c", 37) }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "metadata of 31 fields", body: event("set", "1.0.1", func(m map[string]any) { m["metadata"] = meta }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "metadata value not a string", body: event("set", "1.0.1", func(m map[string]any) { m["metadata"] = map[string]any{"a": 1} }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "unknown app", body: event("set", "1.0.1", unknown), status: 429, code: "on_premise_app", keys: []string{"error", "message"}},
		{name: "version not found", body: event("set", "9.9.9", nil), status: 200, code: "version_not_found", keys: []string{"app_id", "error", "message", "version_name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, c, "POST", env.URL+"/stats", tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
			}
			if got := keys(r.Body); got != fmt.Sprint(tc.keys) {
				t.Errorf("keys %s, want %v: %s", got, tc.keys, r.Raw)
			}
			if e, _ := r.Body["error"].(string); e != tc.code {
				t.Errorf("error %q, want %q", e, tc.code)
			}
			if tc.keys[len(tc.keys)-1] == "status" && r.Body["status"] != ok["status"] {
				t.Errorf("status member %v", r.Body["status"])
			}
			if tc.results != nil {
				res, _ := r.Body["results"].([]any)
				if len(res) != len(tc.results) {
					t.Fatalf("%d results, want %d: %s", len(res), len(tc.results), r.Raw)
				}
				for i, x := range res {
					m := x.(map[string]any)
					got := m["status"]
					if got == "error" {
						got = m["error"]
						if m["message"] == "" {
							t.Errorf("result %d without message", i)
						}
					}
					if got != tc.results[i] || m["index"] != float64(i) {
						t.Errorf("result %d = %v, want %s at index %d", i, m, tc.results[i], i)
					}
				}
			}
		})
	}
	if r := do(t, c, "GET", env.URL+"/stats", nil); r.Status != 200 || string(r.Raw) != `{"status":"ok"}` {
		t.Errorf("GET /stats: %d %s", r.Status, r.Raw)
	}
}

// TestStatsRecording checks what is stored: events per device, the old
// plugins' download_fail that is acknowledged but dropped, and the device
// record.
func TestStatsRecording(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	newApp(t, env, testApp)
	commitBundle(t, env, testApp, "1.0.1", map[string][]byte{"index.html": []byte("x")})
	channel(t, env, testApp, "production", "1.0.1", nil)
	if r := do(t, c, "POST", env.URL+"/updates", info(func(m map[string]any) { m["custom_id"] = "  user-7 " })); r.Status != 200 {
		t.Fatal(r.Status)
	}
	old := func(m map[string]any) { m["plugin_version"] = "7.16.0" }
	meta := func(m map[string]any) { m["metadata"] = map[string]any{"reason": "timeout"} }
	r := do(t, c, "POST", env.URL+"/stats", []any{
		event("download_fail", "1.0.1", old), // dropped: old plugins sent it for "nothing to download"
		event("download_fail", "1.0.1", meta),
		event("set", "1.0.1", nil),
		event("update_fail", "1.0.1", nil),
	})
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	ctx := context.Background()
	evs, err := env.Store.DeviceEvents(ctx, testApp, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Action)
		if e.Channel != "production" || e.DeviceAt == nil {
			t.Errorf("event %+v: want channel production and the device's timestamp", e)
		}
	}
	if fmt.Sprint(got) != "[download_fail set update_fail]" || evs[0].Metadata["reason"] != "timeout" {
		t.Errorf("events %v, %+v", got, evs)
	}
	d, err := env.Store.GetDevice(ctx, testApp, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	if d.Bundle != "1.0.1" || d.Channel != "production" || d.CustomID != "user-7" || d.Platform != "android" ||
		d.VersionBuild != "1.0.0" || d.PluginVersion != "8.51.14" || d.VersionOS != "14" {
		t.Errorf("device %+v", d)
	}
	st, err := env.Store.BundleStats(ctx, testApp, "production")
	if err != nil || len(st) != 1 || st[0].Failures != 1 || st[0].Rollbacks != 1 || st[0].Installs != 1 || st[0].Devices != 1 {
		t.Errorf("stats %+v, %v", st, err)
	}
}

// TestStatsLongVersionName: a per-file failure names "<version>:<file>",
// and a file path may be up to 1024 bytes (or hold a NUL when the plugin
// says so). Such an event is stored with its version name bounded, and it
// must not fail the group commit it shares with other devices' sightings
// and events (that answered 503 to everyone, forever, as the plugin
// retries).
func TestStatsLongVersionName(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	newApp(t, env, testApp)
	commitBundle(t, env, testApp, "1.0.1", map[string][]byte{"index.html": []byte("x")})
	channel(t, env, testApp, "production", "1.0.1", nil)
	other := "1b2c3d4e-0000-4000-8000-00000000000" // + one hex digit per case
	ctx := context.Background()
	for i, version := range []string{
		"1.0.1:" + strings.Repeat("assets/deep/", 80) + "app.js",
		"1.0.1:assets/a\x00b.js",
	} {
		dev := fmt.Sprintf("%s%d", other, i)
		// A sighting pending in the writer when the event arrives.
		if r := do(t, c, "POST", env.URL+"/updates", info(func(m map[string]any) { m["device_id"] = dev })); r.Status != 200 {
			t.Fatalf("update check: %d %s", r.Status, r.Raw)
		}
		r := do(t, c, "POST", env.URL+"/stats", event("download_manifest_file_fail", version, nil))
		if r.Status != 200 || r.Body["status"] != "ok" {
			t.Fatalf("event %q: %d %s", version[:20], r.Status, r.Raw)
		}
		evs, err := env.Store.DeviceEvents(ctx, testApp, testDevice)
		if err != nil || len(evs) != i+1 {
			t.Fatalf("events %+v, %v", evs, err)
		}
		if got := evs[i].Version; len(got) > 256 || !strings.HasPrefix(got, "1.0.1:assets/") || strings.Contains(got, "\x00") {
			t.Errorf("stored version name %q", got)
		}
		if _, err := env.Store.GetDevice(ctx, testApp, dev); err != nil {
			t.Errorf("the sighting of %s was lost: %v", dev, err)
		}
	}
	st, err := env.Store.BundleStats(ctx, testApp, "")
	var failures int64
	for _, b := range st {
		if b.Version == "1.0.1" {
			failures = b.Failures
		}
	}
	if err != nil || failures != 2 {
		t.Errorf("stats %+v, %v: want 2 failures of 1.0.1", st, err)
	}
}
