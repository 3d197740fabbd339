package capgo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
)

// TestUpdatesAnswers checks every answer of POST /updates the HTTP layer
// produces: the 400/413/429 codes of request parsing, and the resolver's
// decisions as the plugin sees them (status, error, kind, and exactly
// which keys the body has: a success never has error or kind, a refusal
// only the extras the document lists).
func TestUpdatesAnswers(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	n := 0
	// app makes a fresh app with bundles 1.0.1 and 2.0.0 and a public
	// channel "production" serving bundle, edited by edit.
	app := func(bundle string, edit func(*api.Channel)) string {
		n++
		id := fmt.Sprintf("com.example.case%d", n)
		newApp(t, env, id)
		commitBundle(t, env, id, "1.0.1", map[string][]byte{"index.html": []byte("v1.0.1")})
		commitBundle(t, env, id, "2.0.0", map[string][]byte{"index.html": []byte("v2.0.0")})
		channel(t, env, id, "production", bundle, edit)
		return id
	}
	// pinned is app with the test device pinned to "production" by an
	// administrator, so the channel's restrictions apply as refusals.
	pinned := func(bundle string, edit func(*api.Channel)) string {
		id := app(bundle, edit)
		if err := env.Store.SetOverride(context.Background(), id, testDevice, "production"); err != nil {
			t.Fatal(err)
		}
		return id
	}
	with := func(app string, edit func(m map[string]any)) map[string]any {
		return info(func(m map[string]any) {
			m["app_id"] = app
			if edit != nil {
				edit(m)
			}
		})
	}
	plain := app("1.0.1", nil)
	update := []string{"checksum", "manifest", "session_key", "url", "version"}
	refusal := []string{"error", "kind", "message"}
	versioned := []string{"error", "kind", "message", "old", "version"}
	badRequest := []string{"error", "message", "moreInfo"}

	cases := []struct {
		name   string
		body   any
		status int
		code   string // "" for an update
		kind   string
		keys   []string
		check  func(t *testing.T, r reply)
	}{
		// Request parsing (protocol §1).
		{name: "empty body", body: "", status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "empty object", body: "{}", status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "not JSON", body: "device_id=x", status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "truncated", body: `{"device_id":`, status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "duplicate member", body: `{"app_id":"a.b","app_id":"c.d"}`, status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "two values", body: `{"app_id":"a.b"} {}`, status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "invalid UTF-8", body: []byte("{\"app_id\":\"\xff\"}"), status: 400, code: "invalid_json_parse_body", keys: badRequest},
		{name: "array", body: `[{"app_id":"a.b"}]`, status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "no device_id", body: with(plain, func(m map[string]any) { delete(m, "device_id") }), status: 400, code: "missing_device_id", keys: badRequest},
		{name: "empty device_id", body: with(plain, func(m map[string]any) { m["device_id"] = "" }), status: 400, code: "missing_device_id", keys: badRequest},
		{name: "no app_id", body: with(plain, func(m map[string]any) { delete(m, "app_id") }), status: 400, code: "missing_app_id", keys: badRequest},
		{name: "bad version_build", body: with(plain, func(m map[string]any) { m["version_build"] = "one.two" }), status: 400, code: "semver_error", keys: badRequest,
			check: func(t *testing.T, r reply) {
				if !strings.HasPrefix(r.Body["message"].(string), "Native version: one.two doesn't follow semver convention") {
					t.Errorf("message %q", r.Body["message"])
				}
			}},
		{name: "device_id not a UUID", body: with(plain, func(m map[string]any) { m["device_id"] = "not-a-uuid" }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "device_id not a string", body: with(plain, func(m map[string]any) { m["device_id"] = 42 }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "app_id not reverse domain", body: with("nodots", nil), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "unknown platform", body: with(plain, func(m map[string]any) { m["platform"] = "windows" }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "is_emulator a string", body: with(plain, func(m map[string]any) { m["is_emulator"] = "false" }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "plugin_version not semver", body: with(plain, func(m map[string]any) { m["plugin_version"] = "8" }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "no version_name", body: with(plain, func(m map[string]any) { m["version_name"] = "" }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "key_id too long", body: with(plain, func(m map[string]any) { m["key_id"] = strings.Repeat("k", 21) }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "install_source too long", body: with(plain, func(m map[string]any) { m["install_source"] = strings.Repeat("s", 65) }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "defaultChannel null", body: with(plain, func(m map[string]any) { m["defaultChannel"] = nil }), status: 400, code: "invalid_json_body", keys: badRequest},
		{name: "too large", body: with(plain, func(m map[string]any) { m["padding"] = strings.Repeat("x", 70<<10) }), status: 413, code: "body_too_large", keys: badRequest},
		{name: "unknown app", body: with("com.example.unknown", nil), status: 429, code: "on_premise_app", keys: []string{"error", "message"}},

		// What the plugin sends that the schema does not name is accepted.
		{name: "extra members, upper-case device id, short version_build, no booleans", status: 200, keys: update,
			body: with(plain, func(m map[string]any) {
				m["device_id"] = strings.ToUpper(testDevice)
				m["version_build"] = "1"
				m["custom_id"] = 7
				m["future_field"] = map[string]any{"x": []any{1, 2}}
				delete(m, "is_emulator")
				delete(m, "is_prod")
			})},
		{name: "iOS body without nil keys", status: 200, keys: update,
			body: with(plain, func(m map[string]any) {
				m["platform"] = "ios"
				delete(m, "install_source")
				delete(m, "defaultChannel")
			})},

		// Decisions (protocol §8), as the plugin sees them.
		{name: "update, old plugin: no manifest", body: with(plain, func(m map[string]any) { m["plugin_version"] = "6.0.0" }), status: 200,
			keys: []string{"checksum", "session_key", "url", "version"}},
		{name: "no_new_version_available", body: with(plain, func(m map[string]any) { m["version_name"] = "1.0.1" }), status: 200,
			code: "no_new_version_available", kind: "up_to_date", keys: refusal},
		{name: "unknown_version_build", body: with(plain, func(m map[string]any) { m["version_build"] = "unknown" }), status: 200,
			code: "unknown_version_build", kind: "failed", keys: []string{"body", "error", "kind", "message"},
			check: func(t *testing.T, r reply) {
				if b, _ := r.Body["body"].(map[string]any); b["version_build"] != "unknown" || b["app_id"] != plain {
					t.Errorf("body extra = %v", r.Body["body"])
				}
			}},
		{name: "unsupported_plugin_version", body: with(plain, func(m map[string]any) { m["plugin_version"] = "4.15.0" }), status: 200,
			code: "unsupported_plugin_version", kind: "failed", keys: refusal},
		{name: "no_channel: unknown defaultChannel", body: with(plain, func(m map[string]any) { m["defaultChannel"] = "beta" }), status: 200,
			code: "no_channel", kind: "failed", keys: refusal},
		{name: "no_channel: no public channel", body: with(app("1.0.1", func(c *api.Channel) { c.Public = false }), nil), status: 200,
			code: "no_channel", kind: "failed", keys: refusal},
		{name: "already_on_builtin", body: with(app("", nil), nil), status: 200,
			code: "already_on_builtin", kind: "up_to_date", keys: []string{"error", "kind", "message", "version"}},
		{name: "back to builtin", body: with(app("builtin", nil), func(m map[string]any) { m["version_name"] = "1.0.1" }), status: 200,
			keys: []string{"version"}, check: func(t *testing.T, r reply) {
				if string(r.Raw) != `{"version":"builtin"}` {
					t.Errorf("body %s", r.Raw)
				}
			}},
		{name: "revert_to_builtin_plugin_version_too_old", body: with(app("builtin", nil), func(m map[string]any) {
			m["version_name"], m["plugin_version"] = "1.0.1", "6.1.0"
		}), status: 200, code: "revert_to_builtin_plugin_version_too_old", kind: "failed", keys: refusal},
		{name: "disabled_platform_android", body: with(pinned("1.0.1", func(c *api.Channel) { c.Android = false }), nil), status: 200,
			code: "disabled_platform_android", kind: "blocked", keys: versioned},
		{name: "disabled_platform_ios", body: with(pinned("1.0.1", func(c *api.Channel) { c.IOS = false }), func(m map[string]any) { m["platform"] = "ios" }), status: 200,
			code: "disabled_platform_ios", kind: "blocked", keys: versioned},
		{name: "disable_auto_update_to_major", body: with(app("2.0.0", nil), nil), status: 200,
			code: "disable_auto_update_to_major", kind: "blocked", keys: []string{"error", "kind", "major", "message", "old", "version"},
			check: func(t *testing.T, r reply) {
				if r.Body["major"] != true || r.Body["version"] != "2.0.0" || r.Body["old"] != "1.0.0" {
					t.Errorf("extras: %s", r.Raw)
				}
			}},
		{name: "disable_auto_update_to_minor", body: with(app("2.0.0", func(c *api.Channel) { c.Policy = "minor" }), nil), status: 200,
			code: "disable_auto_update_to_minor", kind: "blocked", keys: []string{"error", "kind", "major", "message", "old", "version"}},
		{name: "disable_auto_update_to_patch", body: with(app("1.0.1", func(c *api.Channel) { c.Policy = "patch" }), nil), status: 200,
			code: "disable_auto_update_to_patch", kind: "blocked", keys: []string{"error", "kind", "major", "message", "old", "version"}},
		{name: "misconfigured_channel", body: with(app("1.0.1", func(c *api.Channel) { c.Policy = "metadata" }), nil), status: 200,
			code: "misconfigured_channel", kind: "failed", keys: versioned},
		{name: "disable_auto_update_under_native", body: with(plain, func(m map[string]any) { m["version_build"] = "1.1.0" }), status: 200,
			code: "disable_auto_update_under_native", kind: "blocked", keys: versioned},
		{name: "disable_prod_build", body: with(app("1.0.1", func(c *api.Channel) { c.AllowProd = false }), nil), status: 200,
			code: "disable_prod_build", kind: "blocked", keys: versioned},
		{name: "disable_dev_build", body: with(app("1.0.1", func(c *api.Channel) { c.AllowDev = false }), func(m map[string]any) { m["is_prod"] = false }), status: 200,
			code: "disable_dev_build", kind: "blocked", keys: versioned},
		{name: "disable_device", body: with(app("1.0.1", func(c *api.Channel) { c.AllowDevice = false }), nil), status: 200,
			code: "disable_device", kind: "blocked", keys: versioned},
		{name: "disable_emulator", body: with(app("1.0.1", func(c *api.Channel) { c.AllowEmulator = false }), func(m map[string]any) { m["is_emulator"] = true }), status: 200,
			code: "disable_emulator", kind: "blocked", keys: versioned},
		{name: "cannot_update_via_private_channel (stored self-assignment lost its right)", body: with(selfAssignedPrivate(t, env), func(m map[string]any) {
			m["plugin_version"] = "5.0.0"
		}), status: 200, code: "cannot_update_via_private_channel", kind: "blocked", keys: refusal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, c, "POST", env.URL+"/updates", tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
			}
			if got := keys(r.Body); got != fmt.Sprint(tc.keys) {
				t.Errorf("keys %s, want %v: %s", got, tc.keys, r.Raw)
			}
			if tc.code == "" {
				for _, k := range []string{"error", "kind"} {
					if _, ok := r.Body[k]; ok {
						t.Errorf("a success carries %q", k)
					}
				}
			} else if r.Body["error"] != tc.code {
				t.Errorf("error %v, want %s: %s", r.Body["error"], tc.code, r.Raw)
			}
			if k, _ := r.Body["kind"].(string); k != tc.kind {
				t.Errorf("kind %q, want %q", k, tc.kind)
			}
			if tc.status == 200 && tc.code != "" && r.Body["message"] == "" {
				t.Error("empty message")
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// selfAssignedPrivate makes an app where the device's stored
// self-assignment (old plugin) names a channel that no longer allows it.
func selfAssignedPrivate(t *testing.T, env *servertest.Env) string {
	const id = "com.example.selfassigned"
	newApp(t, env, id)
	commitBundle(t, env, id, "1.0.1", map[string][]byte{"index.html": []byte("x")})
	channel(t, env, id, "beta", "1.0.1", func(c *api.Channel) { c.Public, c.AllowSelfAssign = false, true })
	ctx := context.Background()
	if err := env.Store.SetSelfAssigned(ctx, id, testDevice, "beta"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.UpdateChannel(ctx, id, "beta", "update", func(c *api.Channel) error {
		c.AllowSelfAssign = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestNoBundleURL: a bundle whose zip is larger than the store accepts is
// answered no_bundle_url (kind failed) to plugins that need the zip, and
// manifest-only, with Capgo's placeholder url, to the others.
func TestNoBundleURL(t *testing.T) {
	env := servertest.Start(t, servertest.WithStoreOptions(func(o *store.Options) {
		o.Limits = manifest.DefaultLimits()
		o.Limits.MaxFileBytes = 100 << 10
	}))
	newApp(t, env, testApp)
	r := rand.New(rand.NewPCG(3, 4))
	files := map[string][]byte{}
	for i := range 3 {
		b := make([]byte, 60<<10)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		files[fmt.Sprintf("f%d.bin", i)] = b
	}
	commitBundle(t, env, testApp, "1.0.1", files)
	channel(t, env, testApp, "production", "1.0.1", nil)
	rep := do(t, env.HTTPSClient(), "POST", env.URL+"/updates", info(func(m map[string]any) { m["plugin_version"] = "6.0.0" }))
	if rep.Status != 200 || rep.Body["error"] != "no_bundle_url" || rep.Body["kind"] != "failed" || rep.Body["message"] != "Cannot get bundle url" {
		t.Fatalf("%d %s", rep.Status, rep.Raw)
	}
	rep = do(t, env.HTTPSClient(), "POST", env.URL+"/updates", info(nil))
	if rep.Status != 200 || rep.Body["url"] != "https://404.capgo.app/no.zip" || rep.Body["checksum"] != "" ||
		len(rep.Body["manifest"].([]any)) != 3 || keys(rep.Body) != "[checksum manifest session_key url version]" {
		t.Fatalf("manifest-only answer: %d %s", rep.Status, rep.Raw)
	}
}

// TestUpdateDelivery checks the delivery details: identical zips for the
// same content across apps and concurrent first requests, PublicURL, and the
// manifest's .br rules.
func TestUpdateDelivery(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config, _ *store.Options) { c.PublicURL = "https://cdn.example.com/" })
	files := bundleFiles("same")
	for _, id := range []string{"com.example.one", "com.example.two"} {
		newApp(t, env, id)
		commitBundle(t, env, id, "1.0.1", files)
		channel(t, env, id, "production", "1.0.1", nil)
	}
	c := env.HTTPSClient()
	// Concurrent first requests of two apps with the same content.
	var wg sync.WaitGroup
	answers := make([]reply, 16)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := []string{"com.example.one", "com.example.two"}[i%2]
			answers[i] = do(t, c, "POST", env.URL+"/updates", info(func(m map[string]any) {
				m["app_id"] = app
				m["device_id"] = fmt.Sprintf("0f673663-459a-44c0-a7f5-%012d", i)
			}))
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a.Status != 200 || a.Body["checksum"] != answers[0].Body["checksum"] || a.Body["url"] != answers[0].Body["url"] {
			t.Fatalf("answers differ: %s\n%s", a.Raw, answers[0].Raw)
		}
	}
	sum := answers[0].Body["checksum"].(string)
	if want := "https://cdn.example.com/o/" + sum; answers[0].Body["url"] != want {
		t.Errorf("url %v, want %s", answers[0].Body["url"], want)
	}
	// Only one zip object exists for that content.
	d, _ := manifest.ParseDigest(sum)
	if _, err := env.Store.StatObject(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, e := range answers[0].Body["manifest"].([]any) {
		m := e.(map[string]any)
		byName[m["file_name"].(string)] = m
		if !strings.HasPrefix(m["download_url"].(string), "https://cdn.example.com/o/") {
			t.Errorf("download_url %v", m["download_url"])
		}
	}
	for name, want := range map[string]bool{
		"assets/app.js.br": true, "assets/small.js": true, "assets/noise.bin": true, "assets/empty.txt": true,
		"assets/precompressed.br.br": true, "index.html": true,
	} {
		if _, ok := byName[name]; ok != want {
			t.Errorf("manifest entry %q present = %v, want %v (have %v)", name, ok, want, keys(anyMap(byName)))
		}
	}
	for name, m := range byName {
		raw := files[strings.TrimSuffix(name, ".br")]
		if name == "assets/precompressed.br" {
			raw = files[name]
		}
		h := sha256.Sum256(raw)
		if m["file_hash"] != hex.EncodeToString(h[:]) {
			t.Errorf("%s: file_hash %v is not the raw file's", name, m["file_hash"])
		}
	}

	// manifest_size: sizes of what the URLs serve.
	entries := answers[0].Body["manifest"].([]any)
	entries = append(entries, map[string]any{"file_name": "x", "file_hash": strings.Repeat("0", 64), "download_url": "https://elsewhere/x"},
		map[string]any{"file_name": "no hash"}, entries[0])
	body := info(func(m map[string]any) {
		m["app_id"] = "com.example.one"
		m["version"] = "1.0.1"
		m["manifest"] = entries
	})
	r := do(t, c, "POST", env.URL+"/updates/manifest_size", body)
	if r.Status != 200 {
		t.Fatalf("manifest_size: %d %s", r.Status, r.Raw)
	}
	if got := keys(r.Body); got != "[files knownFiles totalSize unknownFiles]" {
		t.Errorf("manifest_size keys %s", got)
	}
	if r.Body["knownFiles"] != float64(len(byName)-1) || r.Body["unknownFiles"] != float64(2) {
		// The empty file has size 0, which counts as unknown, as in Capgo.
		t.Errorf("manifest_size: %s", r.Raw)
	}
	if len(r.Body["files"].([]any)) != len(byName)+1 {
		t.Errorf("manifest_size lists %d files, want %d (no hash skipped, duplicate once)", len(r.Body["files"].([]any)), len(byName)+1)
	}
	var total float64
	for _, f := range r.Body["files"].([]any) {
		m := f.(map[string]any)
		if s, ok := m["size"].(float64); ok {
			total += s
			if strings.HasSuffix(m["file_name"].(string), ".br") && s >= float64(len(files[strings.TrimSuffix(m["file_name"].(string), ".br")])) && m["file_name"] != "assets/precompressed.br.br" {
				t.Errorf("%s: size %v is not the Brotli form's", m["file_name"], s)
			}
		} else if m["error"] != "size_unknown" {
			t.Errorf("%v: neither size nor size_unknown", m)
		}
	}
	if r.Body["totalSize"] != total {
		t.Errorf("totalSize %v, sum %v", r.Body["totalSize"], total)
	}
	if r := do(t, c, "POST", env.URL+"/updates/manifest_size", info(func(m map[string]any) { m["app_id"] = "com.example.nope" })); r.Status != 429 {
		t.Errorf("manifest_size of an unknown app: %d %s", r.Status, r.Raw)
	}
	if r := do(t, c, "GET", env.URL+"/updates", nil); r.Status != 200 || string(r.Raw) != `{"status":"ok"}` {
		t.Errorf("GET /updates: %d %s", r.Status, r.Raw)
	}
}

func anyMap[V any](m map[string]V) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// The decoded catalog is reused between checks, yet every change committed
// before a check is seen by it.
func TestCatalogChangesSeenAtOnce(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	ctx := context.Background()
	newApp(t, env, testApp)
	commitBundle(t, env, testApp, "1.0.1", map[string][]byte{"index.html": []byte("1")})
	commitBundle(t, env, testApp, "1.0.2", map[string][]byte{"index.html": []byte("2")})
	channel(t, env, testApp, "production", "1.0.1", nil)
	channel(t, env, testApp, "beta", "1.0.2", func(c *api.Channel) { c.Public = false })
	version := func() any {
		t.Helper()
		r := do(t, c, "POST", env.URL+"/updates", info(nil))
		if v, ok := r.Body["version"]; ok {
			return v
		}
		return r.Body["error"]
	}
	steps := []struct {
		change func() error
		want   string
	}{
		{func() error { return nil }, "1.0.1"},
		{func() error { return nil }, "1.0.1"},
		{func() error { return env.Store.SetOverride(ctx, testApp, testDevice, "beta") }, "1.0.2"},
		{func() error { return env.Store.ClearOverride(ctx, testApp, testDevice) }, "1.0.1"},
		{func() error { _, err := env.Store.SetChannelBundle(ctx, testApp, "production", "1.0.2"); return err }, "1.0.2"},
		{func() error {
			_, err := env.Store.UpdateChannel(ctx, testApp, "production", "update", func(c *api.Channel) error { c.Android = false; return nil })
			return err
		}, "no_channel"},
	}
	for i, s := range steps {
		if err := s.change(); err != nil {
			t.Fatal(err)
		}
		if got := version(); got != s.want {
			t.Fatalf("step %d: %v, want %s", i, got, s.want)
		}
	}
}
