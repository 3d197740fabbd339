package store

import (
	"context"
	"slices"
	"testing"

	"github.com/patchwire/patchwire/api"
)

// TestPublishEvents: every write that changes what devices are served
// emits one event after it committed; writes that do not (a failed set,
// a comment) emit none; a cancelled subscription hears nothing more.
func TestPublishEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	const app = "com.example.events"
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	var got []PublishEvent
	cancel := s.Subscribe(func(ev PublishEvent) { got = append(got, ev) })
	commit := func(v string) func() error {
		return func() error {
			putFiles(t, s, someFiles(2, v)...)
			_, err := s.CommitBundle(ctx, app, v, manifestOf(t, someFiles(2, v)...), api.BundleMeta{})
			return err
		}
	}
	committed := func(v string) PublishEvent { return PublishEvent{Kind: BundleCommitted, App: app, Version: v} }
	serves := func(v string) PublishEvent {
		return PublishEvent{Kind: ChannelServes, App: app, Channel: "production", Version: v}
	}
	rollout := func(req api.RolloutRequest) func() error {
		return func() error { _, err := s.Rollout(ctx, app, "production", req); return err }
	}
	steps := []struct {
		name    string
		write   func() error
		wantErr bool
		want    []PublishEvent
	}{
		{"commit 1.0.0", commit("1.0.0"), false, []PublishEvent{committed("1.0.0")}},
		{"create channel", func() error {
			_, err := s.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: "1.0.0"})
			return err
		}, false, []PublishEvent{serves("1.0.0")}},
		{"commit 1.1.0", commit("1.1.0"), false, []PublishEvent{committed("1.1.0")}},
		{"set to a missing bundle", func() error {
			_, err := s.SetChannelBundle(ctx, app, "production", "9.9.9")
			return err
		}, true, nil},
		{"set 1.1.0", func() error {
			_, err := s.SetChannelBundle(ctx, app, "production", "1.1.0")
			return err
		}, false, []PublishEvent{serves("1.1.0")}},
		{"set 1.1.0 again", func() error {
			_, err := s.SetChannelBundle(ctx, app, "production", "1.1.0")
			return err
		}, false, nil},
		{"rollback", func() error {
			_, err := s.RollbackChannel(ctx, app, "production")
			return err
		}, false, []PublishEvent{serves("1.0.0")}},
		{"start rollout", rollout(api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 1000}), false, []PublishEvent{serves("1.0.0")}},
		{"promote", rollout(api.RolloutRequest{Action: api.RolloutPromote}), false, []PublishEvent{serves("1.1.0")}},
		{"promote without a rollout", rollout(api.RolloutRequest{Action: api.RolloutPromote}), true, nil},
	}
	for _, st := range steps {
		got = nil
		err := st.write()
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: err %v, want error %v", st.name, err, st.wantErr)
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: events %+v, want %+v", st.name, got, st.want)
		}
	}
	cancel()
	got = nil
	if err := commit("1.2.0")(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("after cancel: events %+v, want none", got)
	}
}

// TestEventKindString names every kind.
func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{BundleCommitted: "bundle.committed", ChannelServes: "channel.serves",
		GuardTripped: "guard.tripped", ChannelPaused: "rollout.paused", 0: "unknown"} {
		if k.String() != want {
			t.Errorf("%d: %q, want %q", k, k.String(), want)
		}
	}
}
