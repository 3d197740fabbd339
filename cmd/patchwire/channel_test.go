package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/servertest"
)

const testApp = "com.example.app"

// channelCLI starts a server with testApp and bundles of the given versions.
func channelCLI(t *testing.T, versions ...string) (*servertest.Env, *cli) {
	t.Helper()
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	c.must("app", "add", testApp)
	for _, v := range versions {
		dir := writeBundle(t, map[string][]byte{"index.html": []byte("<h1>" + v + "</h1>")})
		c.must("bundle", "upload", dir, "--app", testApp, "--version", v)
	}
	return srv, c
}

// channel reads a channel through the store.
func getChannel(t *testing.T, srv *servertest.Env, name string) api.Channel {
	t.Helper()
	ch, err := srv.Store.GetChannel(context.Background(), testApp, name)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func storeState(t *testing.T, srv *servertest.Env) string {
	t.Helper()
	n, d, err := srv.Store.StateDigest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(n, d)
}

func TestChannelCommands(t *testing.T) {
	srv, c := channelCLI(t, "1.0.0", "1.1.0", "1.2.0")
	out := c.must("channel", "create", "production", "--app", testApp, "--public")
	if !strings.Contains(out, "Created channel production") || !strings.Contains(out, "public") {
		t.Errorf("create output: %s", out)
	}
	ch := getChannel(t, srv, "production")
	if !ch.Public || !ch.IOS || !ch.Android || !ch.Electron || !ch.AllowEmulator || !ch.AllowDevice || !ch.AllowDev || !ch.AllowProd ||
		ch.Policy != "major" || ch.AllowSelfAssign || ch.AllowUnderNative || ch.Bundle != "" {
		t.Fatalf("production with defaults: %+v", ch)
	}
	c.must("channel", "create", "beta", "--app", testApp, "--platforms", "ios,android", "--policy", "minor", "--self-set",
		"--no-emulator", "--no-device", "--no-dev", "--no-prod", "--allow-under-native")
	beta := getChannel(t, srv, "beta")
	want := api.Channel{App: testApp, Name: "beta", ID: 2, IOS: true, Android: true, Policy: "minor", AllowSelfAssign: true,
		AllowUnderNative: true, Sequence: 1, CreatedAt: beta.CreatedAt, UpdatedAt: beta.UpdatedAt}
	if !reflect.DeepEqual(beta, want) {
		t.Fatalf("beta\n%+v\nwant\n%+v", beta, want)
	}

	// update changes only the flags given, including --x=false forms.
	updates := []struct {
		args  []string
		check func(api.Channel) bool
	}{
		{[]string{"--no-emulator=false"}, func(c api.Channel) bool { return c.AllowEmulator && !c.AllowDevice && c.Policy == "minor" }},
		{[]string{"--self-set=false", "--policy", "patch"}, func(c api.Channel) bool { return !c.AllowSelfAssign && c.Policy == "patch" && c.IOS }},
		{[]string{"--platforms", ""}, func(c api.Channel) bool { return !c.IOS && !c.Android && !c.Electron && c.AllowEmulator }},
		{[]string{"--platforms", "electron", "--no-prod=false", "--allow-under-native=false"}, func(c api.Channel) bool {
			return c.Electron && !c.IOS && c.AllowProd && !c.AllowUnderNative && !c.AllowDev
		}},
	}
	for _, u := range updates {
		c.must(append([]string{"channel", "update", "beta", "--app", testApp}, u.args...)...)
		if got := getChannel(t, srv, "beta"); !u.check(got) {
			t.Fatalf("after update %v: %+v", u.args, got)
		}
	}

	c.must("channel", "set", "production", "--app", testApp, "--bundle", "1.0.0")
	out = c.must("channel", "set", "production", "--app", testApp, "--bundle", "1.1.0")
	if !strings.Contains(out, "now serves 1.1.0") {
		t.Errorf("set output: %s", out)
	}
	out = c.must("channel", "rollback", "production", "--app", testApp)
	if !strings.Contains(out, "back to 1.0.0") || getChannel(t, srv, "production").Bundle != "1.0.0" {
		t.Errorf("rollback output: %s", out)
	}

	out = c.must("channel", "rollout", "production", "--app", testApp, "--bundle", "1.2.0", "--percent", "12.5")
	if r := getChannel(t, srv, "production").Rollout; r == nil || r.BasisPoints != 1250 || r.Bundle != "1.2.0" || !strings.Contains(out, "12.5%") {
		t.Fatalf("rollout: %+v, output %s", r, out)
	}
	c.must("channel", "rollout", "production", "--app", testApp, "--pause")
	if r := getChannel(t, srv, "production").Rollout; r == nil || !r.Paused {
		t.Fatalf("paused: %+v", r)
	}
	c.must("channel", "rollout", "production", "--app", testApp, "--resume")
	c.must("channel", "rollout", "production", "--app", testApp, "--promote")
	if ch := getChannel(t, srv, "production"); ch.Rollout != nil || ch.Bundle != "1.2.0" {
		t.Fatalf("promoted: %+v", ch)
	}
	c.must("channel", "rollout", "production", "--app", testApp, "--bundle", "1.1.0", "--percent", "100")
	c.must("channel", "rollout", "production", "--app", testApp, "--cancel")
	if ch := getChannel(t, srv, "production"); ch.Rollout != nil || ch.Bundle != "1.2.0" {
		t.Fatalf("cancelled: %+v", ch)
	}
	c.must("channel", "set", "production", "--app", testApp, "--bundle", "builtin")

	var list []api.Channel
	if err := json.Unmarshal([]byte(c.must("channel", "list", "--app", testApp, "--json")), &list); err != nil || len(list) != 2 || list[1].Bundle != "builtin" {
		t.Fatalf("list --json: %+v, %v", list, err)
	}
	table := c.must("channel", "list", "--app", testApp)
	if !strings.Contains(table, "production") || !strings.Contains(table, "builtin") || !strings.Contains(table, "NAME") {
		t.Errorf("list:\n%s", table)
	}
	var hist []api.ChannelEvent
	if err := json.Unmarshal([]byte(c.must("channel", "history", "production", "--app", testApp, "--json")), &hist); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range hist {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, " "); got != "create set set rollback rollout pause resume promote rollout cancel set" {
		t.Errorf("history: %s", got)
	}
	if h := c.must("channel", "history", "production", "--app", testApp); !strings.Contains(h, "rollback") || !strings.Contains(h, "1.1.0") {
		t.Errorf("history table:\n%s", h)
	}
	var shown api.Channel
	if err := json.Unmarshal([]byte(c.must("channel", "show", "beta", "--app", testApp)), &shown); err != nil || shown.Name != "beta" {
		t.Errorf("show: %+v, %v", shown, err)
	}

	// Device overrides.
	out = c.must("device", "override", "--app", testApp, "--device", "ABC-123", "--channel", "beta")
	if !strings.Contains(out, "abc-123") {
		t.Errorf("override output: %s", out)
	}
	if snap, _ := srv.Store.Snapshot(context.Background(), testApp, "abc-123"); snap.Override != "beta" {
		t.Fatalf("override stored: %q", snap.Override)
	}
	c.must("device", "override", "--app", testApp, "--device", "abc-123", "--clear")
	if snap, _ := srv.Store.Snapshot(context.Background(), testApp, "abc-123"); snap.Override != "" {
		t.Fatalf("override after clear: %q", snap.Override)
	}

	c.must("channel", "delete", "beta", "--app", testApp)
	if _, err := srv.Store.GetChannel(context.Background(), testApp, "beta"); err == nil {
		t.Fatal("beta survived delete")
	}
}

func TestChannelCommandRefusals(t *testing.T) {
	srv, c := channelCLI(t, "1.0.0")
	c.must("channel", "create", "production", "--app", testApp, "--public", "--bundle", "1.0.0")
	c.must("channel", "create", "beta", "--app", testApp)
	cases := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"create without app", []string{"channel", "create", "x"}, "--app", true},
		{"create without name", []string{"channel", "create", "--app", testApp}, "NAME", true},
		{"bad platform", []string{"channel", "create", "x", "--app", testApp, "--platforms", "ios,windows"}, "windows", true},
		{"second public", []string{"channel", "create", "x", "--app", testApp, "--public"}, api.CodePublicConflict, false},
		{"bad name", []string{"channel", "create", "a:b", "--app", testApp}, api.CodeInvalidChannel, false},
		{"name taken", []string{"channel", "create", "beta", "--app", testApp}, api.CodeChannelExists, false},
		{"bad policy", []string{"channel", "create", "x", "--app", testApp, "--policy", "always"}, api.CodeInvalidChannel, false},
		{"update nothing", []string{"channel", "update", "beta", "--app", testApp}, "nothing to change", true},
		{"update missing", []string{"channel", "update", "nope", "--app", testApp, "--public=false"}, api.CodeChannelNotFound, false},
		{"update to second public", []string{"channel", "update", "beta", "--app", testApp, "--public"}, api.CodePublicConflict, false},
		{"set without bundle", []string{"channel", "set", "beta", "--app", testApp}, "--bundle", true},
		{"set missing bundle", []string{"channel", "set", "beta", "--app", testApp, "--bundle", "2.0.0"}, api.CodeBundleNotFound, false},
		{"rollback without history", []string{"channel", "rollback", "beta", "--app", testApp}, api.CodeNoPreviousBundle, false},
		{"rollout without percent", []string{"channel", "rollout", "beta", "--app", testApp, "--bundle", "1.0.0"}, "--percent", true},
		{"rollout percent over 100", []string{"channel", "rollout", "beta", "--app", testApp, "--bundle", "1.0.0", "--percent", "101"}, "0 to 100", true},
		{"rollout three decimals", []string{"channel", "rollout", "beta", "--app", testApp, "--bundle", "1.0.0", "--percent", "1.234"}, "two decimals", true},
		{"rollout two actions", []string{"channel", "rollout", "beta", "--app", testApp, "--pause", "--cancel"}, "exclude", true},
		{"pause with bundle", []string{"channel", "rollout", "beta", "--app", testApp, "--pause", "--bundle", "1.0.0"}, "takes no", true},
		{"pause without rollout", []string{"channel", "rollout", "beta", "--app", testApp, "--pause"}, api.CodeNoRollout, false},
		{"rollout of missing bundle", []string{"channel", "rollout", "beta", "--app", testApp, "--bundle", "9.0.0", "--percent", "5"}, api.CodeBundleNotFound, false},
		{"history of missing", []string{"channel", "history", "nope", "--app", testApp}, api.CodeChannelNotFound, false},
		{"delete missing", []string{"channel", "delete", "nope", "--app", testApp}, api.CodeChannelNotFound, false},
		{"unknown verb", []string{"channel", "frob"}, "unknown command", true},
		{"override without channel or clear", []string{"device", "override", "--app", testApp, "--device", "d"}, "exactly one", true},
		{"override with both", []string{"device", "override", "--app", testApp, "--device", "d", "--channel", "beta", "--clear"}, "exactly one", true},
		{"override to missing channel", []string{"device", "override", "--app", testApp, "--device", "d", "--channel", "nope"}, api.CodeChannelNotFound, false},
		{"device unknown verb", []string{"device", "reboot"}, "override", true},
		{"delete served bundle", []string{"bundle", "delete", "--app", testApp, "--version", "1.0.0"}, api.CodeBundleInUse, false},
		{"upload to bad channel name", []string{"bundle", "upload", writeBundle(t, map[string][]byte{"index.html": []byte("x")}),
			"--app", testApp, "--version", "3.0.0", "--channel", "a b"}, "channel name", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := storeState(t, srv)
			_, _, err := c.run(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			if code := exitCode(err); (code == 2) != tc.usage {
				t.Errorf("exit code %d for %v", code, err)
			}
			if storeState(t, srv) != before {
				t.Error("a refused command changed the store")
			}
		})
	}
}

