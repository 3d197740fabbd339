package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
)

// TestChannelSetWaits: the commands that change what a channel serves
// return when devices are served, saying so; --no-wait returns with the
// switch pending; --patch-wait 0s switches at once (issue 8 item 1).
func TestChannelSetWaits(t *testing.T) {
	srv, c := channelCLI(t, "1.0.0", "1.0.1", "1.0.2")
	out, errOut, err := c.run("channel", "create", "production", "--app", testApp, "--public", "--bundle", "1.0.0")
	if err != nil || !strings.Contains(out, "bundle 1.0.0") || !strings.Contains(errOut, "Making patches to 1.0.0") {
		t.Fatalf("create: %v\n%s%s", err, out, errOut)
	}
	if ch := getChannel(t, srv, "production"); ch.Bundle != "1.0.0" || ch.Pending != nil {
		t.Fatalf("after create: %+v", ch)
	}
	out, errOut, err = c.run("channel", "set", "production", "--app", testApp, "--bundle", "1.0.1")
	if err != nil || !strings.Contains(out, "now serves 1.0.1") || !strings.Contains(errOut, "before devices are served") {
		t.Fatalf("set: %v\n%s%s", err, out, errOut)
	}
	if ch := getChannel(t, srv, "production"); ch.Bundle != "1.0.1" || ch.Pending != nil {
		t.Fatalf("set returned before the switch: %+v", ch)
	}
	out, errOut, err = c.run("channel", "rollout", "production", "--app", testApp, "--bundle", "1.0.2", "--percent", "10")
	if err != nil || !strings.Contains(out, "rolling out 1.0.2 to 10%") || !strings.Contains(errOut, "Making patches") {
		t.Fatalf("rollout: %v\n%s%s", err, out, errOut)
	}
	c.must("channel", "rollout", "production", "--app", testApp, "--cancel")

	// --no-wait: the answer is the pending switch; it happens anyway.
	out = c.must("channel", "set", "production", "--app", testApp, "--bundle", "1.0.2", "--no-wait")
	if !strings.Contains(out, "switch to 1.0.2 pending") || !strings.Contains(out, "channel show production") {
		t.Fatalf("--no-wait: %s", out)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var ch api.Channel
		if err := json.Unmarshal([]byte(c.must("channel", "show", "production", "--app", testApp)), &ch); err != nil {
			t.Fatal(err)
		}
		if ch.Bundle == "1.0.2" && ch.Pending == nil {
			break
		}
		if ch.Bundle != "1.0.1" || ch.Pending == nil || time.Now().After(deadline) {
			t.Fatalf("channel show after --no-wait: %+v", ch)
		}
	}

	// --patch-wait 0s: at once, no patches first.
	out, errOut, err = c.run("channel", "set", "production", "--app", testApp, "--bundle", "1.0.0", "--patch-wait", "0s")
	if err != nil || !strings.Contains(out, "now serves 1.0.0") || strings.Contains(errOut, "Making patches") {
		t.Fatalf("--patch-wait 0s: %v\n%s%s", err, out, errOut)
	}
	if _, _, err := c.run("channel", "set", "production", "--app", testApp, "--bundle", "1.0.1", "--patch-wait", "soon"); err == nil || !strings.Contains(err.Error(), "patch-wait") {
		t.Fatalf("--patch-wait soon: %v", err)
	}
}

// TestPendingLine: how channel show and bundle upload describe a pending
// switch.
func TestPendingLine(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	for _, c := range []struct {
		p    *api.PendingSwitch
		want string
	}{
		{nil, "-"},
		{&api.PendingSwitch{Bundle: "1.2.0", Since: since}, "switch to 1.2.0 pending since " + since.Format(timeLayout)},
		{&api.PendingSwitch{Bundle: "1.2.0", Since: since, BasesDone: 3, BasesTotal: 7}, "switch to 1.2.0 pending since " + since.Format(timeLayout) + ", patches from 3 of 7 bases ready"},
		{&api.PendingSwitch{Bundle: "1.1.0", Since: since, Rollout: &api.Rollout{Bundle: "1.2.0", BasisPoints: 1250}}, "switch to 1.1.0, rolling out 1.2.0 to 12.5% pending since " + since.Format(timeLayout)},
	} {
		if got := pendingLine(api.Channel{Pending: c.p}); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
