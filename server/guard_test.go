package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/server/servertest"
)

// capgoDevice is a simulated device speaking the Capgo protocol over
// HTTPS to the real server: an update check and stats events, as the
// unmodified plugin sends them.
type capgoDevice struct {
	id, running string
}

func deviceID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// capgoBody is the device's report with extra members.
func (d capgoDevice) body(extra map[string]any) map[string]any {
	m := map[string]any{
		"platform": "android", "device_id": d.id, "app_id": app, "custom_id": "",
		"version_build": "1.0.0", "version_code": "10", "version_os": "14", "version_name": d.running,
		"plugin_version": "8.51.14", "is_emulator": false, "is_prod": true, "defaultChannel": "",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// postCapgo posts v as JSON to path and decodes the answer.
func postCapgo(t *testing.T, env *servertest.Env, c *http.Client, path string, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Post(env.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	return out
}

// check asks for an update and returns the version offered, or the
// refusal's code prefixed with "no:".
func (d capgoDevice) check(t *testing.T, env *servertest.Env, c *http.Client) string {
	t.Helper()
	out := postCapgo(t, env, c, "/updates", d.body(nil))
	if code, ok := out["error"].(string); ok {
		return "no:" + code
	}
	return out["version"].(string)
}

// report sends stats events about version in one request.
func (d capgoDevice) report(t *testing.T, env *servertest.Env, c *http.Client, version string, actions ...string) {
	t.Helper()
	var evs []any
	for _, a := range actions {
		evs = append(evs, d.body(map[string]any{"action": a, "version_name": version, "old_version_name": "1.0.0", "timestamp": 1760000000000}))
	}
	out := postCapgo(t, env, c, "/stats", evs)
	if out["status"] != "ok" {
		t.Fatalf("stats: %v", out)
	}
}

// guardedChannel starts a server with bundles 1.0.0 and 1.1.0 and the
// public channel production serving 1.0.0 with a guard.
func guardedChannel(t *testing.T, rateBP int, minimum int64, action string) (*servertest.Env, *client.Client) {
	t.Helper()
	env, c := withBundles(t, "1.0.0", "1.1.0")
	truth, b := true, "1.0.0"
	if _, err := c.CreateChannel(context.Background(), app, api.CreateChannelRequest{Name: "production", ChannelSettings: api.ChannelSettings{
		Public: &truth, Bundle: &b, Guard: &api.GuardSettings{FailureRateBP: &rateBP, MinInstalls: &minimum, Action: &action}}}); err != nil {
		t.Fatal(err)
	}
	return env, c
}

// TestGuardStopsAFailingRollout: a rollout at 20 % whose bundle fails on
// 30 % of its devices is stopped by the guard (paused, or rolled back)
// within the stats write that makes the Wilson lower bound pass 5 % with
// at least 30 attempts, and only once; one failing on 1 % is not; devices
// outside the rollout keep getting the old bundle throughout.
func TestGuardStopsAFailingRollout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		action  string
		devices int
		fails   func(k int) bool // whether the k-th device of the rollout fails
		trip    bool
	}{
		{"30% failing, pause", api.GuardPause, 300, func(k int) bool { return k%10 < 3 }, true},
		{"30% failing, rollback", api.GuardRollback, 300, func(k int) bool { return k%10 < 3 }, true},
		{"1% failing", api.GuardPause, 600, func(k int) bool { return k%100 == 50 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			minimum := int64(30)
			env, c := guardedChannel(t, 500, minimum, tc.action)
			ctx := context.Background()
			hc := env.HTTPSClient()
			ch, err := c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 2000})
			if err != nil {
				t.Fatal(err)
			}
			rolloutID := ch.Rollout.ID

			// Every device runs 1.0.0 and checks: a fifth get 1.1.0.
			var in, out []capgoDevice
			for i := range tc.devices {
				d := capgoDevice{id: deviceID(i), running: "1.0.0"}
				switch got := d.check(t, env, hc); got {
				case "1.1.0":
					in = append(in, d)
				case "no:no_new_version_available":
					out = append(out, d)
				default:
					t.Fatalf("device %d: %s", i, got)
				}
			}
			if n := len(in); n < tc.devices/10 || n > tc.devices*3/10 {
				t.Fatalf("%d of %d devices in a 20%% rollout", n, tc.devices)
			}

			// The rollout's devices install it; some fail to start it and
			// roll back (update_fail). After every stats request the
			// channel is as the bound says.
			var installs, rollbacks int64
			trippedAt := -1
			for k := range in {
				d := &in[k]
				actions := []string{"download_complete", "set"}
				d.running = "1.1.0"
				installs++
				if tc.fails(k) {
					actions = append(actions, "update_fail")
					d.running = "1.0.0"
					rollbacks++
				}
				d.report(t, env, hc, "1.1.0", actions...)
				lower := resolver.WilsonLower(rollbacks, installs, resolver.GuardZ)
				due := installs >= minimum && lower > 0.05
				got, err := c.GetChannel(ctx, app, "production")
				if err != nil {
					t.Fatal(err)
				}
				acted := len(got.GuardTrips) > 0
				if acted && trippedAt < 0 {
					trippedAt = k
					if !due {
						t.Fatalf("tripped after %d installs, %d rollbacks (bound %.3f): too early", installs, rollbacks, lower)
					}
				}
				if due && !acted {
					t.Fatalf("not tripped after %d installs, %d rollbacks (bound %.3f > 5%%)", installs, rollbacks, lower)
				}
				if acted && len(got.GuardTrips) != 1 {
					t.Fatalf("tripped %d times", len(got.GuardTrips))
				}
			}
			// Every event was counted.
			st, err := c.Stats(ctx, app, "production")
			if err != nil || len(st.Bundles) == 0 || st.Bundles[0].Version != "1.1.0" || st.Bundles[0].Installs != installs || st.Bundles[0].Rollbacks != rollbacks {
				t.Fatalf("stats %+v, %v; sent %d installs, %d rollbacks", st.Bundles, err, installs, rollbacks)
			}
			got, err := c.GetChannel(ctx, app, "production")
			if err != nil {
				t.Fatal(err)
			}
			if !tc.trip {
				if trippedAt >= 0 || got.Rollout == nil || got.Rollout.Paused {
					t.Fatalf("1%% failures stopped the rollout: %+v, trips %+v", got.Rollout, got.GuardTrips)
				}
				guardMetric(t, env, tc.action, 0)
				return
			}
			if trippedAt < 0 {
				t.Fatal("never tripped")
			}
			t.Logf("tripped at the %d-th device of the rollout", trippedAt+1)
			trip := got.GuardTrips[0]
			if trip.Bundle != "1.1.0" || trip.Action != tc.action || trip.FailureRateBP != 500 || trip.Attempts < minimum || trip.LowerBound <= 0.05 {
				t.Errorf("trip %+v", trip)
			}

			// What devices get now.
			newIn := func() capgoDevice { // a device of the rollout's share that never checked
				for i := tc.devices; ; i++ {
					if resolver.InRollout(rolloutID, deviceID(i), 2000) {
						return capgoDevice{id: deviceID(i), running: "1.0.0"}
					}
				}
			}()
			wantOn11 := "no:no_new_version_available" // paused: they keep it
			if tc.action == api.GuardRollback {
				if got.Rollout != nil || got.Bundle != "1.0.0" {
					t.Fatalf("rolled back to %+v", got)
				}
				wantOn11 = "1.0.0" // back to the bundle before
			} else if got.Rollout == nil || !got.Rollout.Paused || got.Bundle != "1.0.0" {
				t.Fatalf("paused: %+v, rollout %+v", got, got.Rollout)
			}
			for _, d := range in {
				want := wantOn11
				if d.running == "1.0.0" {
					want = "no:no_new_version_available"
				}
				if g := d.check(t, env, hc); g != want {
					t.Errorf("rollout device on %s: %s, want %s", d.running, g, want)
				}
			}
			if g := newIn.check(t, env, hc); g != "no:no_new_version_available" {
				t.Errorf("a new device of the rollout's share got %s: nobody joins a stopped rollout", g)
			}
			for _, d := range out[:20] {
				if g := d.check(t, env, hc); g != "no:no_new_version_available" {
					t.Errorf("device outside the rollout: %s", g)
				}
			}
			if g := (capgoDevice{id: deviceID(10_000_000), running: "0.9.0"}).check(t, env, hc); g != "1.0.0" {
				t.Errorf("a device on another bundle got %s, want the channel's 1.0.0", g)
			}

			// The trip is in the history, the metric and the stats API.
			hist, err := c.ChannelHistory(ctx, app, "production")
			if err != nil {
				t.Fatal(err)
			}
			last := hist[len(hist)-1]
			if last.Action != tc.action || !strings.HasPrefix(last.Detail, "guard: 1.1.0: ") {
				t.Errorf("history: %+v", last)
			}
			st, err = c.Stats(ctx, app, "production")
			if err != nil || len(st.GuardTrips) != 1 || st.GuardTrips[0].Channel != "production" || st.GuardTrips[0].Bundle != "1.1.0" {
				t.Errorf("stats API: %+v, %v", st.GuardTrips, err)
			}
			guardMetric(t, env, tc.action, 1)
			if tc.action != api.GuardPause {
				return
			}
			// Resumed by hand, the rollout is not stopped again for the
			// same bundle, however it fares.
			falsity := false
			if _, err := c.UpdateChannel(ctx, app, "production", api.ChannelSettings{Paused: &falsity}); err != nil {
				t.Fatal(err)
			}
			if g := newIn.check(t, env, hc); g != "1.1.0" {
				t.Fatalf("resumed: a new device of the share got %s", g)
			}
			newIn.report(t, env, hc, "1.1.0", "set", "update_fail")
			if got, err := c.GetChannel(ctx, app, "production"); err != nil || got.Rollout == nil || got.Rollout.Paused || len(got.GuardTrips) != 1 {
				t.Errorf("after a resume: %+v, trips %d, %v", got.Rollout, len(got.GuardTrips), err)
			}
			guardMetric(t, env, tc.action, 1)
		})
	}
}

