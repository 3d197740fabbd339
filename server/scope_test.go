package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/webhook"
)

const otherApp = "com.other.app"

// Route needs, as the README's Scopes table lists them.
const (
	needPublic     = "public"      // device and object routes: no key
	needRead       = "read"        // read, upload, write, admin
	needUpload     = "upload"      // upload, write, admin
	needSetChannel = "set-channel" // upload keys listing the channel, write, admin
	needWrite      = "write"       // write, admin
	needAdmin      = "admin"       // admin
)

// scopeKey is one caller of the scope test.
type scopeKey struct {
	tag string
	req *api.CreateKeyRequest // nil: no Authorization header
}

var scopeKeys = []scopeKey{
	{"none", nil},
	{"read", &api.CreateKeyRequest{Scope: api.ScopeRead}},
	{"read-other", &api.CreateKeyRequest{Scope: api.ScopeRead, Apps: []string{otherApp}}},
	{"upload", &api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{app}}},
	{"upload-channels", &api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{app}, Channels: []string{"production"}}},
	{"upload-other", &api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{otherApp}}},
	{"write", &api.CreateKeyRequest{Scope: api.ScopeWrite, Apps: []string{app}}},
	{"write-all", &api.CreateKeyRequest{Scope: api.ScopeWrite}},
	{"write-other", &api.CreateKeyRequest{Scope: api.ScopeWrite, Apps: []string{otherApp}}},
	{"admin", &api.CreateKeyRequest{Scope: api.ScopeAdmin}},
}

// allowedFor is the expected decision for key k on a route that needs
// need; appRoute says the route acts on app (not on the server).
func allowedFor(k scopeKey, need string, appRoute bool) bool {
	if k.req == nil {
		return false
	}
	scope, apps := k.req.Scope, k.req.Apps
	if scope == api.ScopeAdmin {
		return true
	}
	if appRoute && len(apps) > 0 && apps[0] != app {
		return false
	}
	switch need {
	case needRead:
		return true
	case needUpload:
		return scope == api.ScopeUpload || scope == api.ScopeWrite
	case needSetChannel:
		return scope == api.ScopeWrite || len(k.req.Channels) > 0
	case needWrite:
		return scope == api.ScopeWrite
	}
	return false
}

// scopeFixture holds what the requests of caller i act on, made before any
// request so that each allowed request can succeed on its own resources.
type scopeFixture struct {
	t         *testing.T
	env       *servertest.Env
	object    manifest.Digest // an object of bundle 1.0.0
	manifest  manifest.Digest // the manifest of bundle 1.0.0
	putUpload map[int]string  // upload session with one missing object, by caller
	putObject map[int][]byte  // that object
	commitUp  map[int]string  // upload session ready to commit, by caller
	victims   map[int]string  // a key id to delete, by caller
	devices   map[int]string  // a device with an override, by caller
	hooks     map[int]string  // a webhook to delete, by caller
	rotate    map[int]string  // a webhook to rotate the secret of, by caller
	failed    string          // a webhook delivery that failed, to redeliver
}

// deviceN is the device id of caller i.
func deviceN(i int) string { return fmt.Sprintf("0f673663-459a-44c0-a7f5-%012d", i) }

