package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/webhook"
)

func ptr[T any](v T) *T { return &v }

// TestGuardSettingsRefused: bad guard settings are refused with
// ErrInvalid and change nothing stored.
func TestGuardSettingsRefused(t *testing.T) {
	s := channelStore(t, "1.0.0")
	ctx := context.Background()
	if _, err := s.CreateChannel(ctx, defaults("production", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	before := digestOf(t, s)
	for _, tc := range []struct {
		name string
		st   api.GuardSettings
		want string
	}{
		{"150%", api.GuardSettings{FailureRateBP: ptr(15000)}, "guard failure rate"},
		{"0%", api.GuardSettings{FailureRateBP: ptr(0)}, "guard failure rate"},
		{"negative rate", api.GuardSettings{FailureRateBP: ptr(-5)}, "guard failure rate"},
		{"negative minimum", api.GuardSettings{FailureRateBP: ptr(500), MinInstalls: ptr(int64(-1))}, "guard minimum installs"},
		{"huge minimum", api.GuardSettings{FailureRateBP: ptr(500), MinInstalls: ptr(int64(MaxGuardMinInstalls + 1))}, "guard minimum installs"},
		{"unknown action", api.GuardSettings{FailureRateBP: ptr(500), Action: ptr("explode")}, "guard action"},
		{"no rate to enable", api.GuardSettings{Action: ptr(api.GuardPause)}, "needs a failure rate"},
		{"off with settings", api.GuardSettings{Off: true, Action: ptr(api.GuardPause)}, "takes no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateChannel(ctx, "app", "production", "update", func(c *api.Channel) error {
				g, err := MergeGuard(c.Guard, tc.st)
				c.Guard = g
				return err
			})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid naming %q", err, tc.want)
			}
		})
	}
	// A guard that skipped MergeGuard is checked by the store too.
	_, err := s.UpdateChannel(ctx, "app", "production", "update", func(c *api.Channel) error {
		c.Guard = &api.Guard{FailureRateBP: 500, Action: "later"}
		return nil
	})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("stored an unknown action: %v", err)
	}
	if after := digestOf(t, s); after != before {
		t.Error("refused settings changed the store")
	}
}

// TestMergeGuard: a guard starts from the defaults, keeps what is not
// given, and turns off.
func TestMergeGuard(t *testing.T) {
	g, err := MergeGuard(nil, api.GuardSettings{FailureRateBP: ptr(500)})
	if err != nil || *g != (api.Guard{FailureRateBP: 500, MinInstalls: api.DefaultGuardMinInstalls, Action: api.DefaultGuardAction}) {
		t.Fatalf("new guard %+v, %v", g, err)
	}
	g2, err := MergeGuard(g, api.GuardSettings{Action: ptr(api.GuardRollback), MinInstalls: ptr(int64(0))})
	if err != nil || *g2 != (api.Guard{FailureRateBP: 500, MinInstalls: 0, Action: api.GuardRollback}) || g.Action != api.GuardPause {
		t.Fatalf("changed guard %+v (old %+v), %v", g2, g, err)
	}
	if g3, err := MergeGuard(g2, api.GuardSettings{Off: true}); err != nil || g3 != nil {
		t.Fatalf("off: %+v, %v", g3, err)
	}
}

// TestOldChannelRecordDecodes: a channel record written before guards,
// pauses and disabling decodes with all of them off.
func TestOldChannelRecordDecodes(t *testing.T) {
	s := channelStore(t, "1.0.0")
	ctx := context.Background()
	old := `{"id":7,"bundle":"1.0.0","public":true,"ios":true,"android":true,"electron":true,"allow_emulator":true,` +
		`"allow_device":true,"allow_dev":true,"allow_prod":true,"policy":"major","allow_under_native":false,` +
		`"rollout":{"id":"r","bundle":"1.0.0","basis_points":100,"paused":false,"started_at":"2026-01-01T00:00:00Z"},` +
		`"sequence":3,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`
	if err := s.kv.Update(context.Background(), func(txn kvTxn) error { return txn.Set(channelKey("app", "production"), []byte(old)) }); err != nil {
		t.Fatal(err)
	}
	c, err := s.GetChannel(ctx, "app", "production")
	if err != nil {
		t.Fatal(err)
	}
	if c.Guard != nil || c.GuardTrips != nil || c.Paused || c.Disabled || c.Sequence != 3 || c.Rollout == nil {
		t.Errorf("old record decoded as %+v", c)
	}
}

// guardChannel creates production serving 1.0.0 with a guard of action.
func guardChannel(t *testing.T, s *Store, action string) {
	t.Helper()
	ctx := context.Background()
	ch := defaults("production", "1.0.0")
	ch.Guard = &api.Guard{FailureRateBP: 500, MinInstalls: 10, Action: action}
	if _, err := s.CreateChannel(ctx, ch); err != nil {
		t.Fatal(err)
	}
}

