package resolver

import (
	"net/http"
	"reflect"
	"testing"
)

const oldPlugin = "6.10.0" // keeps its channel on the server

// TestUsesLocalChannel follows Capgo's isDeprecatedPluginVersion(v,
// 5.34.0, 6.34.0, 7.34.0, 8.0.0): only 5.x-7.x below x.34.0 are old. Issue
// 14 item 6: Capgo's Electron updater sends "0.0.1" and was taken for old.
func TestUsesLocalChannel(t *testing.T) {
	for v, want := range map[string]bool{
		"5.33.9": false, "5.34.0": true, "6.33.0": false, "6.34.0": true, "7.33.99": false, "7.34.0": true,
		"8.0.0": true, "8.51.14": true, "9.0.0": true, "12.3.4": true, "0.0.1": true, "1.0.0": true, "4.99.0": true,
		"5.0.0": false, "": true, "garbage": false, "v7.40.0": false,
	} {
		if got := UsesLocalChannel(v); got != want {
			t.Errorf("UsesLocalChannel(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestSetChannel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		snap    func(*Snapshot)
		plugin  string
		channel string
		code    Code
		action  SelfAction
		body    map[string]any
	}{
		{"unknown app first", func(s *Snapshot) { s.App.Exists = false }, "", "", CodeOnPremiseApp, ActionNone,
			map[string]any{"error": "on_premise_app", "message": "On-premise app detected"}},
		{"missing channel before override", func(s *Snapshot) { s.Override = "internal" }, oldPlugin, "", CodeMissingChannel, ActionNone,
			map[string]any{"error": "missing_channel", "message": "Cannot find channel in body"}},
		{"old plugin with admin override", func(s *Snapshot) { s.Override = "internal" }, oldPlugin, "beta", CodeCannotOverride, ActionNone, nil},
		{"new plugin ignores admin override", func(s *Snapshot) { s.Override = "internal" }, "", "beta", "", ActionNone,
			map[string]any{"status": "ok", "allowSet": true}},
		{"not found", nil, "", "nope", CodeChannelNotFound, ActionNone,
			map[string]any{"error": "channel_not_found", "message": "Cannot find channel", "channel": "nope", "app_id": "com.example.app"}},
		{"public without self-set", nil, "", "production", CodePublicSelfSetNotAllowed, ActionNone, nil},
		{"private without self-set", nil, "", "internal", CodeSelfSetNotAllowed, ActionNone,
			map[string]any{"error": "channel_self_set_not_allowed", "message": "This channel does not allow devices to self associate", "channel": "internal", "app_id": "com.example.app"}},
		{"old plugin stores", nil, oldPlugin, "beta", "", ActionStore, map[string]any{"status": "ok"}},
		{"old plugin already stored", func(s *Snapshot) { s.SelfAssigned = "beta" }, oldPlugin, "beta", "", ActionNone, nil},
		{"electron 0.0.1 stores nothing", nil, "0.0.1", "beta", "", ActionNone, map[string]any{"status": "ok", "allowSet": true}},
		{"9.x stores nothing", func(s *Snapshot) { s.SelfAssigned = "beta" }, "9.1.0", "beta", "", ActionNone, map[string]any{"status": "ok", "allowSet": true}},
		{"5.0.0 is old: stores", nil, "5.0.0", "beta", "", ActionStore, map[string]any{"status": "ok"}},
		{"old plugin picks the public channel: clear", func(s *Snapshot) {
			s.SelfAssigned = "beta"
			channelMut(s, "production", func(c *Channel) { c.AllowSelfAssign = true })
		}, oldPlugin, "production", "", ActionClear, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d := baseSnapshot(), baseDevice()
			if tc.snap != nil {
				tc.snap(&s)
			}
			if tc.plugin != "" {
				d.PluginVersion = tc.plugin
			}
			r := SetChannel(s, d, tc.channel)
			if r.Code != tc.code || r.Action != tc.action {
				t.Fatalf("got %s/%d (%s), want %s/%d", r.Code, r.Action, r.Message, tc.code, tc.action)
			}
			if r.Status != StatusOf(tc.code) || (tc.code != "" && r.Message == "") {
				t.Errorf("status %d message %q", r.Status, r.Message)
			}
			if tc.body != nil && !reflect.DeepEqual(r.Body(), tc.body) {
				t.Errorf("body %v, want %v", r.Body(), tc.body)
			}
		})
	}
}

func TestGetChannel(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap func(*Snapshot)
		dev  func(*Device)
		body map[string]any
	}{
		{"public channel", nil, nil, map[string]any{"channel": "production", "status": "default"}},
		{"defaultChannel", nil, func(d *Device) { d.DefaultChannel = "beta" }, map[string]any{"channel": "beta", "status": "default"}},
		{"override", func(s *Snapshot) { s.Override = "internal" }, nil,
			map[string]any{"channel": "internal", "status": "override", "allowSet": false}},
		{"stored self-assignment, old plugin", func(s *Snapshot) { s.SelfAssigned = "beta" }, func(d *Device) { d.PluginVersion = oldPlugin },
			map[string]any{"channel": "beta", "status": "override", "allowSet": true}},
		{"stored self-assignment ignored for a current plugin", func(s *Snapshot) { s.SelfAssigned = "beta" }, func(d *Device) { d.PluginVersion = "0.0.1" },
			map[string]any{"channel": "production", "status": "default"}},
		{"unusable defaultChannel", nil, func(d *Device) { d.DefaultChannel = "internal" },
			map[string]any{"error": "channel_not_found", "message": "Cannot find channel"}},
		{"bad platform", nil, func(d *Device) { d.Platform = "symbian" },
			map[string]any{"error": "invalid_platform", "message": "Invalid device platform"}},
		{"unknown app", func(s *Snapshot) { s.App.Exists = false }, nil,
			map[string]any{"error": "on_premise_app", "message": "On-premise app detected"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d := edited(tc.snap, tc.dev)
			r := GetChannel(s, d)
			if !reflect.DeepEqual(r.Body(), tc.body) {
				t.Errorf("body %v, want %v", r.Body(), tc.body)
			}
			if r.Status != StatusOf(r.Code) {
				t.Errorf("status %d for %q", r.Status, r.Code)
			}
		})
	}
}