func newScopeFixture(t *testing.T, env *servertest.Env, callers int) *scopeFixture {
	t.Helper()
	ctx := context.Background()
	st := env.Store
	f := &scopeFixture{t: t, env: env, putUpload: map[int]string{}, putObject: map[int][]byte{},
		commitUp: map[int]string{}, victims: map[int]string{}, devices: map[int]string{}, hooks: map[int]string{}, rotate: map[int]string{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	commit := func(version, content string) *manifest.Manifest {
		t.Helper()
		b := []byte(content)
		_, err := st.PutObject(ctx, manifest.Sum(b), b)
		must(err)
		m := manifestOf(t, b)
		_, err = st.CommitBundle(ctx, app, version, m, api.BundleMeta{})
		must(err)
		return m
	}
	for _, a := range []string{app, otherApp} {
		_, err := st.CreateApp(ctx, a)
		must(err)
	}
	f.manifest = commit("1.0.0", "<!doctype html>one").Digest()
	commit("1.1.0", "<!doctype html>two")
	f.object = manifest.Sum([]byte("<!doctype html>one"))
	channel := func(name, bundle string) {
		t.Helper()
		c := newTestChannel(name, bundle)
		c.Public = name == "production"
		_, err := st.CreateChannel(ctx, c)
		must(err)
	}
	channel("production", "1.0.0")
	channel("beta", "1.0.0")
	must(st.RecordActivity(ctx, store.Activity{Devices: []store.DeviceReport{{App: app, DeviceID: deviceN(500),
		Platform: "android", Bundle: "1.0.0", Channel: "production", SetChannel: true}}}))
	for i := range callers {
		commit(fmt.Sprintf("2.0.%d", i), fmt.Sprintf("delete me %d", i))
		channel(fmt.Sprintf("del-%d", i), "")
		channel(fmt.Sprintf("rb-%d", i), "1.0.0")
		_, err := st.SetChannelBundle(ctx, app, fmt.Sprintf("rb-%d", i), "1.1.0")
		must(err)
		channel(fmt.Sprintf("ro-%d", i), "1.0.0")
		must(st.SetOverride(ctx, app, deviceN(i), "beta"))
		f.devices[i] = deviceN(i)
		_, k, err := st.CreateKey(ctx, api.ScopeRead, nil, fmt.Sprintf("victim %d", i))
		must(err)
		f.victims[i] = k.ID
		h, _, err := st.CreateWebhook(ctx, app, "http://127.0.0.1:9/victim", []string{webhook.EventChannelChanged})
		must(err)
		f.hooks[i] = h.ID
		h, _, err = st.CreateWebhook(ctx, app, "http://127.0.0.1:9/rotated", []string{webhook.EventChannelChanged})
		must(err)
		f.rotate[i] = h.ID
		obj := []byte(fmt.Sprintf("uploaded object %d", i))
		up, err := st.CreateUpload(ctx, app, fmt.Sprintf("5.0.%d", i), manifestOf(t, obj), api.BundleMeta{})
		must(err)
		f.putUpload[i], f.putObject[i] = up.ID, obj
		ready := []byte(fmt.Sprintf("committed object %d", i))
		_, err = st.PutObject(ctx, manifest.Sum(ready), ready)
		must(err)
		up, err = st.CreateUpload(ctx, app, fmt.Sprintf("6.0.%d", i), manifestOf(t, ready), api.BundleMeta{})
		must(err)
		f.commitUp[i] = up.ID
	}
	// A delivery that failed: a hook on bundle uploads, a bundle, and the
	// worker's give-up recorded.
	_, _, err := st.CreateWebhook(ctx, app, "http://127.0.0.1:9/failed", []string{webhook.EventBundleUploaded})
	must(err)
	commit("7.0.0", "<!doctype html>seven")
	q, err := st.WebhookQueue(ctx)
	must(err)
	for _, d := range q {
		if d.Delivery.Type == webhook.EventBundleUploaded {
			_, err := st.RecordWebhookAttempt(ctx, d, store.WebhookAttempt{Status: api.DeliveryFailed, Error: "connection refused"})
			must(err)
			f.failed = d.Delivery.ID
		}
	}
	if f.failed == "" {
		t.Fatal("no bundle.uploaded delivery queued")
	}
	return f
}

// manifestOf is the manifest of one file index.html holding b.
func manifestOf(t *testing.T, b []byte) *manifest.Manifest {
	t.Helper()
	m, err := manifest.New([]manifest.Entry{{Path: "index.html", Digest: manifest.Sum(b), Size: int64(len(b))}}, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestChannel(name, bundle string) api.Channel {
	return api.Channel{App: app, Name: name, Bundle: bundle, IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true, Policy: "major"}
}

// routeCase is one route of the scope table: what it needs, whether it
// acts on an app, and the request caller i sends (path parameters, body).
type routeCase struct {
	need     string
	appRoute bool
	req      func(f *scopeFixture, i int) (params map[string]string, body []byte)
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// appParams are the path parameters of a route on app (and channel).
func appParams(kv ...string) map[string]string {
	p := map[string]string{"app": app}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

func capgoInfo() []byte {
	return jsonBody(map[string]any{
		"platform": "android", "device_id": deviceN(999), "app_id": app, "version_build": "1.0.0",
		"version_name": "builtin", "plugin_version": "8.51.14", "is_emulator": false, "is_prod": true,
	})
}

// scopeTable lists every registered route (checkRouteTable enforces it).
func scopeTable(t *testing.T) map[string]routeCase {
	t.Helper()
	none := func(*scopeFixture, int) (map[string]string, []byte) { return nil, nil }
	onApp := func(kv ...string) func(*scopeFixture, int) (map[string]string, []byte) {
		return func(*scopeFixture, int) (map[string]string, []byte) { return appParams(kv...), nil }
	}
	object := func(f *scopeFixture, _ int) (map[string]string, []byte) {
		return map[string]string{"sha256": f.object.String()}, nil
	}
	manifestPath := func(f *scopeFixture, _ int) (map[string]string, []byte) {
		return map[string]string{"sha256": f.manifest.String()}, nil
	}
	delta := func(f *scopeFixture, _ int) (map[string]string, []byte) {
		return map[string]string{"codec": "zstd-dict", "from": f.object.String(), "to": f.object.String()}, nil
	}
	capgo := func(*scopeFixture, int) (map[string]string, []byte) { return nil, capgoInfo() }
	return map[string]routeCase{
		// Admin API: apps, bundles, uploads, keys (admin.go).
		"POST " + api.PathApps: {needAdmin, false, func(_ *scopeFixture, i int) (map[string]string, []byte) {
			return nil, jsonBody(api.CreateAppRequest{ID: fmt.Sprintf("com.new.t%d", i)})
		}},
		"GET " + api.PathApps:    {needRead, false, none},
		"GET " + api.PathBundles: {needRead, true, onApp()},
		"PUT " + api.PathBundle: {needUpload, true, func(f *scopeFixture, i int) (map[string]string, []byte) {
			return appParams("version", fmt.Sprintf("3.0.%d", i)), zipOf(f.t, map[string]string{"index.html": fmt.Sprintf("zip %d", i)})
		}},
		"DELETE " + api.PathBundle: {needWrite, true, func(_ *scopeFixture, i int) (map[string]string, []byte) {
			return appParams("version", fmt.Sprintf("2.0.%d", i)), nil
		}},
		"POST " + api.PathUploads: {needUpload, true, func(f *scopeFixture, i int) (map[string]string, []byte) {
			b := []byte(fmt.Sprintf("new upload %d", i))
			return appParams(), uploadJSON(f.t, []manifest.Entry{{Path: "index.html", Digest: manifest.Sum(b), Size: int64(len(b))}}, fmt.Sprintf("4.0.%d", i))
		}},
		"PUT " + api.PathUploadObject: {needUpload, true, func(f *scopeFixture, i int) (map[string]string, []byte) {
			return map[string]string{"id": f.putUpload[i], "sha256": manifest.Sum(f.putObject[i]).String()}, f.putObject[i]
		}},
		"POST " + api.PathUploadCommit: {needUpload, true, func(f *scopeFixture, i int) (map[string]string, []byte) {
			return map[string]string{"id": f.commitUp[i]}, nil
		}},
		"POST " + api.PathKeys: {needAdmin, false, func(*scopeFixture, int) (map[string]string, []byte) {
			return nil, jsonBody(api.CreateKeyRequest{Scope: api.ScopeRead})
		}},
		"GET " + api.PathKeys:        {needAdmin, false, none},
		"GET " + api.PathStoreBackup: {needAdmin, false, none},
		"GET " + api.PathSigningKey:  {needRead, false, none},
		"PUT " + api.PathBundleBuiltin: {needUpload, true, func(*scopeFixture, int) (map[string]string, []byte) {
			return appParams("version", "1.0.0"), jsonBody(api.BuiltinRequest{NativeVersion: "1.0.0"})
		}},
		"DELETE " + api.PathKey: {needAdmin, false, func(f *scopeFixture, i int) (map[string]string, []byte) {
			return map[string]string{"id": f.victims[i]}, nil
		}},

		// Channels, rollouts, overrides (channels.go) and stats (stats.go).
		"POST " + api.PathChannels: {needWrite, true, func(_ *scopeFixture, i int) (map[string]string, []byte) {
			return appParams(), jsonBody(api.CreateChannelRequest{Name: fmt.Sprintf("new-%d", i)})
		}},
		"GET " + api.PathChannels: {needRead, true, onApp()},
		"GET " + api.PathChannel:  {needRead, true, onApp("channel", "production")},
		"PATCH " + api.PathChannel: {needWrite, true, func(*scopeFixture, int) (map[string]string, []byte) {
			yes := true
			return appParams("channel", "beta"), jsonBody(api.ChannelSettings{AllowDev: &yes})
		}},
		"DELETE " + api.PathChannel: {needWrite, true, func(_ *scopeFixture, i int) (map[string]string, []byte) {
			return appParams("channel", fmt.Sprintf("del-%d", i)), nil
		}},
		"PUT " + api.PathChannelBundle: {needSetChannel, true, func(_ *scopeFixture, i int) (map[string]string, []byte) {
			return appParams("channel", "production"), jsonBody(api.SetBundleRequest{Bundle: []string{"1.1.0", "1.0.0"}[i%2]})
		}},
		"POST " + api.PathChannelRollback: {needWrite, true, func(_ *scopeFixture, i int) (map[string]string, []byte) {
			return appParams("channel", fmt.Sprintf("rb-%d", i)), nil
		}},
		"POST " + api.PathChannelRollout: {needWrite, true, func(_ *scopeFixture, i int) (map[string]string, []byte) {
			return appParams("channel", fmt.Sprintf("ro-%d", i)), jsonBody(api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 1000})
		}},
		"GET " + api.PathChannelHistory: {needRead, true, onApp("channel", "production")},
		"PUT " + api.PathDeviceOverride: {needWrite, true, func(_ *scopeFixture, i int) (map[string]string, []byte) {
			return appParams("device", deviceN(100+i)), jsonBody(api.OverrideRequest{Channel: "beta"})
		}},
		"GET " + api.PathDeviceOverride: {needRead, true, onApp("device", deviceN(100))},
		"DELETE " + api.PathDeviceOverride: {needWrite, true, func(f *scopeFixture, i int) (map[string]string, []byte) {
			return appParams("device", f.devices[i]), nil
		}},
		"GET " + api.PathStats:          {needRead, true, onApp()},
		"GET " + api.PathStatsSeries:    {needRead, true, onApp()},
		"GET " + api.PathDevices:        {needRead, true, onApp()},
		"GET " + api.PathDevice:         {needRead, true, onApp("device", deviceN(500))},
		"GET " + api.PathWhoami:         {needRead, false, none},
		"GET " + api.PathAppReleaseKeys: {needRead, true, onApp()},
		"POST " + api.PathAppReleaseKeys: {needWrite, true, func(f *scopeFixture, _ int) (map[string]string, []byte) {
			chain, err := f.env.Store.ReleaseRotations(context.Background(), app)
			if err != nil {
				f.t.Fatal(err)
			}
			key, _ := checksig.GenerateReleaseKey()
			rot, err := checksig.SignRotation(key, api.KeyRotation{App: app, Sequence: uint64(len(chain)) + 1, ResetFloors: true})
			if err != nil {
				f.t.Fatal(err)
			}
			return appParams(), jsonBody(rot)
		}},

		// Webhooks (webhook_routes.go): admin keys only.
		"POST " + api.PathWebhooks: {needAdmin, true, func(*scopeFixture, int) (map[string]string, []byte) {
			return appParams(), jsonBody(api.CreateWebhookRequest{URL: "http://127.0.0.1:9/hook", Events: []string{webhook.EventBundleUploaded}})
		}},
		"GET " + api.PathWebhooks:          {needAdmin, true, onApp()},
		"GET " + api.PathWebhookDeliveries: {needAdmin, true, onApp()},
		"POST " + api.PathWebhookRedeliver: {needAdmin, true, func(f *scopeFixture, _ int) (map[string]string, []byte) {
			return map[string]string{"app": app, "id": f.failed}, nil
		}},
		"DELETE " + api.PathWebhook: {needAdmin, false, func(f *scopeFixture, i int) (map[string]string, []byte) {
			return map[string]string{"id": f.hooks[i]}, nil
		}},
		"POST " + api.PathWebhookRotateSecret: {needAdmin, false, func(f *scopeFixture, i int) (map[string]string, []byte) {
			return map[string]string{"id": f.rotate[i]}, jsonBody(api.RotateWebhookSecretRequest{ExpirePreviousIn: "1h"})
		}},

		// Device and object routes: no key.
		"GET " + api.PathHealth:      {needPublic, false, none},
		"GET " + api.PathReleaseKeys: {needPublic, false, onApp()},
		"GET " + api.PathObject:      {needPublic, false, object},
		"HEAD " + api.PathObject:     {needPublic, false, object},
		"GET " + api.PathManifest:    {needPublic, false, manifestPath},
		"HEAD " + api.PathManifest:   {needPublic, false, manifestPath},
		"GET " + api.PathDelta:       {needPublic, false, delta},
		"HEAD " + api.PathDelta:      {needPublic, false, delta},
		"GET " + server.PathMetrics:  {needPublic, false, none},
		"GET /console/":              {needPublic, false, none},
		"HEAD /console/":             {needPublic, false, none},
		"GET /console":               {needPublic, false, none},
		"POST " + api.PathCheck: {needPublic, false, func(f *scopeFixture, _ int) (map[string]string, []byte) {
			return nil, jsonBody(api.CheckRequest{App: app, DeviceID: deviceN(998), Platform: "android", NativeVersion: "1.0",
				Current: api.CurrentBundle{Version: "1.0.0", Manifest: manifestOf(f.t, []byte("<!doctype html>one")).Digest()}})
		}},
		"POST /updates":               {needPublic, false, capgo},
		"GET /updates":                {needPublic, false, none},
		"POST /updates/manifest_size": {needPublic, false, capgo},
		"POST /stats":                 {needPublic, false, capgo},
		"GET /stats":                  {needPublic, false, none},

		"POST /channel_self":   {needPublic, false, capgo},
		"PUT /channel_self":    {needPublic, false, capgo},
		"GET /channel_self":    {needPublic, false, capgo},
		"DELETE /channel_self": {needPublic, false, capgo},
	}
}

// TestScopes covers issue 14 item 4: every route the server registers,
// called by every kind of key, is allowed (2xx) or refused exactly as the
// scope table says, and a refused request changes nothing stored. Device
// and object routes need no key. A route added without an entry here
// fails the test.
func TestScopes(t *testing.T) {
	table := scopeTable(t)
	checkRouteTable(t, table)
	// Channel changes switch at once (PatchWait < 0): the patches a switch
	// would wait for are paused, so that no background write lands between
	// the state checks.
	env := servertest.Start(t, servertest.WithLimits(server.Limits{AuthFailuresPerMinute: 1 << 20}),
		func(c *server.Config, _ *store.Options) { c.PatchWait = -1; c.Webhooks.AllowPrivate = true })
	resume := server.PausePatches(env.Server)
	defer resume()
	defer server.PauseWebhooks(env.Server)() // deliveries would change the stored state between checks
	f := newScopeFixture(t, env, len(scopeKeys))
	admin := env.Client(env.AdminKey, false)
	secrets := make([]string, len(scopeKeys))
	for i, k := range scopeKeys {
		if k.req == nil {
			continue
		}
		out, err := admin.CreateKey(context.Background(), *k.req)
		if err != nil {
			t.Fatalf("%s key: %v", k.tag, err)
		}
		secrets[i] = out.Secret
	}
	send := func(pattern string, rc routeCase, i int) (int, api.Error) {
		t.Helper()
		params, body := rc.req(f, i)
		method, _, _ := strings.Cut(pattern, " ")
		return call(t, env, method, pathOf(pattern, params), secrets[i], "", body)
	}
	var public []string
	for pattern, rc := range table {
		if rc.need == needPublic {
			public = append(public, pattern)
			continue
		}
		t.Run(pattern, func(t *testing.T) {
			for i, k := range scopeKeys {
				before := state(t, env)
				status, e := send(pattern, rc, i)
				if allowedFor(k, rc.need, rc.appRoute) {
					if status < 200 || status > 299 {
						t.Errorf("%s key: %d %s (%s), want 2xx", k.tag, status, e.Code, e.Message)
					}
					continue
				}
				want := http.StatusForbidden
				if k.req == nil {
					want = http.StatusUnauthorized
				}
				if status != want {
					t.Errorf("%s key: %d %s (%s), want %d", k.tag, status, e.Code, e.Message, want)
				}
				if after := state(t, env); after != before {
					t.Errorf("%s key: refused request changed the store: %s -> %s", k.tag, before, after)
				}
			}
		})
	}
	// Device and object routes last: their answers write device records
	// in the background.
	c := env.HTTPSClient()
	for _, pattern := range public {
		params, body := table[pattern].req(f, 0)
		method, _, _ := strings.Cut(pattern, " ")
		req, err := http.NewRequest(method, env.URL+pathOf(pattern, params), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode >= 500 {
			t.Errorf("%s without a key: status %d", pattern, resp.StatusCode)
		}
	}
}

// TestScopeChannelList covers issue 14 item 4: an upload key that lists
// channels may point only those at a bundle, and only on its apps; the key
// shows its channels; channels are refused on other scopes.
func TestScopeChannelList(t *testing.T) {
	env := servertest.Start(t)
	newScopeFixture(t, env, 0)
	admin := env.Client(env.AdminKey, false)
	ctx := context.Background()
	up, err := admin.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{app}, Channels: []string{"production", "production"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Key.Channels) != 1 || up.Key.Channels[0] != "production" {
		t.Errorf("key channels %v, want [production]", up.Key.Channels)
	}
	keys, err := admin.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		found = found || k.ID == up.Key.ID && len(k.Channels) == 1
	}
	if !found {
		t.Errorf("key list does not show the channels: %+v", keys)
	}
	set := jsonBody(api.SetBundleRequest{Bundle: "1.1.0"})
	tests := []struct {
		name, method, path string
		body               []byte
		want               int
	}{
		{"listed channel", "PUT", "/api/v1/apps/" + app + "/channels/production/bundle", set, 200},
		{"other channel", "PUT", "/api/v1/apps/" + app + "/channels/beta/bundle", set, 403},
		{"same channel name, other app", "PUT", "/api/v1/apps/" + otherApp + "/channels/production/bundle", set, 403},
		{"create the listed channel", "POST", "/api/v1/apps/" + app + "/channels", jsonBody(api.CreateChannelRequest{Name: "staging"}), 403},
		{"rollback the listed channel", "POST", "/api/v1/apps/" + app + "/channels/production/rollback", nil, 403},
		{"settings of the listed channel", "PATCH", "/api/v1/apps/" + app + "/channels/production", jsonBody(api.ChannelSettings{Bundle: ptr("1.0.0")}), 403},
		{"pause the listed channel", "PATCH", "/api/v1/apps/" + app + "/channels/production", jsonBody(api.ChannelSettings{Paused: ptr(true)}), 403},
		{"guard the listed channel", "PATCH", "/api/v1/apps/" + app + "/channels/production", jsonBody(api.ChannelSettings{Guard: &api.GuardSettings{Off: true}}), 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t, env)
			status, e := call(t, env, tc.method, tc.path, up.Secret, "", tc.body)
			if status != tc.want {
				t.Fatalf("%d %s (%s), want %d", status, e.Code, e.Message, tc.want)
			}
			if status == 403 && state(t, env) != before {
				t.Errorf("refused request changed the store")
			}
		})
	}
	for _, req := range []api.CreateKeyRequest{
		{Scope: api.ScopeWrite, Apps: []string{app}, Channels: []string{"production"}},
		{Scope: api.ScopeRead, Channels: []string{"production"}},
		{Scope: api.ScopeUpload, Apps: []string{app}, Channels: []string{"not a channel"}},
		{Scope: api.ScopeUpload},
		{Scope: api.ScopeAdmin, Apps: []string{app}},
		{Scope: "all"},
	} {
		before := state(t, env)
		if _, err := admin.CreateKey(ctx, req); err == nil {
			t.Errorf("CreateKey(%+v) succeeded, want 400", req)
		}
		if state(t, env) != before {
			t.Errorf("refused CreateKey(%+v) changed the store", req)
		}
	}
}

func ptr[T any](v T) *T { return &v }
