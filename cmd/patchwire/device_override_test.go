package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
)

// TestDeviceShowAndClearSelfAssignment covers issue 14 item 6: `device
// override --clear` said a device "has no override now" while the
// self-assignment an old plugin stored kept it on its channel. `device
// show` now lists the override and the self-assignment separately, and
// --clear removes both and says which it removed.
func TestDeviceShowAndClearSelfAssignment(t *testing.T) {
	srv, c := channelCLI(t, "1.0.0", "1.1.0")
	c.must("channel", "create", "production", "--app", testApp, "--public", "--bundle", "1.0.0")
	c.must("channel", "create", "beta", "--app", testApp, "--self-set", "--bundle", "1.1.0")
	c.must("channel", "create", "internal", "--app", testApp, "--bundle", "1.1.0")
	const dev = "11111111-2222-4333-8444-555555555555"

	// An old plugin (5.0.0 < 5.34.0) chooses beta: the server stores it.
	body, _ := json.Marshal(map[string]any{
		"platform": "android", "device_id": dev, "app_id": testApp, "version_build": "1.0.0",
		"version_name": "builtin", "plugin_version": "5.0.0", "is_emulator": false, "is_prod": true, "channel": "beta",
	})
	resp, err := srv.HTTPSClient().Post(srv.URL+"/channel_self", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"ok"`) {
		t.Fatalf("setChannel: %d %s", resp.StatusCode, raw)
	}

	out := c.must("device", "show", "--app", testApp, "--device", strings.ToUpper(dev))
	if !strings.Contains(out, "override:       none") || !strings.Contains(out, "self-assigned:  beta") {
		t.Errorf("show with a self-assignment:\n%s", out)
	}
	var dc api.DeviceChannels
	if err := json.Unmarshal([]byte(c.must("device", "show", "--app", testApp, "--device", dev, "--json")), &dc); err != nil ||
		dc != (api.DeviceChannels{App: testApp, Device: dev, SelfAssigned: "beta"}) {
		t.Errorf("show --json: %+v %v", dc, err)
	}

	// Both stored: --clear removes both and names them.
	c.must("device", "override", "--app", testApp, "--device", dev, "--channel", "internal")
	out = c.must("device", "show", "--app", testApp, "--device", dev)
	if !strings.Contains(out, "override:       internal") || !strings.Contains(out, "self-assigned:  beta") {
		t.Errorf("show with both:\n%s", out)
	}
	out = c.must("device", "override", "--app", testApp, "--device", dev, "--clear")
	if !strings.Contains(out, "the override (channel internal)") || !strings.Contains(out, "the self-assigned channel beta") {
		t.Errorf("clear output: %s", out)
	}
	snap, err := srv.Store.Snapshot(context.Background(), testApp, dev)
	if err != nil || snap.Override != "" || snap.SelfAssigned != "" {
		t.Fatalf("after clear: override %q self-assigned %q, %v", snap.Override, snap.SelfAssigned, err)
	}
	out = c.must("device", "override", "--app", testApp, "--device", dev, "--clear")
	if !strings.Contains(out, "nothing changed") {
		t.Errorf("second clear: %s", out)
	}

	// Errors name the problem.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"device", "show", "--app", testApp}, "--device"},
		{[]string{"device", "show", "--device", dev}, "--app"},
		{[]string{"device", "show", "--app", "com.example.nope", "--device", dev}, "not_found"},
	} {
		if _, errOut, err := c.run(tc.args...); err == nil || !strings.Contains(err.Error()+errOut, tc.want) {
			t.Errorf("%v: %v %s, want %q", tc.args, err, errOut, tc.want)
		}
	}
}