func TestUnsetChannel(t *testing.T) {
	s, d := baseSnapshot(), baseDevice()
	if r := UnsetChannel(s, d); r.Code != "" || r.Action != ActionNone || !reflect.DeepEqual(r.Body(), map[string]any{"status": "ok"}) {
		t.Errorf("new plugin: %+v", r)
	}
	// Issue 14 item 6: a current plugin's unset stores and removes nothing,
	// even with a self-assignment stored for it.
	d.PluginVersion = "0.0.1"
	s.SelfAssigned = "beta"
	if r := UnsetChannel(s, d); r.Code != "" || r.Action != ActionNone {
		t.Errorf("electron 0.0.1: %+v", r)
	}
	s.SelfAssigned = ""
	d.PluginVersion = oldPlugin
	if r := UnsetChannel(s, d); r.Code != CodeCannotOverride {
		t.Errorf("old plugin without self-assignment: %+v", r)
	}
	s.Override = "internal"
	if r := UnsetChannel(s, d); r.Code != CodeCannotOverride {
		t.Errorf("old plugin cannot remove an admin override: %+v", r)
	}
	s.SelfAssigned = "beta"
	if r := UnsetChannel(s, d); r.Code != "" || r.Action != ActionClear {
		t.Errorf("old plugin with self-assignment: %+v", r)
	}
	s.App.Exists = false
	if r := UnsetChannel(s, d); r.Code != CodeOnPremiseApp || r.Status != http.StatusTooManyRequests {
		t.Errorf("unknown app: %+v", r)
	}
}

