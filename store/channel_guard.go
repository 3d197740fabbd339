package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/webhook"
)

// MaxGuardMinInstalls bounds a guard's minimum sample.
const MaxGuardMinInstalls = 1_000_000_000

// CheckGuard checks a channel's release guard (nil: off): a threshold of
// 1..10000 basis points (0.01 % to 100 %), a minimum sample of 0 to
// MaxGuardMinInstalls, an action of pause, rollback or notify. The error
// wraps ErrInvalid.
func CheckGuard(g *api.Guard) error {
	if g == nil {
		return nil
	}
	if g.FailureRateBP < 1 || g.FailureRateBP > MaxBasisPoints {
		return invalid("guard failure rate", FormatBasisPoints(g.FailureRateBP)+"%", "must be more than 0 % and at most 100 %")
	}
	if g.MinInstalls < 0 || g.MinInstalls > MaxGuardMinInstalls {
		return invalid("guard minimum installs", fmt.Sprint(g.MinInstalls), fmt.Sprintf("must be 0 to %d", MaxGuardMinInstalls))
	}
	switch g.Action {
	case api.GuardPause, api.GuardRollback, api.GuardNotify:
		return nil
	}
	return invalid("guard action", g.Action, "must be pause, rollback or notify")
}

// MergeGuard returns the guard cur becomes with st: nil when st.Off, else
// cur (or, without one, a guard of the defaults) with the fields st gives.
// Enabling a guard needs a failure rate. The result is checked (CheckGuard).
func MergeGuard(cur *api.Guard, st api.GuardSettings) (*api.Guard, error) {
	if st.Off {
		if st.FailureRateBP != nil || st.MinInstalls != nil || st.Action != nil {
			return nil, invalid("guard", "off", "takes no failure rate, minimum or action")
		}
		return nil, nil
	}
	g := api.Guard{MinInstalls: api.DefaultGuardMinInstalls, Action: api.DefaultGuardAction}
	if cur != nil {
		g = *cur
	} else if st.FailureRateBP == nil {
		return nil, invalid("guard", "", "needs a failure rate to be enabled")
	}
	if st.FailureRateBP != nil {
		g.FailureRateBP = *st.FailureRateBP
	}
	if st.MinInstalls != nil {
		g.MinInstalls = *st.MinInstalls
	}
	if st.Action != nil {
		g.Action = *st.Action
	}
	if err := CheckGuard(&g); err != nil {
		return nil, err
	}
	return &g, nil
}

// GuardTarget is the bundle channel c's guard watches: its rollout's
// bundle, else its own bundle ("" for none or the native bundle, which
// nothing is reported against).
func GuardTarget(c api.Channel) string {
	if c.Rollout != nil {
		return c.Rollout.Bundle
	}
	if c.Bundle == BuiltinBundle {
		return ""
	}
	return c.Bundle
}

// TrippedOn reports whether c's guard tripped on bundle already.
func TrippedOn(c api.Channel, bundle string) bool {
	return slices.ContainsFunc(c.GuardTrips, func(t api.GuardTrip) bool { return t.Bundle == bundle })
}

// Paused reports whether c is paused: itself, or its rollout.
func Paused(c api.Channel) bool {
	return c.Paused || c.Rollout != nil && c.Rollout.Paused
}

// ChannelBundleStats returns the counters of bundle on channel of app (the
// sb/ record; zero when nothing was reported).
func (s *Store) ChannelBundleStats(ctx context.Context, app, channel, bundle string) (api.BundleStats, error) {
	out := api.BundleStats{Version: bundle}
	k := counterKey{app, channel, bundle}.key()
	err := s.view(ctx, func(txn kvTxn) error {
		v, ok, err := getValue(txn, k)
		if err != nil || !ok {
			return err
		}
		var c bundleCounters
		if err := json.Unmarshal(v, &c); err != nil {
			return nil // counters that do not decode count as zero, as addCounters restarts them
		}
		out.Devices, out.Downloads, out.Installs, out.Failures, out.Rollbacks = c.Devices, c.Downloads, c.Installs, c.Failures, c.Rollbacks
		return nil
	})
	if err != nil {
		return api.BundleStats{}, fmt.Errorf("channel bundle stats: %w", err)
	}
	return out, nil
}