func TestBundleUploadChannel(t *testing.T) {
	srv, c := channelCLI(t)
	upload := func(version, channel string) uploadResult {
		t.Helper()
		dir := writeBundle(t, map[string][]byte{"index.html": []byte("<h1>" + version + "</h1>")})
		var res uploadResult
		out := c.must("bundle", "upload", dir, "--app", testApp, "--version", version, "--channel", channel, "--json")
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if res.Channel == nil || res.Channel.Name != channel || res.Channel.Bundle != version {
			t.Fatalf("upload %s --channel %s: %+v", version, channel, res.Channel)
		}
		return res
	}
	// The app has no public channel: production is created public.
	if res := upload("1.0.0", "production"); !res.Channel.Created || !res.Channel.Public || res.Version != "1.0.0" {
		t.Fatalf("first upload: %+v", res.Channel)
	}
	// Then it is updated. Sequence 3: created serving nothing until the
	// patches of 1.0.0 existed (1), switched to 1.0.0 (2), then 1.0.1 (3).
	if res := upload("1.0.1", "production"); res.Channel.Created || res.Channel.Sequence != 3 {
		t.Fatalf("second upload: %+v", res.Channel)
	}
	// A new channel once a public one exists is private.
	if res := upload("1.1.0", "beta"); !res.Channel.Created || res.Channel.Public {
		t.Fatalf("beta: %+v", res.Channel)
	}
	if ch := getChannel(t, srv, "production"); ch.Bundle != "1.0.1" || !ch.Public {
		t.Fatalf("production: %+v", ch)
	}
	// Human summary.
	dir := writeBundle(t, map[string][]byte{"index.html": []byte("<h1>2</h1>")})
	out := c.must("bundle", "upload", dir, "--app", testApp, "--version", "2.0.0", "--channel", "canary")
	if !strings.Contains(out, "channel:   created canary, private") {
		t.Errorf("summary:\n%s", out)
	}
	dir = writeBundle(t, map[string][]byte{"index.html": []byte("<h1>2.0.1</h1>")})
	out = c.must("bundle", "upload", dir, "--app", testApp, "--version", "2.0.1", "--channel", "canary")
	if !strings.Contains(out, "channel:   canary now serves 2.0.1") {
		t.Errorf("summary:\n%s", out)
	}
}

func TestParsePercent(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "12.5": 1250, "30": 3000, "100": 10000, "0.01": 1, "33.33": 3333, "50%": 5000} {
		if got, err := parsePercent(in); err != nil || got != want {
			t.Errorf("parsePercent(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "100.01", "NaN", "abc", "0.001", "Inf"} {
		if _, err := parsePercent(in); err == nil {
			t.Errorf("parsePercent(%q) succeeded", in)
		}
	}
}
