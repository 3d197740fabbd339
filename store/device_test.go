package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
)

const devA, devB = "0f673663-459a-44c0-a7f5-613f2a4af3ab", "44f128a5-ac7a-4c9a-be4c-224b6bf81b20"

func report(dev, bundle, channel string) DeviceReport {
	return DeviceReport{App: "com.example.app", DeviceID: dev, Platform: "android", VersionBuild: "1.0",
		PluginVersion: "8.51.14", IsProd: true, Bundle: bundle, Channel: channel, SetChannel: true}
}

func event(dev, action, version string) Event {
	return Event{App: "com.example.app", DeviceID: dev, Action: action, Version: version}
}

func statsOf(t *testing.T, s *Store, channel string) map[string]api.BundleStats {
	t.Helper()
	bs, err := s.BundleStats(context.Background(), "com.example.app", channel)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]api.BundleStats{}
	for _, b := range bs {
		m[b.Version] = b
	}
	return m
}

// recorder returns a function that records a and fails t on an error.
func recorder(t *testing.T, s *Store) func(a Activity) {
	return func(a Activity) {
		t.Helper()
		if err := s.RecordActivity(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecordActivity(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	rec := recorder(t, s)
	rec(Activity{Devices: []DeviceReport{report(devA, "builtin", "production"), report(devB, "builtin", "beta")}})
	c.Advance(time.Minute)
	rec(Activity{
		Devices: []DeviceReport{report(devA, "1.0.1", "production")}, // a set moves devA
		Events: []Event{
			event(devA, "download_complete", "1.0.1"),
			event(devA, "set", "1.0.1"),
			event(devB, "download_manifest_checksum_fail", "1.0.1:assets/app.js"),
			event(devB, "download_fail", "1.0.1"),
			event(devB, "update_fail", "1.0.1"),
			event(devB, "app_moved_to_foreground", "builtin"),
		},
	})
	all := statsOf(t, s, "")
	want := map[string]api.BundleStats{
		"1.0.1":   {Version: "1.0.1", Devices: 1, Downloads: 1, Installs: 1, Failures: 2, Rollbacks: 1},
		"builtin": {Version: "builtin", Devices: 1},
	}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("all channels:\n got %+v\nwant %+v", all, want)
	}
	prod := statsOf(t, s, "production")
	wantProd := map[string]api.BundleStats{"1.0.1": {Version: "1.0.1", Devices: 1, Downloads: 1, Installs: 1}}
	if fmt.Sprint(prod) != fmt.Sprint(wantProd) {
		t.Errorf("production:\n got %+v\nwant %+v", prod, wantProd)
	}
	beta := statsOf(t, s, "beta")
	wantBeta := map[string]api.BundleStats{
		"1.0.1":   {Version: "1.0.1", Failures: 2, Rollbacks: 1},
		"builtin": {Version: "builtin", Devices: 1},
	}
	if fmt.Sprint(beta) != fmt.Sprint(wantBeta) {
		t.Errorf("beta:\n got %+v\nwant %+v", beta, wantBeta)
	}

	d, err := s.GetDevice(ctx, "com.example.app", devA)
	if err != nil {
		t.Fatal(err)
	}
	if d.Bundle != "1.0.1" || d.Channel != "production" || d.Platform != "android" || !d.IsProd ||
		!d.LastSeen.Equal(d.FirstSeen.Add(time.Minute)) {
		t.Errorf("device = %+v", d)
	}
	evs, err := s.DeviceEvents(ctx, "com.example.app", devB)
	if err != nil || len(evs) != 4 || evs[0].Action != "download_manifest_checksum_fail" || evs[0].Channel != "beta" {
		t.Errorf("events = %+v, %v", evs, err)
	}
	if _, err := s.GetDevice(ctx, "com.example.app", "unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}

	// Moving channel moves the device count; the event counts stay where
	// they were made.
	rec(Activity{Devices: []DeviceReport{report(devB, "", "production")}})
	if got := statsOf(t, s, "production")["builtin"].Devices; got != 1 {
		t.Errorf("builtin devices on production = %d, want 1", got)
	}
	if _, ok := statsOf(t, s, "beta")["builtin"]; ok {
		t.Errorf("builtin still listed on beta")
	}
	// Newest semantic version first, then the rest.
	rec(Activity{Events: []Event{event(devA, "download_complete", "1.0.10"), event(devA, "download_complete", "1.0.2")}})
	bs, err := s.BundleStats(ctx, "com.example.app", "")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, b := range bs {
		order = append(order, b.Version)
	}
	if fmt.Sprint(order) != "[1.0.10 1.0.2 1.0.1 builtin]" {
		t.Errorf("order = %v", order)
	}
}

func TestRecordActivityRetention(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	var evs []Event
	for i := 0; i < 3*EventsPerDevice/2; i++ {
		e := event(devA, "app_moved_to_foreground", "builtin")
		e.Metadata = map[string]string{"i": fmt.Sprint(i)}
		evs = append(evs, e)
	}
	if err := s.RecordActivity(ctx, Activity{Events: evs[:EventsPerDevice-10]}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActivity(ctx, Activity{Events: evs[EventsPerDevice-10:]}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DeviceEvents(ctx, "com.example.app", devA)
	if err != nil || len(got) != EventsPerDevice {
		t.Fatalf("kept %d events, %v; want %d", len(got), err, EventsPerDevice)
	}
	if first := got[0].Metadata["i"]; first != fmt.Sprint(EventsPerDevice/2) {
		t.Errorf("oldest kept event is #%s, want #%d", first, EventsPerDevice/2)
	}
	if n := len(allKeysWithPrefix(t, s, pfxEvent)); n != EventsPerDevice {
		t.Errorf("%d ev/ keys, want %d", n, EventsPerDevice)
	}

	// Oversized metadata is dropped, the event kept.
	big := event(devB, "webview_javascript_error", "builtin")
	big.Metadata = map[string]string{}
	for i := 0; i < 30; i++ {
		big.Metadata[fmt.Sprint("k", i)] = string(make([]byte, 2000))
	}
	if err := s.RecordActivity(ctx, Activity{Events: []Event{big}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DeviceEvents(ctx, "com.example.app", devB); len(got) != 1 || len(got[0].Metadata) != 1 {
		t.Errorf("big event = %+v", got)
	}

	// Idle devices are forgotten with their events and their device count.
	if err := s.RecordActivity(ctx, Activity{Devices: []DeviceReport{report(devA, "builtin", "production")}}); err != nil {
		t.Fatal(err)
	}
	c.Advance(48 * time.Hour)
	if err := s.RecordActivity(ctx, Activity{Devices: []DeviceReport{report(devB, "builtin", "production")}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.ExpireDevices(ctx, 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("ExpireDevices = %d, %v; want 1", n, err)
	}
	if _, err := s.GetDevice(ctx, "com.example.app", devA); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired device still there: %v", err)
	}
	if n := len(allKeysWithPrefix(t, s, pfxEvent)); n != 1 {
		t.Errorf("%d ev/ keys left, want devB's 1", n)
	}
	if got := statsOf(t, s, "production")["builtin"].Devices; got != 1 {
		t.Errorf("builtin devices = %d, want 1", got)
	}
}

// A batch bigger than one transaction is split; every device is written.
func TestRecordActivityLargeBatch(t *testing.T) {
	s, _ := newTestStore(t)
	var a Activity
	meta := map[string]string{"detail": string(make([]byte, 2000))}
	for i := 0; i < 2000; i++ {
		dev := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		a.Devices = append(a.Devices, report(dev, "1.0.0", "production"))
		e := event(dev, "download_complete", "1.0.0")
		e.Metadata = meta
		a.Events = append(a.Events, e)
	}
	if err := s.RecordActivity(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got := statsOf(t, s, ""); got["1.0.0"].Devices != 2000 || got["1.0.0"].Downloads != 2000 {
		t.Errorf("stats = %+v", got)
	}
}

func TestRecordActivityInvalid(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	n0, d0, err := s.StateDigest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Activity{
		{Devices: []DeviceReport{report(devA, "1.0.0", "production"), {App: "bad app", DeviceID: devA}}},
		{Devices: []DeviceReport{report(devA, "1.0.0", "a\x00b")}},
		{Devices: []DeviceReport{report("", "1.0.0", "production")}},
		{Events: []Event{event(devA, "set", "1.0.0"), event(devB, "set", "1\x00")}},
	} {
		if err := s.RecordActivity(ctx, a); !errors.Is(err, ErrInvalid) {
			t.Errorf("RecordActivity(%+v) = %v, want ErrInvalid", a, err)
		}
	}
	if n, d, _ := s.StateDigest(ctx); n != n0 || d != d0 {
		t.Error("a refused batch wrote something")
	}
}

func TestIsFailureAction(t *testing.T) {
	for a, want := range map[string]bool{
		"download_fail": true, "set_fail": true, "checksum_fail": true, "download_manifest_brotli_fail": true,
		"checksum_required": true, "insufficient_disk_space": true,
		"update_fail": false, "set": false, "download_complete": false, "app_crash": false,
	} {
		if IsFailureAction(a) != want {
			t.Errorf("IsFailureAction(%q) = %v", a, !want)
		}
	}
}

func allKeysWithPrefix(t *testing.T, s *Store, prefix string) []string {
	t.Helper()
	var out []string
	quoted := `"` + prefix // allKeys quotes keys
	for _, k := range allKeys(t, s) {
		if strings.HasPrefix(k, quoted) {
			out = append(out, k)
		}
	}
	return out
}

// The generations move with every committed change a decision must see:
// CatalogGeneration with the app, channel and bundle records,
// DeviceChannelsGeneration with the app's overrides and self-assignments;
// writes outside the catalog move neither.
func TestGenerations(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	const app = "com.example.app"
	type gens struct{ catalog, devices uint64 }
	now := func() gens { return gens{s.CatalogGeneration(), s.DeviceChannelsGeneration(app)} }
	// moves: 1 it must move, 0 it must not, -1 either (a spurious move only
	// costs a re-read).
	for _, c := range []struct {
		what             string
		change           func() error
		catalog, devices int
	}{
		{"create the app", func() error { _, err := s.CreateApp(ctx, app); return err }, 1, -1},
		{"store objects", func() error { putFiles(t, s, someFiles(2, "v1")...); return nil }, 0, 0},
		{"commit a bundle", func() error {
			_, err := s.CommitBundle(ctx, app, "1.0.0", manifestOf(t, someFiles(2, "v1")...), api.BundleMeta{})
			return err
		}, 1, -1},
		{"create a channel", func() error {
			_, err := s.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: "1.0.0", Public: true, Android: true})
			return err
		}, 1, -1},
		{"change the channel", func() error {
			_, err := s.UpdateChannel(ctx, app, "production", "update", func(c *api.Channel) error { c.IOS = true; return nil })
			return err
		}, 1, -1},
		{"device activity", func() error {
			return s.RecordActivity(ctx, Activity{Devices: []DeviceReport{report(devA, "1.0.0", "production")}})
		}, 0, 0},
		{"override", func() error { return s.SetOverride(ctx, app, devA, "production") }, -1, 1},
		{"self-assign", func() error { return s.SetSelfAssigned(ctx, app, devB, "production") }, -1, 1},
		{"clear device channels", func() error { _, err := s.ClearDeviceChannels(ctx, app, devB); return err }, -1, 1},
		{"delete the channel", func() error { return s.DeleteChannel(ctx, app, "production") }, 1, -1},
		{"delete the bundle", func() error { return s.DeleteBundle(ctx, app, "1.0.0") }, 1, -1},
	} {
		before := now()
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		after := now()
		for _, g := range []struct {
			name          string
			before, after uint64
			want          int
		}{{"catalog", before.catalog, after.catalog, c.catalog}, {"devices", before.devices, after.devices, c.devices}} {
			if moved := g.after != g.before; g.want >= 0 && moved != (g.want == 1) {
				t.Errorf("%s: %s generation moved = %v, want %v", c.what, g.name, moved, g.want == 1)
			}
		}
	}
}

// AppDeviceChannels reads every override and self-assignment of an app,
// by lower-case device id.
func TestAppDeviceChannels(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	const app = "com.example.app"
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateChannel(ctx, api.Channel{App: app, Name: "beta", Android: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOverride(ctx, app, strings.ToUpper(devA), "beta"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSelfAssigned(ctx, app, devB, "beta"); err != nil {
		t.Fatal(err)
	}
	m, err := s.AppDeviceChannels(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Override) != 1 || m.Override[devA] != "beta" || len(m.SelfAssigned) != 1 || m.SelfAssigned[devB] != "beta" {
		t.Fatalf("%+v", m)
	}
	if m, err := s.AppDeviceChannels(ctx, "com.example.none"); err != nil || len(m.Override)+len(m.SelfAssigned) != 0 {
		t.Fatalf("unknown app: %+v %v", m, err)
	}
}

// TestDeviceChannels covers the store half of issue 14 item 6: a device's
// override and self-assignment are shown apart and cleared together.
func TestDeviceChannels(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	const app = "com.example.app"
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"beta", "internal"} {
		if _, err := s.CreateChannel(ctx, api.Channel{App: app, Name: name, Android: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetSelfAssigned(ctx, app, strings.ToUpper(devA), "beta"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOverride(ctx, app, devA, "internal"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSelfAssigned(ctx, app, devB, "beta"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  func() (api.DeviceChannels, error)
		want api.DeviceChannels
	}{
		{"both", func() (api.DeviceChannels, error) { return s.DeviceChannels(ctx, app, strings.ToUpper(devA)) },
			api.DeviceChannels{App: app, Device: devA, Override: "internal", SelfAssigned: "beta"}},
		{"clear answers what it removed", func() (api.DeviceChannels, error) { return s.ClearDeviceChannels(ctx, app, devA) },
			api.DeviceChannels{App: app, Device: devA, Override: "internal", SelfAssigned: "beta"}},
		{"nothing left", func() (api.DeviceChannels, error) { return s.DeviceChannels(ctx, app, devA) },
			api.DeviceChannels{App: app, Device: devA}},
		{"clear again", func() (api.DeviceChannels, error) { return s.ClearDeviceChannels(ctx, app, devA) },
			api.DeviceChannels{App: app, Device: devA}},
		{"other device untouched", func() (api.DeviceChannels, error) { return s.DeviceChannels(ctx, app, devB) },
			api.DeviceChannels{App: app, Device: devB, SelfAssigned: "beta"}},
	} {
		got, err := tc.run()
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		app, dev string
		want     error
	}{
		{"com.example.nope", devA, ErrNotFound},
		{app, "", ErrInvalid},
		{app, "a\x00b", ErrInvalid},
		{"bad app", devA, ErrInvalid},
	} {
		if _, err := s.ClearDeviceChannels(ctx, tc.app, tc.dev); !errors.Is(err, tc.want) {
			t.Errorf("clear %q %q: %v, want %v", tc.app, tc.dev, err, tc.want)
		}
		if _, err := s.DeviceChannels(ctx, tc.app, tc.dev); !errors.Is(err, tc.want) {
			t.Errorf("show %q %q: %v, want %v", tc.app, tc.dev, err, tc.want)
		}
	}
}
