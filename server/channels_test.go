package server_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/server/catalog"
	"github.com/patchwire/patchwire/server/servertest"
)

// withBundles starts a server with app holding the given versions.
func withBundles(t *testing.T, versions ...string) (*servertest.Env, *client.Client) {
	t.Helper()
	env := servertest.Start(t)
	c := newApp(t, env)
	for _, v := range versions {
		z := zipOf(t, map[string]string{"index.html": "<h1>" + v + "</h1>"})
		if status, e := call(t, env, "PUT", "/api/v1/apps/"+app+"/bundles/"+v, env.AdminKey, "application/zip", z); status != 201 {
			t.Fatalf("upload %s: %d %s", v, status, e.Message)
		}
	}
	return env, c
}

func apiCode(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestChannelRoutes(t *testing.T) {
	env, c := withBundles(t, "1.0.0", "1.1.0", "1.2.0")
	ctx := context.Background()
	truth := true
	prod, err := c.CreateChannel(ctx, app, api.CreateChannelRequest{Name: "production", ChannelSettings: api.ChannelSettings{Public: &truth}})
	if err != nil {
		t.Fatal(err)
	}
	want := api.Channel{App: app, Name: "production", ID: 1, Public: true, IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true, Policy: "major", Sequence: 1,
		CreatedAt: prod.CreatedAt, UpdatedAt: prod.UpdatedAt}
	if !reflect.DeepEqual(prod, want) {
		t.Fatalf("created\n%+v\nwant\n%+v", prod, want)
	}
	minor, b := "minor", "1.0.0"
	beta, err := c.CreateChannel(ctx, app, api.CreateChannelRequest{Name: "beta", ChannelSettings: api.ChannelSettings{Policy: &minor, Bundle: &b, AllowSelfAssign: &truth}})
	if err != nil || beta.Policy != "minor" || beta.Bundle != "1.0.0" || !beta.AllowSelfAssign || beta.Public || beta.ID != 2 {
		t.Fatalf("beta: %+v, %v", beta, err)
	}
	if list, err := c.ListChannels(ctx, app); err != nil || len(list) != 2 || list[0].Name != "beta" || list[1].Name != "production" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if got, err := c.GetChannel(ctx, app, "production"); err != nil || !reflect.DeepEqual(got, prod) {
		t.Fatalf("get: %+v, %v", got, err)
	}
	falsity := false
	upd, err := c.UpdateChannel(ctx, app, "production", api.ChannelSettings{IOS: &falsity, AllowEmulator: &falsity})
	if err != nil || upd.IOS || upd.AllowEmulator || !upd.Android || upd.Sequence != 1 {
		t.Fatalf("update: %+v, %v", upd, err)
	}
	steps := []struct {
		what   string
		do     func() (api.Channel, error)
		bundle string
		seq    uint64
	}{
		{"set 1.0.0", func() (api.Channel, error) { return c.SetChannelBundle(ctx, app, "production", "1.0.0") }, "1.0.0", 2},
		{"set 1.1.0", func() (api.Channel, error) { return c.SetChannelBundle(ctx, app, "production", "1.1.0") }, "1.1.0", 3},
		{"rollback", func() (api.Channel, error) { return c.RollbackChannel(ctx, app, "production") }, "1.0.0", 4},
		{"rollout", func() (api.Channel, error) {
			return c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.2.0", BasisPoints: 1250})
		}, "1.0.0", 5},
		{"pause", func() (api.Channel, error) {
			return c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutPause})
		}, "1.0.0", 6},
		{"resume", func() (api.Channel, error) {
			return c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutResume})
		}, "1.0.0", 7},
		{"promote", func() (api.Channel, error) {
			return c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutPromote})
		}, "1.2.0", 8},
		{"rollout again", func() (api.Channel, error) {
			return c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 10000})
		}, "1.2.0", 9},
		{"cancel", func() (api.Channel, error) {
			return c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutCancel})
		}, "1.2.0", 10},
		{"builtin", func() (api.Channel, error) { return c.SetChannelBundle(ctx, app, "production", "builtin") }, "builtin", 11},
		{"bundle through PATCH", func() (api.Channel, error) {
			return c.UpdateChannel(ctx, app, "production", api.ChannelSettings{Bundle: &b})
		}, "1.0.0", 12},
	}
	for _, st := range steps {
		ch, err := st.do()
		if err != nil || ch.Bundle != st.bundle || ch.Sequence != st.seq {
			t.Fatalf("%s: bundle %q sequence %d, %v; want %q, %d", st.what, ch.Bundle, ch.Sequence, err, st.bundle, st.seq)
		}
	}
	hist, err := c.ChannelHistory(ctx, app, "production")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range hist {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, " "); got != "create update set set rollback rollout pause resume promote rollout cancel set update" {
		t.Errorf("history actions: %s", got)
	}
	if hist[5].Detail != "rollout 1.2.0 at 12.5%" {
		t.Errorf("rollout event detail %q", hist[5].Detail)
	}

	o, err := c.SetOverride(ctx, app, "Device-ABC", "beta")
	if err != nil || o != (api.DeviceOverride{App: app, Device: "device-abc", Channel: "beta"}) {
		t.Fatalf("override: %+v, %v", o, err)
	}
	snap, err := catalog.Snapshot(ctx, env.Store, app, "DEVICE-abc")
	if err != nil || snap.Override != "beta" {
		t.Fatalf("snapshot override %q, %v", snap.Override, err)
	}
	if err := c.ClearOverride(ctx, app, "device-abc"); err != nil {
		t.Fatal(err)
	}
	if snap, _ := catalog.Snapshot(ctx, env.Store, app, "device-abc"); snap.Override != "" {
		t.Fatalf("override after clear: %q", snap.Override)
	}
	// A device id with a slash travels escaped in the path.
	if o, err := c.SetOverride(ctx, app, "a/b", "beta"); err != nil || o.Device != "a/b" {
		t.Fatalf("override of a/b: %+v, %v", o, err)
	}

	// A served bundle cannot be deleted; once nothing serves it, it can.
	if err := c.DeleteBundle(ctx, app, "1.0.0"); apiCode(err) != api.CodeBundleInUse || !strings.Contains(err.Error(), `"beta"`) {
		t.Fatalf("delete served bundle: %v", err)
	}
	if err := c.DeleteChannel(ctx, app, "beta"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetChannelBundle(ctx, app, "production", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteBundle(ctx, app, "1.0.0"); err != nil {
		t.Fatalf("delete unserved bundle: %v", err)
	}
	if _, err := c.GetChannel(ctx, app, "beta"); apiCode(err) != api.CodeChannelNotFound {
		t.Fatalf("get deleted channel: %v", err)
	}
}

func TestChannelRefusals(t *testing.T) {
	env, admin := withBundles(t, "1.0.0", "1.1.0")
	ctx := context.Background()
	if _, err := admin.CreateApp(ctx, "com.other.app"); err != nil {
		t.Fatal(err)
	}
	truth := true
	for _, req := range []api.CreateChannelRequest{
		{Name: "production", ChannelSettings: api.ChannelSettings{Public: &truth}},
		{Name: "beta"},
	} {
		if _, err := admin.CreateChannel(ctx, app, req); err != nil {
			t.Fatal(err)
		}
	}
	up, err := admin.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{"com.other.app"}})
	if err != nil {
		t.Fatal(err)
	}
	read, err := admin.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/apps/" + app
	chans := base + "/channels"
	cases := []struct {
		name, method, path, key string
		body                    string
		status                  int
		code                    string
	}{
		{"bad name", "POST", chans, "", `{"name":"a b"}`, 400, api.CodeInvalidChannel},
		{"long name", "POST", chans, "", `{"name":"` + strings.Repeat("x", 65) + `"}`, 400, api.CodeInvalidChannel},
		{"empty name", "POST", chans, "", `{}`, 400, api.CodeInvalidChannel},
		{"name taken", "POST", chans, "", `{"name":"beta"}`, 409, api.CodeChannelExists},
		{"missing bundle", "POST", chans, "", `{"name":"x","bundle":"9.9.9"}`, 404, api.CodeBundleNotFound},
		{"second public", "POST", chans, "", `{"name":"x","public":true}`, 409, api.CodePublicConflict},
		{"second public via PATCH", "PATCH", chans + "/beta", "", `{"public":true}`, 409, api.CodePublicConflict},
		{"bad policy", "POST", chans, "", `{"name":"x","policy":"sometimes"}`, 400, api.CodeInvalidChannel},
		{"unknown member", "POST", chans, "", `{"name":"x","colour":"red"}`, 400, api.CodeBadRequest},
		{"wrong type", "POST", chans, "", `{"name":"x","public":"yes"}`, 400, api.CodeBadRequest},
		{"unknown app", "POST", "/api/v1/apps/com.nope/channels", "", `{"name":"x"}`, 404, api.CodeNotFound},
		{"bad app id", "POST", "/api/v1/apps/-x/channels", "", `{"name":"x"}`, 400, api.CodeInvalidAppID},
		{"list unknown app", "GET", "/api/v1/apps/com.nope/channels", "", "", 404, api.CodeNotFound},
		{"get missing", "GET", chans + "/nope", "", "", 404, api.CodeChannelNotFound},
		{"patch missing", "PATCH", chans + "/nope", "", `{"public":false}`, 404, api.CodeChannelNotFound},
		{"patch bad policy", "PATCH", chans + "/beta", "", `{"policy":"x"}`, 400, api.CodeInvalidChannel},
		{"delete missing", "DELETE", chans + "/nope", "", "", 404, api.CodeChannelNotFound},
		{"set missing bundle", "PUT", chans + "/beta/bundle", "", `{"bundle":"9.9.9"}`, 404, api.CodeBundleNotFound},
		{"set empty bundle", "PUT", chans + "/beta/bundle", "", `{"bundle":""}`, 400, api.CodeInvalidChannel},
		{"set bad version", "PUT", chans + "/beta/bundle", "", `{"bundle":"v1"}`, 400, api.CodeInvalidChannel},
		{"set on missing channel", "PUT", chans + "/nope/bundle", "", `{"bundle":"1.0.0"}`, 404, api.CodeChannelNotFound},
		{"rollback without history", "POST", chans + "/beta/rollback", "", "", 409, api.CodeNoPreviousBundle},
		{"pause without rollout", "POST", chans + "/beta/rollout", "", `{"action":"pause"}`, 409, api.CodeNoRollout},
		{"rollout over 100%", "POST", chans + "/beta/rollout", "", `{"action":"start","bundle":"1.1.0","basis_points":10001}`, 400, api.CodeInvalidChannel},
		{"rollout of missing bundle", "POST", chans + "/beta/rollout", "", `{"action":"start","bundle":"3.0.0","basis_points":10}`, 404, api.CodeBundleNotFound},
		{"rollout bad action", "POST", chans + "/beta/rollout", "", `{"action":"jump"}`, 400, api.CodeInvalidChannel},
		{"history of missing", "GET", chans + "/nope/history", "", "", 404, api.CodeChannelNotFound},
		{"override to missing channel", "PUT", base + "/devices/dev-1/override", "", `{"channel":"nope"}`, 404, api.CodeChannelNotFound},
		{"override long device", "PUT", base + "/devices/" + strings.Repeat("d", 129) + "/override", "", `{"channel":"beta"}`, 400, api.CodeInvalidDeviceID},
		{"override without channel", "PUT", base + "/devices/dev-1/override", "", `{}`, 400, api.CodeInvalidChannel},
		{"read key creates", "POST", chans, read.Secret, `{"name":"x"}`, 403, api.CodeForbidden},
		{"read key overrides", "PUT", base + "/devices/dev-1/override", read.Secret, `{"channel":"beta"}`, 403, api.CodeForbidden},
		{"other app's upload key", "PUT", chans + "/beta/bundle", up.Secret, `{"bundle":"1.0.0"}`, 403, api.CodeForbidden},
		{"other app's upload key lists", "GET", chans, up.Secret, "", 403, api.CodeForbidden},
		{"no key", "GET", chans, "-", "", 401, api.CodeUnauthorized},
	}
	// Make 1.0.0 served, for the delete refusal.
	if _, err := admin.SetChannelBundle(ctx, app, "production", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name, method, path, key string
		body                    string
		status                  int
		code                    string
	}{"delete served bundle", "DELETE", base + "/bundles/1.0.0", "", "", 409, api.CodeBundleInUse})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			switch key {
			case "":
				key = env.AdminKey
			case "-":
				key = ""
			}
			before := state(t, env)
			status, e := call(t, env, tc.method, tc.path, key, "", []byte(tc.body))
			if status != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", status, e.Code, e.Message, tc.status, tc.code)
			}
			if after := state(t, env); after != before {
				t.Errorf("store changed: %s -> %s", before, after)
			}
		})
	}
	// Read keys may look.
	rc := env.Client(read.Secret, false)
	if _, err := rc.ListChannels(ctx, app); err != nil {
		t.Errorf("read key lists: %v", err)
	}
	if _, err := rc.ChannelHistory(ctx, app, "beta"); err != nil {
		t.Errorf("read key reads history: %v", err)
	}
}

