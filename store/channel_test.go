package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/patchwire/patchwire/api"
)

// channelStore returns a store with app "app" holding the given versions.
func channelStore(t *testing.T, versions ...string) *Store {
	t.Helper()
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		fs := someFiles(1, v)
		putFiles(t, s, fs...)
		if _, err := s.CommitBundle(ctx, "app", v, manifestOf(t, fs...), api.BundleMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// defaults is a channel with resolver.NewChannel's settings.
func defaults(name, bundle string) api.Channel {
	return api.Channel{App: "app", Name: name, Bundle: bundle, IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true}
}

func digestOf(t *testing.T, s *Store) string {
	t.Helper()
	n, d, err := s.StateDigest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(n, d)
}

func TestCreateChannel(t *testing.T) {
	s := channelStore(t, "1.0.0")
	ctx := context.Background()
	prod := defaults("production", "1.0.0")
	prod.Public = true
	got, err := s.CreateChannel(ctx, prod)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 1 || got.Sequence != 1 || got.Policy != PolicyMajor || got.CreatedAt.IsZero() || !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("created %+v", got)
	}
	if again, err := s.GetChannel(ctx, "app", "production"); err != nil || !reflect.DeepEqual(again, got) {
		t.Errorf("GetChannel = %+v, %v; want %+v", again, err, got)
	}
	iosOnly := defaults("ios-public", "builtin")
	iosOnly.Public, iosOnly.Android, iosOnly.Electron = true, false, false
	long := strings.Repeat("a", MaxChannelNameLen+1)
	cases := []struct {
		name    string
		ch      api.Channel
		want    error
		message string
	}{
		{"no app", api.Channel{App: "nope", Name: "x"}, ErrNotFound, `app "nope"`},
		{"bad app id", api.Channel{App: "-x", Name: "x"}, ErrInvalid, "app id"},
		{"empty name", defaults("", ""), ErrInvalid, "channel name"},
		{"long name", defaults(long, ""), ErrInvalid, "channel name"},
		{"slash", defaults("a/b", ""), ErrInvalid, "channel name"},
		{"NUL", defaults("a\x00b", ""), ErrInvalid, "channel name"},
		{"exists", defaults("production", ""), ErrExists, "production"},
		{"missing bundle", defaults("beta", "2.0.0"), ErrBundleNotFound, `no bundle "2.0.0"`},
		{"bad version", defaults("beta", "v2"), ErrInvalid, "version"},
		{"bad policy", func() api.Channel { c := defaults("beta", ""); c.Policy = "sometimes"; return c }(), ErrInvalid, "policy"},
		{"second public", func() api.Channel { c := defaults("beta", ""); c.Public = true; return c }(), ErrPublicConflict, `"production" is already public for ios`},
		{"public on a shared platform", func() api.Channel {
			c := defaults("beta", "")
			c.Public, c.IOS, c.Android = true, false, false
			return c
		}(), ErrPublicConflict, "electron"},
		{"rollout of missing bundle", func() api.Channel {
			c := defaults("beta", "1.0.0")
			c.Rollout = &api.Rollout{Bundle: "3.0.0", BasisPoints: 10}
			return c
		}(), ErrBundleNotFound, "3.0.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := digestOf(t, s)
			_, err := s.CreateChannel(ctx, tc.ch)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.message)
			}
			if after := digestOf(t, s); after != before {
				t.Error("a refused create changed the store")
			}
		})
	}
	// Public uniqueness is per platform: make production not serve iOS,
	// then an iOS-only public channel fits.
	if _, err := s.CreateChannel(ctx, iosOnly); !errors.Is(err, ErrPublicConflict) {
		t.Fatalf("iOS public while production serves iOS: %v", err)
	}
	if _, err := s.UpdateChannel(ctx, "app", "production", "update", func(c *api.Channel) error { c.IOS = false; return nil }); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateChannel(ctx, iosOnly)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != 2 {
		t.Errorf("second channel id %d", c.ID)
	}
	meta := defaults("meta", "")
	meta.Policy = "version_number"
	if c, err := s.CreateChannel(ctx, meta); err != nil || c.Policy != PolicyMetadata || c.ID != 3 {
		t.Errorf("version_number policy: %+v, %v", c, err)
	}
	list, err := s.ListChannels(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "ios-public,meta,production" {
		t.Errorf("ListChannels order %v", names)
	}
	if _, err := s.ListChannels(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListChannels of unknown app: %v", err)
	}
	if _, err := s.GetChannel(ctx, "app", "nope"); !errors.Is(err, ErrChannelNotFound) {
		t.Errorf("GetChannel missing: %v", err)
	}
	if _, err := s.GetChannel(ctx, "nope", "production"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrChannelNotFound) {
		t.Errorf("GetChannel of unknown app: %v", err)
	}
}

