package server

import (
	"context"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// The release guard (issue 13). After each write of Capgo stats events
// (capgo.Deps.Flushed, on the stats writer's goroutine and before the
// requests that sent them are answered), every guarded channel of the apps
// the events were of (read from the catalog) is judged: the counters of the bundle its guard
// watches (store.GuardTarget: the rollout's bundle, else the channel's) on
// that channel, by resolver.JudgeGuard, and a trip is made with
// store.TripGuard (once per bundle; it pauses, rolls back or only records,
// and emits guard.tripped). The judgement is pure (resolver); the store
// applies it in one transaction that checks again that the guard still
// watches that bundle and has not tripped on it.

// checkGuards judges the guarded channels of apps. The channels come from
// the in-memory catalog (current as of the call), so a flush of apps
// without guards reads nothing from the store.
func (s *Server) checkGuards(ctx context.Context, apps []string) {
	for _, app := range apps {
		a, err := s.catalog.App(ctx, app)
		if err != nil {
			s.log.Warn("release guard: reading channels failed", "app", app, "err", err)
			continue
		}
		for _, c := range a.Channels {
			if c.Guard != nil {
				s.judgeGuard(ctx, c)
			}
		}
	}
}

// judgeGuard judges channel c's guard and trips it when it must.
func (s *Server) judgeGuard(ctx context.Context, c api.Channel) {
	bundle := store.GuardTarget(c)
	if bundle == "" || store.TrippedOn(c, bundle) {
		return
	}
	st, err := s.store.ChannelBundleStats(ctx, c.App, c.Name, bundle)
	if err != nil {
		s.log.Warn("release guard: reading stats failed", "app", c.App, "channel", c.Name, "bundle", bundle, "err", err)
		return
	}
	v := resolver.JudgeGuard(resolver.GuardRule{FailureRateBP: c.Guard.FailureRateBP, MinAttempts: c.Guard.MinInstalls},
		resolver.GuardCounts{Installs: st.Installs, Failures: st.Failures, Rollbacks: st.Rollbacks}, false)
	if !v.Trip {
		return
	}
	trip := api.GuardTrip{Bundle: bundle, Failures: v.Bad, Attempts: v.Attempts, LowerBound: v.LowerBound}
	out, ok, err := s.store.TripGuard(ctx, c.App, c.Name, trip, v.Reason)
	if err != nil {
		s.log.Error("release guard: trip failed", "app", c.App, "channel", c.Name, "bundle", bundle, "err", err)
		return
	}
	if !ok {
		return // changed meanwhile
	}
	s.metrics.GuardTripped(c.Guard.Action)
	if out.Pending == nil {
		s.stopSwitch(out.App, out.Name) // a pending switch the trip dropped
	}
	last := out.GuardTrips[len(out.GuardTrips)-1]
	s.log.Warn("release guard tripped", "app", c.App, "channel", c.Name, "bundle", bundle, "action", c.Guard.Action,
		"detail", last.Detail)
}

// guardTrips lists the guard trips of channels (of channel only, when not
// ""), each with its channel's name.
func guardTrips(channels []api.Channel, channel string) []api.GuardTrip {
	trips := []api.GuardTrip{}
	for _, c := range channels {
		if channel != "" && c.Name != channel {
			continue
		}
		for _, t := range c.GuardTrips {
			t.Channel = c.Name
			trips = append(trips, t)
		}
	}
	return trips
}
