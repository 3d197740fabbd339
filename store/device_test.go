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

func TestRecordActivity(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	rec := func(a Activity) {
		t.Helper()
		if err := s.RecordActivity(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
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

// DeviceView's stamp moves with every change of the app's catalog and only
// then; Unchanged says nothing at all was committed.
func TestDeviceView(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	const app = "com.example.app"
	view := func(since uint64) DeviceView {
		t.Helper()
		dv, err := s.DeviceView(ctx, app, strings.ToUpper(devA), since)
		if err != nil {
			t.Fatal(err)
		}
		return dv
	}
	if dv := view(0); dv.AppExists {
		t.Fatalf("unknown app: %+v", dv)
	}
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	putFiles(t, s, someFiles(2, "v1")...)
	last := view(0)
	if !last.AppExists || last.Unchanged {
		t.Fatalf("%+v", last)
	}
	if dv := view(last.ReadTs); !dv.Unchanged || dv.ReadTs != last.ReadTs {
		t.Fatalf("nothing committed, yet %+v", dv)
	}
	// moves: 1 the stamp must move, 0 it must not, -1 either (a spurious
	// move only costs a re-read).
	step := func(what string, change func() error, moves int) {
		t.Helper()
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		dv := view(last.ReadTs)
		if dv.Unchanged {
			t.Fatalf("%s: reported unchanged", what)
		}
		if moved := dv.AppStamp != last.AppStamp; moves >= 0 && moved != (moves == 1) {
			t.Errorf("%s: stamp moved = %v, want %v", what, moved, moves == 1)
		}
		last = dv
	}
	step("commit a bundle", func() error {
		_, err := s.CommitBundle(ctx, app, "1.0.0", manifestOf(t, someFiles(2, "v1")...), api.BundleMeta{})
		return err
	}, 1)
	step("create a channel", func() error {
		_, err := s.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: "1.0.0", Public: true, Android: true})
		return err
	}, 1)
	step("change the channel", func() error {
		_, err := s.UpdateChannel(ctx, app, "production", "update", func(c *api.Channel) error { c.IOS = true; return nil })
		return err
	}, 1)
	step("device activity", func() error {
		return s.RecordActivity(ctx, Activity{Devices: []DeviceReport{report(devA, "1.0.0", "production")}})
	}, 0)
	step("another app", func() error { _, err := s.CreateApp(ctx, "com.example.other"); return err }, 0)
	step("override", func() error { return s.SetOverride(ctx, app, devA, "production") }, -1)
	if last.Override != "production" || last.SelfAssigned != "" {
		t.Errorf("device records: %+v", last)
	}
	step("delete the channel", func() error { return s.DeleteChannel(ctx, app, "production") }, 1)
	step("delete the bundle", func() error { return s.DeleteBundle(ctx, app, "1.0.0") }, 1)
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