func TestUpdateChannelSequenceAndHistory(t *testing.T) {
	s := channelStore(t, "1.0.0", "1.1.0")
	ctx := context.Background()
	if _, err := s.CreateChannel(ctx, defaults("beta", "")); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		action  string
		fn      func(*api.Channel) error
		seq     uint64
		bundle  string
		wantErr error
		detail  string
	}{
		{"update", func(c *api.Channel) error { c.Policy = PolicyMinor; c.AllowSelfAssign = true; return nil }, 1, "", nil, "allow_self_assign true, policy minor"},
		{"set", func(c *api.Channel) error { c.Bundle = "1.0.0"; return nil }, 2, "1.0.0", nil, ""},
		{"update", func(c *api.Channel) error { return nil }, 2, "1.0.0", nil, ""}, // no change: no event
		{"update", func(c *api.Channel) error { c.Bundle = "9.9.9"; return nil }, 2, "1.0.0", ErrBundleNotFound, ""},
		{"update", func(c *api.Channel) error { c.Policy = "x"; return nil }, 2, "1.0.0", ErrInvalid, ""},
		{"update", func(c *api.Channel) error { return errors.New("boom") }, 2, "1.0.0", errors.New("boom"), ""},
		// fn cannot change the identity fields.
		{"update", func(c *api.Channel) error { c.ID, c.Name, c.Sequence = 99, "other", 50; return nil }, 2, "1.0.0", nil, ""},
		{"rollout", func(c *api.Channel) error { c.Rollout = &api.Rollout{Bundle: "1.1.0", BasisPoints: 1250}; return nil }, 3, "1.0.0", nil, "rollout 1.1.0 at 12.5%"},
		{"set", func(c *api.Channel) error { c.Bundle = "builtin"; return nil }, 4, "builtin", nil, ""},
	}
	events := 1
	for i, st := range steps {
		before := digestOf(t, s)
		c, err := s.UpdateChannel(ctx, "app", "beta", st.action, st.fn)
		if st.wantErr != nil {
			if err == nil || (!errors.Is(err, st.wantErr) && !strings.Contains(err.Error(), st.wantErr.Error())) {
				t.Fatalf("step %d: err %v, want %v", i, err, st.wantErr)
			}
			if digestOf(t, s) != before {
				t.Fatalf("step %d: refused update changed the store", i)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if c.Sequence != st.seq || c.Bundle != st.bundle || c.ID != 1 || c.Name != "beta" {
			t.Fatalf("step %d: %+v, want sequence %d bundle %q", i, c, st.seq, st.bundle)
		}
		hist, err := s.ChannelHistory(ctx, "app", "beta")
		if err != nil {
			t.Fatal(err)
		}
		changed := digestOf(t, s) != before
		if changed {
			events++
		}
		if len(hist) != events {
			t.Fatalf("step %d: %d events, want %d", i, len(hist), events)
		}
		if changed {
			last := hist[len(hist)-1]
			if last.Action != st.action || last.Bundle != st.bundle || last.Detail != st.detail {
				t.Errorf("step %d: event %+v, want action %q bundle %q detail %q", i, last, st.action, st.bundle, st.detail)
			}
		}
	}
	// The history keeps the last MaxChannelHistory events.
	for i := 0; i < MaxChannelHistory+5; i++ {
		b := []string{"1.0.0", "1.1.0"}[i%2]
		if _, err := s.SetChannelBundle(ctx, "app", "beta", b); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := s.ChannelHistory(ctx, "app", "beta")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != MaxChannelHistory || hist[len(hist)-1].Bundle != "1.0.0" {
		t.Errorf("history of %d events, last %+v", len(hist), hist[len(hist)-1])
	}
	if _, err := s.SetChannelBundle(ctx, "app", "beta", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf(`SetChannelBundle "": %v`, err)
	}
	if _, err := s.ChannelHistory(ctx, "app", "nope"); !errors.Is(err, ErrChannelNotFound) {
		t.Errorf("history of a missing channel: %v", err)
	}
}

func TestRollbackChannel(t *testing.T) {
	s := channelStore(t, "1.0.0", "1.1.0", "1.2.0", "1.3.0")
	ctx := context.Background()
	if _, err := s.CreateChannel(ctx, defaults("production", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RollbackChannel(ctx, "app", "production"); !errors.Is(err, ErrNoPreviousBundle) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("rollback of a new channel: %v", err)
	}
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
		if _, err := s.SetChannelBundle(ctx, "app", "production", v); err != nil {
			t.Fatal(err)
		}
	}
	// 1.1.0 stops being served, so it may be deleted; rollback skips it.
	if err := s.DeleteBundle(ctx, "app", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1.2.0", "1.0.0"} {
		c, err := s.RollbackChannel(ctx, "app", "production")
		if err != nil {
			t.Fatal(err)
		}
		if c.Bundle != want {
			t.Fatalf("rollback to %s, want %s", c.Bundle, want)
		}
	}
	before := digestOf(t, s)
	if _, err := s.RollbackChannel(ctx, "app", "production"); !errors.Is(err, ErrNoPreviousBundle) {
		t.Fatalf("rollback past the first bundle: %v", err)
	}
	if digestOf(t, s) != before {
		t.Error("a refused rollback changed the store")
	}
	hist, _ := s.ChannelHistory(ctx, "app", "production")
	var got []string
	for _, ev := range hist {
		got = append(got, fmt.Sprintf("%s %s<-%s %s", ev.Action, ev.Bundle, ev.Previous, ev.Detail))
	}
	want := []string{
		"create <- ", "set 1.0.0<- ", "set 1.1.0<-1.0.0 ", "set 1.2.0<-1.1.0 ", "set 1.3.0<-1.2.0 ",
		"rollback 1.2.0<-1.3.0 ", "rollback 1.0.0<-1.2.0 skipped deleted 1.1.0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history\n got %q\nwant %q", got, want)
	}
	// A set after rollbacks is a new top: rollback returns to 1.0.0.
	if _, err := s.SetChannelBundle(ctx, "app", "production", "builtin"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.RollbackChannel(ctx, "app", "production"); err != nil || c.Bundle != "1.0.0" {
		t.Errorf("rollback from builtin: %+v, %v", c.Bundle, err)
	}
}

func TestServedStackTrimmed(t *testing.T) {
	// A trimmed history starts with the Previous of its first event.
	hist := []api.ChannelEvent{
		{Action: "set", Bundle: "2.0.0", Previous: "1.0.0"},
		{Action: "update", Bundle: "2.0.0"},
		{Action: "set", Bundle: "3.0.0", Previous: "2.0.0"},
		{Action: "rollback", Bundle: "2.0.0", Previous: "3.0.0"},
		{Action: "promote", Bundle: "4.0.0", Previous: "2.0.0"},
	}
	if got := servedStack(hist); !reflect.DeepEqual(got, []string{"1.0.0", "2.0.0", "4.0.0"}) {
		t.Errorf("servedStack = %v", got)
	}
}

func TestRolloutLifecycle(t *testing.T) {
	s := channelStore(t, "1.0.0", "1.1.0", "1.2.0")
	ctx := context.Background()
	if _, err := s.CreateChannel(ctx, defaults("production", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	var id string
	steps := []struct {
		req     api.RolloutRequest
		wantErr error
		check   func(c api.Channel) string
	}{
		{api.RolloutRequest{Action: api.RolloutPause}, ErrNoRollout, nil},
		{api.RolloutRequest{Action: "explode"}, ErrInvalid, nil},
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 10001}, ErrInvalid, nil},
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: -1}, ErrInvalid, nil},
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "9.0.0", BasisPoints: 10}, ErrBundleNotFound, nil},
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "builtin", BasisPoints: 10}, ErrInvalid, nil},
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.0.0", BasisPoints: 10}, ErrInvalid, nil},
		{api.RolloutRequest{Action: api.RolloutStart}, ErrInvalid, nil},
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 3000}, nil, func(c api.Channel) string {
			if c.Rollout == nil || c.Rollout.Bundle != "1.1.0" || c.Rollout.BasisPoints != 3000 || c.Rollout.ID == "" || c.Rollout.StartedAt.IsZero() || c.Sequence != 2 {
				return fmt.Sprintf("started: %+v", c.Rollout)
			}
			id = c.Rollout.ID
			return ""
		}},
		// The same bundle changes the share and keeps the id.
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 5000}, nil, func(c api.Channel) string {
			if c.Rollout.ID != id || c.Rollout.BasisPoints != 5000 || c.Sequence != 3 {
				return fmt.Sprintf("raised: %+v", c.Rollout)
			}
			return ""
		}},
		{api.RolloutRequest{Action: api.RolloutPause}, nil, func(c api.Channel) string {
			if !c.Rollout.Paused || c.Sequence != 4 {
				return fmt.Sprintf("paused: %+v", c.Rollout)
			}
			return ""
		}},
		{api.RolloutRequest{Action: api.RolloutPause}, nil, func(c api.Channel) string { // idempotent
			if !c.Rollout.Paused || c.Sequence != 4 {
				return fmt.Sprintf("paused twice: %+v seq %d", c.Rollout, c.Sequence)
			}
			return ""
		}},
		{api.RolloutRequest{Action: api.RolloutResume, Bundle: "1.1.0"}, ErrInvalid, nil},
		{api.RolloutRequest{Action: api.RolloutResume}, nil, func(c api.Channel) string {
			if c.Rollout.Paused {
				return "still paused"
			}
			return ""
		}},
		// Another bundle draws everyone again.
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.2.0", BasisPoints: 100}, nil, func(c api.Channel) string {
			if c.Rollout.ID == id || c.Rollout.Bundle != "1.2.0" {
				return fmt.Sprintf("new bundle: %+v", c.Rollout)
			}
			return ""
		}},
		{api.RolloutRequest{Action: api.RolloutCancel}, nil, func(c api.Channel) string {
			if c.Rollout != nil || c.Bundle != "1.0.0" {
				return fmt.Sprintf("cancelled: %+v", c)
			}
			return ""
		}},
		{api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 0}, nil, nil},
		{api.RolloutRequest{Action: api.RolloutPromote}, nil, func(c api.Channel) string {
			if c.Rollout != nil || c.Bundle != "1.1.0" {
				return fmt.Sprintf("promoted: %+v", c)
			}
			return ""
		}},
		{api.RolloutRequest{Action: api.RolloutPromote}, ErrNoRollout, nil},
	}
	for i, st := range steps {
		before := digestOf(t, s)
		c, err := s.Rollout(ctx, "app", "production", st.req)
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("step %d %+v: err %v, want %v", i, st.req, err, st.wantErr)
			}
			if digestOf(t, s) != before {
				t.Fatalf("step %d: refused rollout changed the store", i)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d %+v: %v", i, st.req, err)
		}
		if st.check != nil {
			if msg := st.check(c); msg != "" {
				t.Fatalf("step %d: %s", i, msg)
			}
		}
	}
	hist, _ := s.ChannelHistory(ctx, "app", "production")
	var actions []string
	for _, ev := range hist {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, " "); got != "create rollout rollout pause resume rollout cancel rollout promote" {
		t.Errorf("actions: %s", got)
	}
	// Setting the channel to the rollout's bundle ends the rollout.
	if _, err := s.Rollout(ctx, "app", "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.2.0", BasisPoints: 10}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.SetChannelBundle(ctx, "app", "production", "1.2.0"); err != nil || c.Rollout != nil {
		t.Errorf("set to the rollout bundle: %+v, %v", c.Rollout, err)
	}
}