func TestListChannels(t *testing.T) {
	snap := func() Snapshot {
		s := baseSnapshot()
		emu := NewChannel("emulators", "1.2.0")
		emu.ID, emu.AllowSelfAssign, emu.AllowDevice = 4, true, false
		dev := NewChannel("dev-only", "1.2.0")
		dev.ID, dev.AllowSelfAssign, dev.AllowProd = 5, true, false
		ios := NewChannel("ios-only", "1.2.0")
		ios.ID, ios.AllowSelfAssign, ios.Android = 6, true, false
		gone := NewChannel("deleted-bundle", "0.0.1")
		gone.ID, gone.AllowSelfAssign = 7, true
		s.Channels = append(s.Channels, emu, dev, ios, gone)
		return s
	}
	names := func(cs []ChannelInfo) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		dev  func(*Device)
		want []string
	}{
		{"prod android device", nil, []string{"beta", "production"}},
		{"emulator", func(d *Device) { d.IsEmulator = true }, []string{"beta", "emulators", "production"}},
		{"dev build", func(d *Device) { d.IsProd = false }, []string{"beta", "dev-only", "production"}},
		{"ios", func(d *Device) { d.Platform = PlatformIOS }, []string{"beta", "ios-only", "production"}},
		{"unknown platform", func(d *Device) { d.Platform = "" }, []string{}},
	} {
		d := baseDevice()
		if tc.dev != nil {
			tc.dev(&d)
		}
		got, refusal := ListChannels(snap(), d)
		if refusal != nil || !reflect.DeepEqual(names(got), tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, names(got), refusal, tc.want)
		}
	}
	got, _ := ListChannels(snap(), baseDevice())
	if got[1] != (ChannelInfo{ID: 1, Name: "production", Public: true}) || got[0] != (ChannelInfo{ID: 2, Name: "beta", AllowSelfAssign: true}) {
		t.Errorf("entries %+v", got)
	}
	s := snap()
	s.App.Exists = false
	if got, refusal := ListChannels(s, baseDevice()); got != nil || refusal == nil || refusal.Code != CodeOnPremiseApp {
		t.Errorf("unknown app: %v %+v", got, refusal)
	}
}

// TestCodeTable checks kinds and statuses against protocol §2.2 and §8.
func TestCodeTable(t *testing.T) {
	for c, want := range map[Code]struct {
		status int
		kind   Kind
	}{
		CodeNoNewVersion:            {200, KindUpToDate},
		CodeAlreadyOnBuiltin:        {200, KindUpToDate},
		CodeNoChannel:               {200, KindFailed},
		CodeNullChannelData:         {200, KindFailed},
		CodeNoBundle:                {200, KindFailed},
		CodeNoBundleURL:             {200, KindFailed},
		CodeNoURLOrManifest:         {200, KindFailed},
		CodeMisconfiguredChannel:    {200, KindFailed},
		CodeRevertToBuiltinTooOld:   {200, KindFailed},
		CodeUnknownVersionBuild:     {200, KindFailed},
		CodeSemverError:             {200, KindFailed},
		CodeUnsupportedPlugin:       {200, KindFailed},
		CodeMissingInfo:             {200, KindFailed},
		CodeKeyIDMismatch:           {200, KindBlocked},
		CodeDisabledPlatformIOS:     {200, KindBlocked},
		CodeDisabledPlatformAndroid: {200, KindBlocked},
		CodeDisabledPlatformElec:    {200, KindBlocked},
		CodeDisableMajor:            {200, KindBlocked},
		CodePrivateChannel:          {200, KindBlocked},
		CodeDisableMinor:            {200, KindBlocked},
		CodeDisablePatch:            {200, KindBlocked},
		CodeDisableMetadata:         {200, KindBlocked},
		CodeDisableUnderNative:      {200, KindBlocked},
		CodeDisableProdBuild:        {200, KindBlocked},
		CodeDisableDevBuild:         {200, KindBlocked},
		CodeDisableDevice:           {200, KindBlocked},
		CodeDisableEmulator:         {200, KindBlocked},
		CodeProviderBlocked:         {200, KindBlocked},
		CodeManifestOnlyBundle:      {200, KindBlocked},
		CodeOnPremiseApp:            {429, KindNone},
		CodeTooManyRequests:         {429, KindNone},
		CodeInvalidJSONBody:         {400, KindNone},
		CodeInvalidJSONParseBody:    {400, KindNone},
		CodeMissingDeviceID:         {400, KindNone},
		CodeMissingAppID:            {400, KindNone},
	} {
		if StatusOf(c) != want.status || KindOf(c) != want.kind {
			t.Errorf("%s: %d/%q, want %d/%q", c, StatusOf(c), KindOf(c), want.status, want.kind)
		}
		switch c {
		case CodeSemverError, CodeUnsupportedPlugin, CodeMisconfiguredChannel, CodePrivateChannel:
			if Message(c) != "" {
				t.Errorf("%s has a fixed message but should be templated", c)
			}
		default:
			if Message(c) == "" {
				t.Errorf("%s has no message", c)
			}
		}
	}
}