// TestTripGuard: each action, with and without a rollout; a trip is made
// once per bundle; the trip and the pause are publish events.
func TestTripGuard(t *testing.T) {
	type want struct {
		action, bundle string
		rollout        bool // a rollout is left
		rolloutPaused  bool
		paused         bool
	}
	for _, tc := range []struct {
		name    string
		action  string
		rollout bool
		want    want
	}{
		{"pause rollout", api.GuardPause, true, want{action: "pause", bundle: "1.0.0", rollout: true, rolloutPaused: true}},
		{"pause channel", api.GuardPause, false, want{action: "pause", bundle: "1.1.0", paused: true}},
		{"rollback rollout", api.GuardRollback, true, want{action: "rollback", bundle: "1.0.0"}},
		{"rollback channel", api.GuardRollback, false, want{action: "rollback", bundle: "1.0.0"}},
		{"notify rollout", api.GuardNotify, true, want{action: "guard", bundle: "1.0.0", rollout: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := channelStore(t, "1.0.0", "1.1.0")
			ctx := context.Background()
			guardChannel(t, s, tc.action)
			if tc.rollout {
				if _, err := s.Rollout(ctx, "app", "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.1.0", BasisPoints: 2000}); err != nil {
					t.Fatal(err)
				}
			} else if _, err := s.SetChannelBundle(ctx, "app", "production", "1.1.0"); err != nil {
				t.Fatal(err)
			}
			hook, _, err := s.CreateWebhook(ctx, "app", "https://hooks.example.com/guard", WebhookEventTypes())
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var kinds, hookTypes []string
			defer s.Subscribe(func(ev PublishEvent) {
				mu.Lock()
				kinds = append(kinds, ev.Kind.String()+" "+ev.Version)
				hookTypes = append(hookTypes, webhookTypes[ev.Kind])
				mu.Unlock()
			})()
			trip := api.GuardTrip{Bundle: "1.1.0", Failures: 18, Attempts: 60, LowerBound: 0.2}
			// A trip on a bundle the guard does not watch does nothing.
			if _, ok, err := s.TripGuard(ctx, "app", "production", api.GuardTrip{Bundle: "1.0.0"}, "x"); err != nil || ok {
				t.Fatalf("trip on another bundle: %t, %v", ok, err)
			}
			c, ok, err := s.TripGuard(ctx, "app", "production", trip, "18 of 60 attempts failed")
			if err != nil || !ok {
				t.Fatalf("trip: %t, %v", ok, err)
			}
			w := tc.want
			if c.Bundle != w.bundle || (c.Rollout != nil) != w.rollout || c.Rollout != nil && c.Rollout.Paused != w.rolloutPaused || c.Paused != w.paused {
				t.Errorf("after the trip: %+v, rollout %+v", c, c.Rollout)
			}
			if len(c.GuardTrips) != 1 || c.GuardTrips[0].Bundle != "1.1.0" || c.GuardTrips[0].Action != tc.action || c.GuardTrips[0].FailureRateBP != 500 {
				t.Errorf("trips %+v", c.GuardTrips)
			}
			hist, err := s.ChannelHistory(ctx, "app", "production")
			if err != nil {
				t.Fatal(err)
			}
			last := hist[len(hist)-1]
			if last.Action != w.action || !strings.HasPrefix(last.Detail, "guard: 1.1.0: 18 of 60 attempts failed; ") {
				t.Errorf("history event %+v", last)
			}
			// Once per bundle.
			if _, ok, err := s.TripGuard(ctx, "app", "production", trip, "again"); err != nil || ok {
				t.Errorf("second trip: %t, %v", ok, err)
			}
			mu.Lock()
			got := strings.Join(kinds, ", ")
			mu.Unlock()
			if !strings.HasPrefix(got, "guard.tripped 1.1.0") {
				t.Errorf("events %q, want guard.tripped first", got)
			}
			if paused := w.paused || w.rolloutPaused; paused != strings.Contains(got, "rollout.paused") {
				t.Errorf("events %q: rollout.paused is there = %t, want %t", got, !paused, paused)
			}
			// The hook's queue holds the same events, in that order,
			// written with the trip.
			ds, err := s.ListWebhookDeliveries(ctx, "app", hook.ID)
			if err != nil {
				t.Fatal(err)
			}
			var queued []string
			for _, d := range ds {
				queued = append(queued, d.Type)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(queued, hookTypes) || queued[0] != webhook.EventGuardTripped {
				t.Errorf("hook deliveries %v, want %v (guard.tripped first)", queued, hookTypes)
			}
		})
	}
}

// TestPauseEndsWithTheBundle: a paused channel set to another bundle is
// no longer paused; pausing and disabling move the sequence.
func TestPauseEndsWithTheBundle(t *testing.T) {
	s := channelStore(t, "1.0.0", "1.1.0")
	ctx := context.Background()
	c0, err := s.CreateChannel(ctx, defaults("production", "1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	c1, err := s.UpdateChannel(ctx, "app", "production", "pause", func(c *api.Channel) error { c.Paused = true; return nil })
	if err != nil || !c1.Paused || c1.Sequence != c0.Sequence+1 {
		t.Fatalf("paused: %+v, %v", c1, err)
	}
	c2, err := s.SetChannelBundle(ctx, "app", "production", "1.1.0")
	if err != nil || c2.Paused {
		t.Fatalf("set while paused: %+v, %v", c2, err)
	}
	c3, err := s.UpdateChannel(ctx, "app", "production", "disable", func(c *api.Channel) error { c.Disabled = true; return nil })
	if err != nil || !c3.Disabled || c3.Sequence != c2.Sequence+1 {
		t.Fatalf("disabled: %+v, %v", c3, err)
	}
	hist, _ := s.ChannelHistory(ctx, "app", "production")
	if d := hist[len(hist)-1].Detail; d != "disabled true" {
		t.Errorf("history detail %q", d)
	}
}