// TripGuard records a trip of channel name's guard on trip.Bundle and
// does what the guard's action says, in one transaction:
//
//   - pause: the rollout is paused (devices on its bundle keep it, nobody
//     joins; the others keep the channel's bundle); without a rollout the
//     channel is (api.Channel.Paused), history action "pause";
//   - rollback: the rollout is cancelled (everyone gets the channel's
//     bundle); without one the channel goes back to the bundle before, as
//     RollbackChannel does, history action "rollback"; with no earlier
//     bundle it is paused instead;
//   - notify: nothing but the trip, history action "guard".
//
// The history detail starts "guard: " and reason. trip.At, Action,
// FailureRateBP and Detail are the store's to fill. Nothing happens (false)
// when the channel's guard is off, watches another bundle now, or already
// tripped on this one: a trip is made once per bundle.
func (s *Store) TripGuard(ctx context.Context, app, name string, trip api.GuardTrip, reason string) (api.Channel, bool, error) {
	if err := ValidateAppID(app); err != nil {
		return api.Channel{}, false, err
	}
	var before, out api.Channel
	var tripped bool
	err := s.update(ctx, func(txn kvTxn) error {
		tripped = false
		old, err := getChannelTxn(txn, app, name)
		if err != nil {
			return err
		}
		before, out = old, old
		if old.Guard == nil || trip.Bundle == "" || GuardTarget(old) != trip.Bundle || TrippedOn(old, trip.Bundle) {
			return nil
		}
		c := old
		c.Rollout = cloneRollout(old.Rollout)
		action, did, err := guardAct(txn, &c)
		if err != nil {
			return err
		}
		t := trip
		t.At, t.Channel, t.Action, t.FailureRateBP = s.now(), "", old.Guard.Action, old.Guard.FailureRateBP
		t.Detail = reason + "; " + did
		c.GuardTrips = append(slices.Clone(old.GuardTrips), t)
		if n := len(c.GuardTrips) - api.MaxGuardTrips; n > 0 {
			c.GuardTrips = c.GuardTrips[n:]
		}
		// guard.tripped goes to hooks before the change it makes
		// (channel.changed, rollout.paused), in this transaction.
		tripEvent := PublishEvent{Kind: GuardTripped, App: app, Channel: name, Version: t.Bundle}
		if err := s.publishTxn(txn, tripEvent, webhook.Data{Version: t.Bundle, Channel: name, Action: t.Action, Detail: t.Detail}); err != nil {
			return err
		}
		out, err = s.saveChannel(txn, old, c, action, "guard: "+t.Bundle+": "+t.Detail)
		tripped = err == nil
		return err
	})
	if err != nil {
		return api.Channel{}, false, fmt.Errorf("guard of channel %q of app %q: %w", name, app, err)
	}
	if tripped {
		s.emit(PublishEvent{Kind: GuardTripped, App: app, Channel: name, Version: trip.Bundle})
		s.emitServes(before, out, false)
	}
	return out, tripped, nil
}

// guardAct applies c's guard action to c and returns the history action
// and what it did, in words.
func guardAct(txn kvTxn, c *api.Channel) (action, did string, err error) {
	r := c.Rollout
	switch c.Guard.Action {
	case api.GuardPause:
		if r != nil {
			r.Paused = true
			return "pause", "paused the rollout of " + r.Bundle, nil
		}
		c.Paused = true
		return "pause", "paused the channel", nil
	case api.GuardRollback:
		if r != nil {
			c.Rollout = nil
			return "rollback", "cancelled the rollout of " + r.Bundle + ": every device gets " + bundleName(c.Bundle), nil
		}
		target, skipped, err := rollbackTarget(txn, *c)
		if errors.Is(err, ErrNoPreviousBundle) {
			c.Paused = true
			return "pause", "no earlier bundle to roll back to: paused the channel", nil
		}
		if err != nil {
			return "", "", err
		}
		c.Bundle = target
		did = "rolled back to " + target
		if len(skipped) > 0 {
			did += " (skipped deleted " + strings.Join(skipped, ", ") + ")"
		}
		return "rollback", did, nil
	}
	return "guard", "notified only", nil
}

func guardsEqual(a, b *api.Guard) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func tripsEqual(a, b []api.GuardTrip) bool {
	return slices.EqualFunc(a, b, func(x, y api.GuardTrip) bool {
		return x.Bundle == y.Bundle && x.At.Equal(y.At) && x.Action == y.Action && x.Detail == y.Detail
	})
}

// guardDetail describes a guard for the history: "guard 5% over 50, pause".
func guardDetail(g *api.Guard) string {
	if g == nil {
		return "guard off"
	}
	return fmt.Sprintf("guard %s%% over %d, %s", FormatBasisPoints(g.FailureRateBP), g.MinInstalls, g.Action)
}
