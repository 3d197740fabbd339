package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
)

// TestChannelGuardCommands: channel update sets and removes the release
// guard, refuses bad values naming them (changing nothing), pause, resume,
// disable and enable say what devices get, and a trip made by device
// traffic shows in channel show, channel history and stats.
func TestChannelGuardCommands(t *testing.T) {
	srv, c := channelCLI(t, "1.0.0", "1.1.0")
	c.must("channel", "create", "production", "--app", testApp, "--public", "--bundle", "1.0.0")
	c.must("channel", "rollout", "production", "--app", testApp, "--bundle", "1.1.0", "--percent", "20")

	out := c.must("channel", "update", "production", "--app", testApp, "--guard-failure-rate", "5%", "--guard-min-installs", "3", "--guard-action", "pause")
	if !strings.Contains(out, "guard: pause when more than 5% fail over at least 3 attempts") {
		t.Errorf("update output: %s", out)
	}
	if g := getChannel(t, srv, "production").Guard; g == nil || *g != (api.Guard{FailureRateBP: 500, MinInstalls: 3, Action: api.GuardPause}) {
		t.Fatalf("guard %+v", g)
	}

	before := storeState(t, srv)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--guard-failure-rate", "150%"}, `--guard-failure-rate "150%": want a number from 0 to 100`},
		{[]string{"--guard-failure-rate", "0%"}, "must be more than 0%"},
		{[]string{"--guard-failure-rate", "lots"}, `--guard-failure-rate "lots"`},
		{[]string{"--guard-min-installs", "-1"}, "--guard-min-installs -1: must be 0 or more"},
		{[]string{"--guard-min-installs", "2000000000"}, "guard minimum installs"}, // the server's rule
		{[]string{"--guard-action", "explode"}, `--guard-action "explode": want pause, rollback or notify`},
		{[]string{"--guard", "on"}, `the only value is "off"`},
		{[]string{"--guard", "off", "--guard-action", "notify"}, "--guard off excludes"},
	} {
		args := append([]string{"channel", "update", "production", "--app", testApp}, tc.args...)
		if _, _, err := c.run(args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
	if storeState(t, srv) != before {
		t.Error("refused guard settings changed the store")
	}

	// Device traffic trips it: three devices of the channel report 1.1.0
	// installed and rolled back.
	hc := srv.HTTPSClient()
	post := func(path string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		resp, err := hc.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || path == "/stats" && bytes.Contains(raw, []byte(`"error"`)) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
		}
	}
	for i := range 3 {
		dev := map[string]any{"platform": "ios", "device_id": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "app_id": testApp,
			"version_build": "1.0.0", "version_os": "17", "version_name": "1.0.0", "plugin_version": "8.51.14", "is_emulator": false, "is_prod": true}
		post("/updates", dev)
		var evs []any
		for _, a := range []string{"set", "update_fail"} {
			ev := map[string]any{"action": a, "version_name": "1.1.0", "old_version_name": "1.0.0"}
			for k, v := range dev {
				if k != "version_name" {
					ev[k] = v
				}
			}
			evs = append(evs, ev)
		}
		post("/stats", evs)
	}
	ch := getChannel(t, srv, "production")
	if ch.Rollout == nil || !ch.Rollout.Paused || len(ch.GuardTrips) != 1 {
		t.Fatalf("after 3 of 3 rollbacks: rollout %+v, trips %+v", ch.Rollout, ch.GuardTrips)
	}
	_, errOut, err := c.run("channel", "show", "production", "--app", testApp)
	if err != nil || !strings.Contains(errOut, "rollout of 1.1.0 paused") || !strings.Contains(errOut, "guard tripped on 1.1.0") ||
		!strings.Contains(errOut, "3 of 3 attempts failed (100%)") {
		t.Errorf("channel show: %v\n%s", err, errOut)
	}
	if out := c.must("channel", "list", "--app", testApp); !strings.Contains(out, "paused") || !strings.Contains(out, "pause >5% /3 tripped") {
		t.Errorf("channel list:\n%s", out)
	}
	if out := c.must("channel", "history", "production", "--app", testApp); !strings.Contains(out, "pause") || !strings.Contains(out, "guard: 1.1.0: 3 of 3 attempts failed") {
		t.Errorf("channel history:\n%s", out)
	}
	if _, errOut, err := c.run("stats", "--app", testApp); err != nil || !strings.Contains(errOut, "Channel production: guard tripped on 1.1.0") {
		t.Errorf("stats: %v\n%s", err, errOut)
	}

	// The states, one command each.
	for _, tc := range []struct {
		verb, want string
		check      func(api.Channel) bool
	}{
		{"resume", "serves 1.0.0, rolling out 1.1.0 to 20%", func(ch api.Channel) bool { return !ch.Rollout.Paused }},
		{"pause", "rollout of 1.1.0 paused", func(ch api.Channel) bool { return ch.Rollout.Paused }},
		{"disable", "disabled: every device is answered no update", func(ch api.Channel) bool { return ch.Disabled }},
		{"enable", "rollout of 1.1.0 paused", func(ch api.Channel) bool { return !ch.Disabled }},
	} {
		out := c.must("channel", tc.verb, "production", "--app", testApp)
		if !strings.Contains(out, tc.want) || !tc.check(getChannel(t, srv, "production")) {
			t.Errorf("channel %s: %s", tc.verb, out)
		}
	}
	c.must("channel", "update", "production", "--app", testApp, "--guard", "off")
	if g := getChannel(t, srv, "production").Guard; g != nil {
		t.Errorf("--guard off left %+v", g)
	}
}
