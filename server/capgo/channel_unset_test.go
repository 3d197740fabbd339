package capgo_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestChannelChoiceDevicesCanUndo covers issue 14 item 6. Capgo's Electron
// updater sends plugin_version "0.0.1", was taken for an old plugin, and
// its setChannel('beta') was stored on the server: after its unset (a POST
// with action "unset" and no channel) every check was still answered from
// beta and defaultChannel was ignored. Capgo's rule: only 5.x-7.x before
// x.34.0 are old; current plugins get {"status":"ok","allowSet":true} and
// nothing is stored.
func TestChannelChoiceDevicesCanUndo(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	ctx := context.Background()
	newApp(t, env, testApp)
	commitBundle(t, env, testApp, "1.0.1", map[string][]byte{"index.html": []byte("prod")})
	commitBundle(t, env, testApp, "1.0.2", map[string][]byte{"index.html": []byte("beta")})
	channel(t, env, testApp, "production", "1.0.1", func(c *api.Channel) { c.AllowSelfAssign = true })
	channel(t, env, testApp, "beta", "1.0.2", func(c *api.Channel) { c.Public, c.AllowSelfAssign = false, true })

	selfAssigned := func(dev string) string {
		t.Helper()
		snap, err := env.Store.Snapshot(ctx, testApp, dev)
		if err != nil {
			t.Fatal(err)
		}
		return snap.SelfAssigned
	}
	checkVersion := func(edit func(map[string]any)) any {
		t.Helper()
		return do(t, c, "POST", env.URL+"/updates", info(edit)).Body["version"]
	}
	post := func(edit func(map[string]any)) reply {
		t.Helper()
		return do(t, c, "POST", env.URL+"/channel_self", info(edit))
	}

	for _, plugin := range []string{"0.0.1", "8.51.14", "9.0.0"} {
		t.Run("current plugin "+plugin, func(t *testing.T) {
			const dev = "0e1ec7a0-0000-4000-8000-000000000001"
			as := func(m map[string]any) { m["plugin_version"], m["device_id"], m["platform"] = plugin, dev, "android" }
			r := post(func(m map[string]any) { as(m); m["channel"], m["action"] = "beta", "set" })
			if r.Status != 200 || r.Body["status"] != "ok" || r.Body["allowSet"] != true || len(r.Body) != 2 {
				t.Fatalf("setChannel: %d %s", r.Status, r.Raw)
			}
			if got := selfAssigned(dev); got != "" {
				t.Fatalf("stored %q for a current plugin", got)
			}
			// The device sends its choice as defaultChannel.
			if v := checkVersion(func(m map[string]any) { as(m); m["defaultChannel"] = "beta" }); v != "1.0.2" {
				t.Errorf("check with defaultChannel beta: %v", v)
			}
			r = post(func(m map[string]any) { as(m); m["action"] = "unset"; m["defaultChannel"] = "beta" })
			if r.Status != 200 || len(r.Body) != 1 || r.Body["status"] != "ok" {
				t.Errorf("unset POST: %d %s", r.Status, r.Raw)
			}
			r = do(t, c, "DELETE", env.URL+"/channel_self?"+query(func(q url.Values) { q.Set("plugin_version", plugin); q.Set("device_id", dev) }), nil)
			if r.Status != 200 || r.Body["status"] != "ok" {
				t.Errorf("DELETE: %d %s", r.Status, r.Raw)
			}
			if v := checkVersion(func(m map[string]any) { as(m); m["defaultChannel"] = "production" }); v != "1.0.1" {
				t.Errorf("check with defaultChannel production after unset: %v", v)
			}
		})
	}

	t.Run("self-assignment stored earlier is ignored for a current plugin", func(t *testing.T) {
		const dev = "0e1ec7a0-0000-4000-8000-000000000002"
		if err := env.Store.SetSelfAssigned(ctx, testApp, dev, "beta"); err != nil {
			t.Fatal(err)
		}
		if v := checkVersion(func(m map[string]any) {
			m["plugin_version"], m["device_id"], m["defaultChannel"] = "0.0.1", dev, "production"
		}); v != "1.0.1" {
			t.Errorf("check: %v, want the defaultChannel's 1.0.1", v)
		}
		r := do(t, c, "PUT", env.URL+"/channel_self", info(func(m map[string]any) { m["plugin_version"], m["device_id"] = "0.0.1", dev }))
		if r.Body["channel"] != "production" || r.Body["status"] != "default" {
			t.Errorf("getChannel: %s", r.Raw)
		}
	})

	t.Run("old plugin stores, unset clears", func(t *testing.T) {
		const dev = "0e1ec7a0-0000-4000-8000-000000000003"
		old := func(m map[string]any) { m["plugin_version"], m["device_id"] = "5.0.0", dev }
		set := func() {
			t.Helper()
			if r := post(func(m map[string]any) { old(m); m["channel"] = "beta" }); r.Status != 200 || r.Body["status"] != "ok" || len(r.Body) != 1 {
				t.Fatalf("setChannel: %d %s", r.Status, r.Raw)
			}
			if got := selfAssigned(dev); got != "beta" {
				t.Fatalf("stored %q, want beta", got)
			}
			if v := checkVersion(func(m map[string]any) { old(m); m["defaultChannel"] = "production" }); v != "1.0.2" {
				t.Errorf("old plugin's check: %v, want beta's 1.0.2", v)
			}
		}
		afterUnset := func(how string) {
			t.Helper()
			if got := selfAssigned(dev); got != "" {
				t.Errorf("%s: still stored %q", how, got)
			}
			if v := checkVersion(func(m map[string]any) { old(m); m["defaultChannel"] = "production" }); v != "1.0.1" {
				t.Errorf("%s: check %v, want the defaultChannel's 1.0.1", how, v)
			}
		}
		set()
		if r := post(func(m map[string]any) { old(m); m["action"] = "unset" }); r.Status != 200 || r.Body["status"] != "ok" {
			t.Fatalf("unset POST: %d %s", r.Status, r.Raw)
		}
		afterUnset("POST unset")
		set()
		r := do(t, c, "DELETE", env.URL+"/channel_self?"+query(func(q url.Values) { q.Set("plugin_version", "5.0.0"); q.Set("device_id", dev) }), nil)
		if r.Status != 200 || r.Body["status"] != "ok" {
			t.Fatalf("DELETE: %d %s", r.Status, r.Raw)
		}
		afterUnset("DELETE")
		// The admin API's override DELETE clears a self-assignment too.
		set()
		dc, err := env.Client(env.AdminKey, false).ClearDeviceChannels(ctx, testApp, dev)
		if err != nil || dc.SelfAssigned != "beta" || dc.Override != "" {
			t.Fatalf("clear: %+v, %v", dc, err)
		}
		afterUnset("override --clear")
	})
}