// guardMetric checks patchwire_guard_trips_total{action} on /metrics.
func guardMetric(t *testing.T, env *servertest.Env, action string, want int) {
	t.Helper()
	line := fmt.Sprintf(`patchwire_guard_trips_total{action=%q} %d`, action, want)
	if !strings.Contains(metricsText(t, env), line+"\n") {
		t.Errorf("/metrics lacks %q", line)
	}
}

// TestGuardSettingsRefused: bad guard settings are refused with 400
// invalid_channel naming the problem, and change nothing stored.
func TestGuardSettingsRefused(t *testing.T) {
	env, c := withBundles(t, "1.0.0")
	ctx := context.Background()
	b := "1.0.0"
	if _, err := c.CreateChannel(ctx, app, api.CreateChannelRequest{Name: "production", ChannelSettings: api.ChannelSettings{Bundle: &b}}); err != nil {
		t.Fatal(err)
	}
	before := state(t, env)
	path := "/api/v1/apps/" + app + "/channels/production"
	for _, tc := range []struct{ name, body, want string }{
		{"150%", `{"guard":{"failure_rate_bp":15000}}`, "guard failure rate"},
		{"0%", `{"guard":{"failure_rate_bp":0}}`, "guard failure rate"},
		{"negative minimum", `{"guard":{"failure_rate_bp":500,"min_installs":-1}}`, "guard minimum installs"},
		{"unknown action", `{"guard":{"failure_rate_bp":500,"action":"explode"}}`, "guard action"},
		{"no rate", `{"guard":{"action":"pause"}}`, "needs a failure rate"},
		{"off with a rate", `{"guard":{"off":true,"failure_rate_bp":500}}`, "takes no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, e := call(t, env, "PATCH", path, env.AdminKey, "application/json", []byte(tc.body))
			if status != 400 || e.Code != api.CodeInvalidChannel || !strings.Contains(e.Message, tc.want) {
				t.Errorf("%d %+v, want 400 invalid_channel naming %q", status, e, tc.want)
			}
		})
	}
	if after := state(t, env); after != before {
		t.Error("refused guard settings changed the store")
	}
}