// device returns an Android device on native 1.0.0 running version.
func device(id, version string) resolver.Device {
	return resolver.Device{AppID: app, DeviceID: id, Platform: resolver.PlatformAndroid,
		VersionBuild: "1.0.0", VersionName: version, PluginVersion: "7.0.40", IsProd: true}
}

// decide runs one update check as the device endpoint will: a fresh
// snapshot from the store, then the resolver.
func decide(t *testing.T, env *servertest.Env, d resolver.Device) resolver.Decision {
	t.Helper()
	snap, err := catalog.Snapshot(context.Background(), env.Store, app, d.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	return resolver.Decide(snap, d)
}

// target is the bundle a decision points the device at: the update's, or
// the one it already runs.
func target(dec resolver.Decision) string {
	if dec.Update != nil {
		return dec.Update.Bundle.Version
	}
	return dec.NoUpdate.Target
}

// TestChannelDecisions drives channels through the admin API and checks
// what the resolver decides from catalog.Snapshot after every change.
func TestChannelDecisions(t *testing.T) {
	env, c := withBundles(t, "1.0.1", "1.1.0", "1.2.0")
	ctx := context.Background()
	truth := true
	b := "1.0.1"
	if _, err := c.CreateChannel(ctx, app, api.CreateChannelRequest{Name: "production", ChannelSettings: api.ChannelSettings{Public: &truth, Bundle: &b}}); err != nil {
		t.Fatal(err)
	}
	b2 := "1.2.0"
	if _, err := c.CreateChannel(ctx, app, api.CreateChannelRequest{Name: "qa", ChannelSettings: api.ChannelSettings{Bundle: &b2}}); err != nil {
		t.Fatal(err)
	}

	// Override: a pinned device gets the private channel's bundle.
	if _, err := c.SetOverride(ctx, app, "PINNED", "qa"); err != nil {
		t.Fatal(err)
	}
	if dec := decide(t, env, device("pinned", "builtin")); !dec.IsUpdate() || dec.Update.Bundle.Version != "1.2.0" || dec.Update.Source != resolver.SourceOverride {
		t.Fatalf("pinned device: %+v %+v", dec.Update, dec.NoUpdate)
	}
	if dec := decide(t, env, device("other", "builtin")); !dec.IsUpdate() || dec.Update.Bundle.Version != "1.0.1" || dec.Update.Source != resolver.SourcePublic {
		t.Fatalf("other device: %+v %+v", dec.Update, dec.NoUpdate)
	}
	if err := c.ClearOverride(ctx, app, "pinned"); err != nil {
		t.Fatal(err)
	}
	if dec := decide(t, env, device("pinned", "builtin")); target(dec) != "1.0.1" {
		t.Fatalf("unpinned device: target %q", target(dec))
	}

	// A 30 % rollout across 10,000 devices.
	const n = 10000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", i*2654435761%(1<<32), i%65536, i%4096, (i*7)%4096, i*104729)
	}
	if _, err := c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 3000}); err != nil {
		t.Fatal(err)
	}
	snapDecide := func(d resolver.Device, snap resolver.Snapshot) resolver.Decision { return resolver.Decide(snap, d) }
	appSnap := func() resolver.Snapshot {
		// The generated devices have no overrides: one snapshot per pass is
		// the same as one per device (checked on a sample below).
		s, err := catalog.Snapshot(ctx, env.Store, app, "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	in := map[string]bool{}
	snap := appSnap()
	for _, id := range ids {
		if target(snapDecide(device(id, "1.0.1"), snap)) == "1.1.0" {
			in[id] = true
		}
	}
	if share := float64(len(in)) / n; math.Abs(share-0.30) > 0.02 {
		t.Fatalf("rollout reached %.2f%% of devices, want 30%% ± 2", 100*share)
	}
	for i, id := range ids {
		d := device(id, "1.0.1")
		var got bool
		if i%50 == 0 {
			got = target(decide(t, env, d)) == "1.1.0" // a fresh per-device snapshot
		} else {
			got = target(snapDecide(d, snap)) == "1.1.0"
		}
		if got != in[id] {
			t.Fatalf("device %s: in rollout %v on the second check, %v on the first", id, got, in[id])
		}
	}

	// Pause: half of the selected devices installed 1.1.0; they keep it,
	// and the other half (not updated yet) no longer enter.
	installed := map[string]bool{}
	k := 0
	for _, id := range ids {
		if in[id] {
			installed[id] = k%2 == 0
			k++
		}
	}
	if _, err := c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutPause}); err != nil {
		t.Fatal(err)
	}
	snap = appSnap()
	for _, id := range ids {
		running := "1.0.1"
		if installed[id] {
			running = "1.1.0"
		}
		dec := snapDecide(device(id, running), snap)
		if dec.IsUpdate() || target(dec) != running {
			t.Fatalf("paused, device %s on %s: update %+v, target %q", id, running, dec.Update, target(dec))
		}
	}

	// Promote (after resume): everybody moves to 1.1.0.
	for _, a := range []string{api.RolloutResume, api.RolloutPromote} {
		if _, err := c.Rollout(ctx, app, "production", api.RolloutRequest{Action: a}); err != nil {
			t.Fatal(err)
		}
	}
	snap = appSnap()
	for _, id := range ids {
		running := "1.0.1"
		if installed[id] {
			running = "1.1.0"
		}
		dec := snapDecide(device(id, running), snap)
		if target(dec) != "1.1.0" || dec.IsUpdate() == installed[id] {
			t.Fatalf("promoted, device %s on %s: update %v, target %q", id, running, dec.IsUpdate(), target(dec))
		}
	}

	// Rollback returns the previous bundle, visible to the next check.
	ch, err := c.RollbackChannel(ctx, app, "production")
	if err != nil || ch.Bundle != "1.0.1" {
		t.Fatalf("rollback: %+v, %v", ch.Bundle, err)
	}
	if dec := decide(t, env, device(ids[0], "1.1.0")); !dec.IsUpdate() || dec.Update.Bundle.Version != "1.0.1" {
		t.Fatalf("after rollback: %+v %+v", dec.Update, dec.NoUpdate)
	}

	// builtin sends devices back to the native bundle.
	if _, err := c.SetChannelBundle(ctx, app, "production", "builtin"); err != nil {
		t.Fatal(err)
	}
	if dec := decide(t, env, device(ids[1], "1.0.1")); !dec.IsUpdate() || dec.Update.Bundle.Version != resolver.Builtin {
		t.Fatalf("builtin: %+v %+v", dec.Update, dec.NoUpdate)
	}
	if dec := decide(t, env, device(ids[1], "builtin")); dec.IsUpdate() || dec.NoUpdate.Code != resolver.CodeAlreadyOnBuiltin {
		t.Fatalf("builtin, device on builtin: %+v %+v", dec.Update, dec.NoUpdate)
	}

	// Deleting the public channel leaves devices without a channel.
	if err := c.DeleteChannel(ctx, app, "production"); err != nil {
		t.Fatal(err)
	}
	if dec := decide(t, env, device(ids[2], "1.0.1")); dec.IsUpdate() || dec.NoUpdate.Code != resolver.CodeNoChannel {
		t.Fatalf("no public channel: %+v %+v", dec.Update, dec.NoUpdate)
	}
	// An unknown app is on_premise_app.
	snapNope, err := catalog.Snapshot(ctx, env.Store, "com.nope", "x")
	if err != nil || snapNope.App.Exists {
		t.Fatalf("unknown app snapshot: %+v, %v", snapNope.App, err)
	}
}
