package capgo_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/servertest"
)

// query is a listChannels / unsetChannel query string as the plugin builds
// it: every info field, booleans as true/false.
func query(edit func(url.Values)) string {
	q := url.Values{}
	for k, v := range info(nil) {
		q.Set(k, fmt.Sprint(v))
	}
	if edit != nil {
		edit(q)
	}
	return q.Encode()
}

// TestChannelSelfAnswers checks every answer shape of /channel_self
// (protocol §7).
func TestChannelSelfAnswers(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	newApp(t, env, testApp)
	commitBundle(t, env, testApp, "1.0.1", map[string][]byte{"index.html": []byte("x")})
	channel(t, env, testApp, "production", "1.0.1", nil)
	channel(t, env, testApp, "beta", "1.0.1", func(c *api.Channel) { c.Public, c.AllowSelfAssign = false, true })
	channel(t, env, testApp, "internal", "1.0.1", func(c *api.Channel) { c.Public = false })
	channel(t, env, testApp, "emulators", "1.0.1", func(c *api.Channel) { c.Public, c.AllowSelfAssign, c.AllowDevice = false, true, false })
	const pinnedDevice = "44f128a5-ac7a-4c9a-be4c-224b6bf81b20"
	if err := env.Store.SetOverride(context.Background(), testApp, pinnedDevice, "internal"); err != nil {
		t.Fatal(err)
	}
	set := func(channel string, edit func(map[string]any)) map[string]any {
		return info(func(m map[string]any) {
			if channel != "" {
				m["channel"] = channel
			}
			if edit != nil {
				edit(m)
			}
		})
	}
	const oldDevice = "11111111-2222-4333-8444-555555555555"
	old := func(m map[string]any) { m["plugin_version"], m["device_id"] = "5.0.0", oldDevice }
	oldQ := func(q url.Values) { q.Set("plugin_version", "5.0.0"); q.Set("device_id", oldDevice) }
	unknown := func(m map[string]any) { m["app_id"] = "com.example.unknown" }
	badRequest := []string{"error", "message", "moreInfo"}
	refusal := []string{"app_id", "channel", "error", "message"}

	cases := []struct {
		name   string
		method string
		body   any    // POST/PUT
		query  string // GET/DELETE
		status int
		code   string
		keys   []string
		want   map[string]any // members to compare
	}{
		{name: "set: ok", method: "POST", body: set("beta", nil), status: 200, keys: []string{"allowSet", "status"},
			want: map[string]any{"status": "ok", "allowSet": true}},
		{name: "set: no channel", method: "POST", body: set("", nil), status: 200, code: "missing_channel", keys: []string{"error", "message"}},
		{name: "set: not found", method: "POST", body: set("nope", nil), status: 200, code: "channel_not_found", keys: refusal,
			want: map[string]any{"channel": "nope", "app_id": testApp}},
		{name: "set: public, no self-assignment", method: "POST", body: set("production", nil), status: 200,
			code: "public_channel_self_set_not_allowed", keys: refusal},
		{name: "set: private, no self-assignment", method: "POST", body: set("internal", nil), status: 200,
			code: "channel_self_set_not_allowed", keys: refusal},
		{name: "set: unknown app", method: "POST", body: set("beta", unknown), status: 429, code: "on_premise_app", keys: []string{"error", "message"}},
		{name: "set: bad JSON", method: "POST", body: "{", status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "set: empty", method: "POST", body: "{}", status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "set: no device_id", method: "POST", body: set("beta", func(m map[string]any) { delete(m, "device_id") }), status: 400, code: "missing_device_id", keys: badRequest},
		{name: "set: no app_id", method: "POST", body: set("beta", func(m map[string]any) { delete(m, "app_id") }), status: 400, code: "missing_app_id", keys: badRequest},
		{name: "set: bad version_build", method: "POST", body: set("beta", func(m map[string]any) { m["version_build"] = "v?" }), status: 400, code: "semver_error", keys: badRequest},
		{name: "set: channel not a string", method: "POST", body: set("", func(m map[string]any) { m["channel"] = 1 }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "set: old plugin, stored", method: "POST", body: set("beta", old), status: 200, keys: []string{"status"}, want: map[string]any{"status": "ok"}},

		{name: "get: default", method: "PUT", body: info(nil), status: 200, keys: []string{"channel", "status"},
			want: map[string]any{"channel": "production", "status": "default"}},
		{name: "get: defaultChannel", method: "PUT", body: info(func(m map[string]any) { m["defaultChannel"] = "beta" }), status: 200,
			keys: []string{"channel", "status"}, want: map[string]any{"channel": "beta", "status": "default"}},
		{name: "get: override", method: "PUT", body: info(func(m map[string]any) { m["device_id"] = pinnedDevice }), status: 200,
			keys: []string{"allowSet", "channel", "status"}, want: map[string]any{"channel": "internal", "status": "override", "allowSet": false}},
		{name: "get: none", method: "PUT", body: info(func(m map[string]any) { m["defaultChannel"] = "internal" }), status: 200,
			code: "channel_not_found", keys: []string{"error", "message"}},
		{name: "get: unknown app", method: "PUT", body: info(unknown), status: 429, code: "on_premise_app", keys: []string{"error", "message"}},

		{name: "list", method: "GET", query: query(nil), status: 200},
		{name: "list without device_id", method: "GET", query: query(func(q url.Values) { q.Del("device_id") }), status: 200},
		{name: "list with any device_id", method: "GET", query: query(func(q url.Values) { q.Set("device_id", "not-a-uuid") }), status: 200},
		{name: "list: empty query", method: "GET", query: "", status: 400, code: "invalid_query_parameters", keys: badRequest},
		{name: "list: no app_id", method: "GET", query: query(func(q url.Values) { q.Del("app_id") }), status: 400, code: "missing_app_id", keys: badRequest},
		{name: "list: bad platform", method: "GET", query: query(func(q url.Values) { q.Set("platform", "tv") }), status: 400, code: "invalid_query_parameters", keys: badRequest},
		{name: "list: bad query", method: "GET", query: "app_id=%zz", status: 400, code: "invalid_query_parameters", keys: badRequest},
		{name: "list: unknown app", method: "GET", query: query(func(q url.Values) { q.Set("app_id", "com.example.unknown") }), status: 429, code: "on_premise_app", keys: []string{"error", "message"}},

		{name: "unset: new plugin", method: "DELETE", query: query(nil), status: 200, keys: []string{"status"}, want: map[string]any{"status": "ok"}},
		{name: "unset: old plugin", method: "DELETE", query: query(oldQ), status: 200,
			keys: []string{"status"}, want: map[string]any{"status": "ok"}},
		{name: "unset: old plugin, nothing stored", method: "DELETE", query: query(oldQ), status: 200,
			code: "cannot_override", keys: []string{"error", "message"}},
		{name: "unset: no device_id", method: "DELETE", query: query(func(q url.Values) { q.Del("device_id") }), status: 400, code: "missing_device_id", keys: badRequest},
		{name: "unset: empty query", method: "DELETE", query: "", status: 400, code: "invalid_query_parameters", keys: badRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := env.URL + "/channel_self"
			if tc.query != "" {
				u += "?" + tc.query
			}
			r := do(t, c, tc.method, u, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
			}
			if tc.method == "GET" && tc.status == 200 {
				return // the list is checked below
			}
			if got := keys(r.Body); got != fmt.Sprint(tc.keys) {
				t.Errorf("keys %s, want %v: %s", got, tc.keys, r.Raw)
			}
			if e, _ := r.Body["error"].(string); e != tc.code {
				t.Errorf("error %q, want %q", e, tc.code)
			}
			for k, v := range tc.want {
				if r.Body[k] != v {
					t.Errorf("%s = %v, want %v", k, r.Body[k], v)
				}
			}
		})
	}

	// listChannels: a JSON array of numeric ids, the channels a device like
	// this one may choose.
	for q, want := range map[string]string{
		query(nil): "[beta production]",
		query(func(q url.Values) { q.Set("is_emulator", "true") }): "[beta emulators production]",
	} {
		var list []struct {
			ID           int64  `json:"id"`
			Name         string `json:"name"`
			Public       bool   `json:"public"`
			AllowSelfSet bool   `json:"allow_self_set"`
		}
		r := do(t, c, "GET", env.URL+"/channel_self?"+q, nil)
		if err := jsonUnmarshal(r.Raw, &list); err != nil {
			t.Fatalf("list: %v: %s", err, r.Raw)
		}
		var names []string
		for _, ch := range list {
			names = append(names, ch.Name)
			if ch.ID <= 0 || ch.Public != (ch.Name == "production") || ch.AllowSelfSet == (ch.Name == "production") {
				t.Errorf("channel %+v", ch)
			}
		}
		if fmt.Sprint(names) != want {
			t.Errorf("list %v, want %s", names, want)
		}
	}

	// The old plugin's stored choice is used by its update checks.
	snap, err := env.Store.Snapshot(context.Background(), testApp, oldDevice)
	if err != nil || snap.SelfAssigned != "" {
		t.Errorf("self-assignment after unset: %q, %v", snap.SelfAssigned, err)
	}
	if r := do(t, c, "POST", env.URL+"/channel_self", set("beta", old)); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if snap, _ = env.Store.Snapshot(context.Background(), testApp, oldDevice); snap.SelfAssigned != "beta" {
		t.Errorf("self-assignment %q, want beta", snap.SelfAssigned)
	}
	r := do(t, c, "PUT", env.URL+"/channel_self", info(old))
	if r.Body["channel"] != "beta" || r.Body["status"] != "override" || r.Body["allowSet"] != true {
		t.Errorf("getChannel of the old plugin: %s", r.Raw)
	}
	r = do(t, c, "POST", env.URL+"/updates", info(old))
	if r.Body["version"] != "1.0.1" {
		t.Errorf("update check of the old plugin: %s", r.Raw)
	}
}