// TestPauseAndDisable: a paused channel (no rollout) keeps devices on its
// bundle and brings it to no other; resumed, it serves again; a disabled
// channel answers every device no update. Each is in the history.
func TestPauseAndDisable(t *testing.T) {
	env, c := withBundles(t, "1.0.0", "1.1.0")
	ctx := context.Background()
	hc := env.HTTPSClient()
	truth, falsity, b := true, false, "1.0.0"
	if _, err := c.CreateChannel(ctx, app, api.CreateChannelRequest{Name: "production", ChannelSettings: api.ChannelSettings{Public: &truth, Bundle: &b}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetChannelBundle(ctx, app, "production", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	on11 := capgoDevice{id: deviceID(1), running: "1.1.0"}
	on10 := capgoDevice{id: deviceID(2), running: "1.0.0"}
	for _, step := range []struct {
		st         api.ChannelSettings
		action     string
		on11, on10 string
	}{
		{api.ChannelSettings{Paused: &truth}, "pause", "no:no_new_version_available", "no:channel_paused"},
		{api.ChannelSettings{Paused: &falsity}, "resume", "no:no_new_version_available", "1.1.0"},
		{api.ChannelSettings{Disabled: &truth}, "disable", "no:channel_disabled", "no:channel_disabled"},
		{api.ChannelSettings{Disabled: &falsity}, "enable", "no:no_new_version_available", "1.1.0"},
	} {
		ch, err := c.UpdateChannel(ctx, app, "production", step.st)
		if err != nil {
			t.Fatal(err)
		}
		if g := on11.check(t, env, hc); g != step.on11 {
			t.Errorf("%s: device on 1.1.0 got %s, want %s", step.action, g, step.on11)
		}
		if g := on10.check(t, env, hc); g != step.on10 {
			t.Errorf("%s: device on 1.0.0 got %s, want %s", step.action, g, step.on10)
		}
		hist, err := c.ChannelHistory(ctx, app, "production")
		if err != nil || hist[len(hist)-1].Action != step.action {
			t.Errorf("%s: history %+v, %v (channel %+v)", step.action, hist[len(hist)-1], err, ch)
		}
	}
	// With a rollout, a pause is the rollout's: outside it devices keep
	// getting the channel's bundle.
	if _, err := c.Rollout(ctx, app, "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.0.0", BasisPoints: 0}); err != nil {
		t.Fatal(err)
	}
	ch, err := c.UpdateChannel(ctx, app, "production", api.ChannelSettings{Paused: &truth})
	if err != nil || ch.Paused || ch.Rollout == nil || !ch.Rollout.Paused {
		t.Fatalf("pause with a rollout: %+v, %v", ch, err)
	}
	if g := (capgoDevice{id: deviceID(3), running: "0.9.0"}).check(t, env, hc); g != "1.1.0" {
		t.Errorf("paused rollout: device outside it got %s, want the channel's 1.1.0", g)
	}
	if g := on10.check(t, env, hc); g != "no:no_new_version_available" {
		t.Errorf("paused rollout: device on its bundle got %s, want to keep it", g)
	}
}

// TestGuardStopsAFullRelease: without a rollout the guard watches the
// bundle the channel was set to; pause freezes the channel (devices on the
// bad bundle keep it, devices not yet on it get channel_paused), rollback
// sends everyone back to the bundle before.
func TestGuardStopsAFullRelease(t *testing.T) {
	for _, tc := range []struct {
		action           string
		onBad, onOld     string // what devices on 1.1.0 and on 1.0.0 get after the trip
		bundle, histLast string
	}{
		{api.GuardPause, "no:no_new_version_available", "no:channel_paused", "1.1.0", "pause"},
		{api.GuardRollback, "1.0.0", "no:no_new_version_available", "1.0.0", "rollback"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			minimum := int64(10)
			env, c := guardedChannel(t, 1000, minimum, tc.action)
			ctx := context.Background()
			hc := env.HTTPSClient()
			if _, err := c.SetChannelBundle(ctx, app, "production", "1.1.0"); err != nil {
				t.Fatal(err)
			}
			late := capgoDevice{id: deviceID(999), running: "1.0.0"} // checks only after the trip
			var devs []capgoDevice
			for i := range 10 { // the guard judges from the 10th
				if ch, err := c.GetChannel(ctx, app, "production"); err != nil || len(ch.GuardTrips) != 0 {
					t.Fatalf("tripped before %d attempts: %+v, %v", minimum, ch.GuardTrips, err)
				}
				d := capgoDevice{id: deviceID(i), running: "1.0.0"}
				if g := d.check(t, env, hc); g != "1.1.0" {
					t.Fatalf("device %d: %s", i, g)
				}
				actions := []string{"set"}
				d.running = "1.1.0"
				if i%2 == 0 { // half fail to start it
					actions = append(actions, "update_fail")
					d.running = "1.0.0"
				}
				d.report(t, env, hc, "1.1.0", actions...)
				devs = append(devs, d)
			}
			ch, err := c.GetChannel(ctx, app, "production")
			if err != nil || len(ch.GuardTrips) != 1 || ch.Bundle != tc.bundle || ch.Paused != (tc.action == api.GuardPause) {
				t.Fatalf("after the trip: %+v, %v", ch, err)
			}
			for _, d := range devs {
				want := tc.onBad
				if d.running == "1.0.0" {
					want = tc.onOld
				}
				if g := d.check(t, env, hc); g != want {
					t.Errorf("device on %s: %s, want %s", d.running, g, want)
				}
			}
			if g := late.check(t, env, hc); g != tc.onOld {
				t.Errorf("a device that had not updated yet: %s, want %s", g, tc.onOld)
			}
			hist, err := c.ChannelHistory(ctx, app, "production")
			if err != nil || hist[len(hist)-1].Action != tc.histLast || !strings.Contains(hist[len(hist)-1].Detail, "guard: 1.1.0: ") {
				t.Errorf("history %+v, %v", hist[len(hist)-1], err)
			}
		})
	}
}