func TestOverridesAndSnapshot(t *testing.T) {
	s := channelStore(t, "1.0.0", "2.0.0")
	ctx := context.Background()
	for _, c := range []api.Channel{defaults("production", "1.0.0"), defaults("beta", "2.0.0")} {
		if _, err := s.CreateChannel(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	refusals := []struct {
		name            string
		app, dev, chann string
		want            error
	}{
		{"missing channel", "app", "dev-1", "nope", ErrChannelNotFound},
		{"missing app", "other", "dev-1", "beta", ErrNotFound},
		{"empty device", "app", "", "beta", ErrInvalid},
		{"long device", "app", strings.Repeat("d", MaxDeviceIDLen+1), "beta", ErrInvalid},
		{"control device", "app", "dev\n1", "beta", ErrInvalid},
		{"bad channel name", "app", "dev-1", "a/b", ErrInvalid},
	}
	for _, tc := range refusals {
		before := digestOf(t, s)
		if err := s.SetOverride(ctx, tc.app, tc.dev, tc.chann); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if digestOf(t, s) != before {
			t.Errorf("%s: store changed", tc.name)
		}
	}
	if err := s.SetOverride(ctx, "app", "DEV-1", "beta"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSelfAssigned(ctx, "app", "Dev-2", "production"); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshot(ctx, "app", "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	if !snap.AppExists || snap.App.ID != "app" || snap.Override != "beta" || snap.SelfAssigned != "" ||
		len(snap.Channels) != 2 || len(snap.Bundles) != 2 || snap.Bundles["2.0.0"].Version != "2.0.0" {
		t.Errorf("snapshot dev-1: %+v", snap)
	}
	if snap, _ := s.Snapshot(ctx, "app", "DEV-2"); snap.Override != "" || snap.SelfAssigned != "production" {
		t.Errorf("snapshot dev-2: override %q self %q", snap.Override, snap.SelfAssigned)
	}
	if snap, _ := s.Snapshot(ctx, "app", ""); snap.Override != "" || !snap.AppExists {
		t.Errorf("snapshot without device: %+v", snap)
	}
	for _, app := range []string{"nope", "", "bad/app"} {
		if snap, err := s.Snapshot(ctx, app, "dev-1"); err != nil || snap.AppExists {
			t.Errorf("snapshot of %q: %+v, %v", app, snap, err)
		}
	}
	if err := s.ClearOverride(ctx, "app", "Dev-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearOverride(ctx, "app", "dev-1"); err != nil {
		t.Errorf("clearing twice: %v", err)
	}
	if snap, _ := s.Snapshot(ctx, "app", "dev-1"); snap.Override != "" {
		t.Errorf("override after clear: %q", snap.Override)
	}
	if err := s.SetSelfAssigned(ctx, "app", "dev-2", ""); err != nil {
		t.Fatal(err)
	}
	if snap, _ := s.Snapshot(ctx, "app", "dev-2"); snap.SelfAssigned != "" {
		t.Errorf("self-assignment after clear: %q", snap.SelfAssigned)
	}
	// Deleting a channel deletes the overrides and self-assignments to it.
	if err := s.SetOverride(ctx, "app", "dev-1", "beta"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSelfAssigned(ctx, "app", "dev-3", "beta"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOverride(ctx, "app", "dev-4", "production"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChannel(ctx, "app", "beta"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChannel(ctx, "app", "beta"); !errors.Is(err, ErrChannelNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := s.CreateChannel(ctx, defaults("beta", "")); err != nil {
		t.Fatal(err)
	}
	for dev, want := range map[string]string{"dev-1": "", "dev-3": "", "dev-4": "production"} {
		snap, _ := s.Snapshot(ctx, "app", dev)
		if snap.Override+snap.SelfAssigned != want {
			t.Errorf("%s after delete: override %q self %q, want %q", dev, snap.Override, snap.SelfAssigned, want)
		}
	}
	if hist, _ := s.ChannelHistory(ctx, "app", "beta"); len(hist) != 1 {
		t.Errorf("recreated channel has %d events", len(hist))
	}
}

func TestDeleteBundleWhileServed(t *testing.T) {
	s := channelStore(t, "1.0.0", "1.1.0", "1.2.0")
	ctx := context.Background()
	if _, err := s.CreateChannel(ctx, defaults("production", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollout(ctx, "app", "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 10}); err != nil {
		t.Fatal(err)
	}
	for v, msg := range map[string]string{"1.0.0": `channel "production" serves`, "1.1.0": `channel "production" rolls out`} {
		before := digestOf(t, s)
		err := s.DeleteBundle(ctx, "app", v)
		if !errors.Is(err, ErrBundleInUse) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), msg) {
			t.Errorf("delete %s: %v", v, err)
		}
		if digestOf(t, s) != before {
			t.Errorf("delete %s: store changed", v)
		}
	}
	if err := s.DeleteBundle(ctx, "app", "1.2.0"); err != nil {
		t.Errorf("delete an unused bundle: %v", err)
	}
	if _, err := s.Rollout(ctx, "app", "production", api.RolloutRequest{Action: api.RolloutPromote}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBundle(ctx, "app", "1.0.0"); err != nil {
		t.Errorf("delete after promote: %v", err)
	}
}

// TestDeleteBundleRace races channel changes against bundle deletes: no
// channel may ever end up serving a deleted bundle.
func TestDeleteBundleRace(t *testing.T) {
	versions := []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"}
	s := channelStore(t, versions...)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("ch%d", i)
			_, _ = s.CreateChannel(ctx, defaults(name, versions[i]))
			for j := range 30 {
				_, _ = s.SetChannelBundle(ctx, "app", name, versions[(i+j)%len(versions)])
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 30 {
				_ = s.DeleteBundle(ctx, "app", versions[j%len(versions)])
			}
		}()
	}
	wg.Wait()
	snap, err := s.Snapshot(ctx, "app", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range snap.Channels {
		if _, ok := snap.Bundles[c.Bundle]; !ok {
			t.Errorf("channel %s serves deleted bundle %s", c.Name, c.Bundle)
		}
	}
}

func TestFormatBasisPoints(t *testing.T) {
	for bp, want := range map[int]string{0: "0", 5: "0.05", 1250: "12.5", 3000: "30", 10000: "100", 3333: "33.33"} {
		if got := FormatBasisPoints(bp); got != want {
			t.Errorf("FormatBasisPoints(%d) = %q, want %q", bp, got, want)
		}
	}
}

// TestOverrideDeleteChannelRace races overrides against channel deletes: no
// override may outlive its channel.
func TestOverrideDeleteChannelRace(t *testing.T) {
	s := channelStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 25 {
				name := fmt.Sprintf("ch%d", j%3)
				if i == 0 {
					_ = s.DeleteChannel(ctx, "app", name)
					_, _ = s.CreateChannel(ctx, defaults(name, ""))
					continue
				}
				_ = s.SetOverride(ctx, "app", fmt.Sprintf("dev-%d-%d", i, j), name)
			}
		}()
	}
	wg.Wait()
	chans, err := s.ListChannels(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, c := range chans {
		have[c.Name] = true
	}
	for i := 1; i < 4; i++ {
		for j := range 25 {
			snap, err := s.Snapshot(ctx, "app", fmt.Sprintf("dev-%d-%d", i, j))
			if err != nil {
				t.Fatal(err)
			}
			if snap.Override != "" && !have[snap.Override] {
				t.Errorf("override of dev-%d-%d points at missing channel %s", i, j, snap.Override)
			}
		}
	}
}
