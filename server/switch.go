package server

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// Patches ready before devices are served (issue 8).
//
// A change of what a channel serves (create or update with a bundle, set,
// rollout start or share change, promote) is first stored as the
// channel's pending switch (store.StageChannel): the record goes on
// serving the old bundle, so every device check keeps getting the old
// answer. A runner then makes the patches from the bases that matter to
// the new bundle (prepareSwitch) and switches the channel in one
// transaction (store.CompleteSwitch), or switches anyway at the pending
// switch's deadline (--patch-wait, or the request's patch_wait), logging
// why. A later change of what the channel serves replaces the pending
// switch; rollback, pause, resume and cancel switch at once. Pending
// switches are kept in the store and resumed when the server starts.

// DefaultPatchWait is how long a channel change waits for its patches by
// default (Config.PatchWait).
const DefaultPatchWait = 10 * time.Minute

// switches tracks the runners of pending switches, one per channel.
type switches struct {
	mu   sync.Mutex
	runs map[string]*switchRun // app \x00 channel
	hold chan struct{}         // tests: runners wait for it before they start
}

// switchRun is one runner: the pending switch it does (by Since), how to
// stop it, and a channel closed when it ends.
type switchRun struct {
	since  time.Time
	cancel context.CancelFunc
	done   chan struct{}
}

func newSwitches() *switches { return &switches{runs: map[string]*switchRun{}} }

func switchKey(app, channel string) string { return app + "\x00" + channel }

// patchWait is the configured wait: 0 switches at once.
func (s *Server) patchWait() time.Duration {
	switch w := s.cfg.PatchWait; {
	case w < 0:
		return 0
	case w == 0:
		return DefaultPatchWait
	default:
		return w
	}
}

// resumeSwitches starts a runner for every pending switch in the store
// (a restart resumes what was pending; one whose deadline passed switches
// at once).
func (s *Server) resumeSwitches() {
	list, err := s.store.PendingSwitches(context.Background())
	if err != nil {
		s.log.Error("pending switches: not resumed", "err", err)
		return
	}
	for _, c := range list {
		s.log.Info("resuming a pending switch", "app", c.App, "channel", c.Name, "bundle", c.Pending.Bundle, "since", c.Pending.Since)
		s.startSwitch(c)
	}
}

// startSwitch runs c's pending switch in the background, stopping the
// runner of an earlier switch of the channel (replaced).
func (s *Server) startSwitch(c api.Channel) {
	key := switchKey(c.App, c.Name)
	ctx, cancel := context.WithCancel(context.Background())
	run := &switchRun{since: c.Pending.Since, cancel: cancel, done: make(chan struct{})}
	s.switches.mu.Lock()
	if old := s.switches.runs[key]; old != nil {
		old.cancel()
	}
	s.switches.runs[key] = run
	s.switches.mu.Unlock()
	if s.patcher.Closed() {
		// The server stops: nothing runs; the pending switch stays in the
		// store for the next start.
		s.endRun(key, run)
		return
	}
	s.patcher.Background(func(pctx context.Context) {
		stop := context.AfterFunc(pctx, cancel)
		defer stop()
		s.runSwitch(ctx, c)
		s.endRun(key, run)
	})
}

// stopSwitch stops the runner of channel's pending switch, if any, when a
// change dropped the switch: it would only make patches nobody waits for
// (its CompleteSwitch would find the switch gone and do nothing).
func (s *Server) stopSwitch(app, channel string) {
	s.switches.mu.Lock()
	run := s.switches.runs[switchKey(app, channel)]
	s.switches.mu.Unlock()
	if run != nil {
		run.cancel()
	}
}

func (s *Server) endRun(key string, run *switchRun) {
	s.switches.mu.Lock()
	defer s.switches.mu.Unlock()
	if s.switches.runs[key] == run {
		delete(s.switches.runs, key)
	}
	select {
	case <-run.done:
	default:
		close(run.done)
	}
	run.cancel()
}

// waitSwitch blocks until the runner of the pending switch since of the
// channel ends, or ctx does.
func (s *Server) waitSwitch(ctx context.Context, app, channel string, since time.Time) {
	s.switches.mu.Lock()
	run := s.switches.runs[switchKey(app, channel)]
	s.switches.mu.Unlock()
	if run == nil || !run.since.Equal(since) {
		return
	}
	select {
	case <-run.done:
	case <-ctx.Done():
	}
}

// runSwitch makes the patches of c's pending switch until its deadline,
// then switches. Stopped early (replaced, or the server stops), it leaves
// the store as it is.
func (s *Server) runSwitch(ctx context.Context, c api.Channel) {
	p := c.Pending
	s.switches.mu.Lock()
	hold := s.switches.hold
	s.switches.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return
		}
	}
	start := time.Now()
	pctx, cancel := context.WithDeadline(ctx, p.Deadline)
	done, total, err := s.prepareChannelSwitch(pctx, c)
	cancel()
	if ctx.Err() != nil {
		return
	}
	log := s.log.With("app", c.App, "channel", c.Name, "bundle", p.Bundle, "bases_done", done, "bases_total", total)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("switching with patches missing: the patch wait is over", "wait", p.Deadline.Sub(p.Since).Round(time.Second))
	case err != nil:
		log.Error("switching with patches missing: making them failed", "err", err)
	}
	ch, switched, err := s.store.CompleteSwitch(context.WithoutCancel(ctx), c.App, c.Name, p.Since)
	switch {
	case err != nil:
		log.Error("pending switch not made", "err", err)
	case switched:
		log.Info("channel switched", "sequence", ch.Sequence, "took", time.Since(start).Round(time.Millisecond))
	}
}

// prepareChannelSwitch makes the patches to every bundle c's pending
// switch serves that the channel does not serve now, recording progress.
func (s *Server) prepareChannelSwitch(ctx context.Context, c api.Channel) (done, total int, err error) {
	p := c.Pending
	var targets []string
	if p.Bundle != c.Bundle {
		targets = append(targets, p.Bundle)
	}
	if p.Rollout != nil {
		targets = append(targets, p.Rollout.Bundle)
	}
	as, err := s.store.Snapshot(ctx, c.App, "")
	if err != nil {
		return 0, 0, err
	}
	var manifests []manifest.Digest
	for _, v := range targets {
		if b, ok := as.Bundles[v]; ok && !b.Manifest.IsZero() && !slices.Contains(manifests, b.Manifest) {
			manifests = append(manifests, b.Manifest)
		}
	}
	counts := make([]int, len(manifests))
	dones := make([]int, len(manifests))
	report := func() {
		done, total = 0, 0
		for i := range counts {
			done, total = done+dones[i], total+counts[i]
		}
		if err := s.store.SetSwitchProgress(context.WithoutCancel(ctx), c.App, c.Name, p.Since, done, total); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("pending switch progress", "app", c.App, "channel", c.Name, "err", err)
		}
	}
	for i, to := range manifests {
		err := s.prepareSwitch(ctx, c.App, c.Name, to, func(d, t int) {
			dones[i], counts[i] = d, t
			report()
		})
		if err != nil {
			return done, total, err
		}
	}
	report()
	return done, total, nil
}

// prepareSwitch makes, one pair after another, every patch devices of
// channel need to go to target from the bases that matter
// (switchBases), reporting progress (pairs done of total). A pair that
// fails is logged and skipped; it returns early only when ctx ends.
func (s *Server) prepareSwitch(ctx context.Context, app, channel string, target manifest.Digest, progress func(done, total int)) error {
	bases, err := s.switchBases(ctx, app, channel, target)
	if err != nil {
		return err
	}
	progress(0, len(bases))
	for i, from := range bases {
		if err := s.patcher.Ensure(ctx, from, target); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Error("patches before a switch", "app", app, "channel", channel, "from", from.String(), "to", target.String(), "err", err)
		}
		progress(i+1, len(bases))
	}
	return nil
}

// switchBases returns the manifests devices of channel most likely run,
// other than target: what the channel serves and rolls out now, its most
// installed bundles (per-bundle counters, sb/), the app's last
// --patch-bases bundles, and every registered builtin bundle of the app
// (newest native version first), each once.
func (s *Server) switchBases(ctx context.Context, app, channel string, target manifest.Digest) ([]manifest.Digest, error) {
	as, err := s.store.Snapshot(ctx, app, "")
	if err != nil {
		return nil, err
	}
	bundles, err := s.store.ListBundles(ctx, app) // ascending semver
	if err != nil {
		return nil, err
	}
	n := s.nativeCfg.PatchBases
	var versions []string
	for _, c := range as.Channels {
		if c.Name == channel {
			versions = append(versions, c.Bundle)
			if c.Rollout != nil {
				versions = append(versions, c.Rollout.Bundle)
			}
		}
	}
	versions = append(versions, s.patcher.MostInstalled(ctx, app, channel, n)...)
	for i, k := len(bundles)-1, 0; i >= 0 && k < n; i-- {
		if !bundles[i].Builtin {
			versions = append(versions, bundles[i].Version)
			k++
		}
	}
	versions = append(versions, builtinVersions(bundles)...)
	var out []manifest.Digest
	for _, v := range versions {
		b, ok := as.Bundles[v]
		if !ok || b.Manifest.IsZero() || b.Manifest == target || slices.Contains(out, b.Manifest) {
			continue
		}
		out = append(out, b.Manifest)
	}
	return out, nil
}

// builtinVersions lists the app's builtin bundles, newest native version
// first.
func builtinVersions(bundles []api.Bundle) []string {
	var bs []api.Bundle
	for _, b := range bundles {
		if b.Builtin {
			bs = append(bs, b)
		}
	}
	sort.SliceStable(bs, func(i, j int) bool {
		vi, ei := resolver.ParseNativeVersion(bs[i].NativeVersion)
		vj, ej := resolver.ParseNativeVersion(bs[j].NativeVersion)
		if ei != nil || ej != nil {
			return ei == nil && ej != nil
		}
		return vj.Less(vi)
	})
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Version
	}
	return out
}

// prepareFromBuiltin schedules the patches (and steps) from a bundle just
// registered as builtin to every bundle the app's channels serve, roll out
// or are about to switch to, on the patcher's workers.
func (s *Server) prepareFromBuiltin(app string, from manifest.Digest) {
	s.patcher.Background(func(ctx context.Context) {
		as, err := s.store.Snapshot(ctx, app, "")
		if err != nil {
			s.log.Warn("patches from a builtin bundle", "app", app, "err", err)
			return
		}
		var targets []manifest.Digest
		add := func(v string) {
			if b, ok := as.Bundles[v]; ok && !b.Manifest.IsZero() && b.Manifest != from && !slices.Contains(targets, b.Manifest) {
				targets = append(targets, b.Manifest)
			}
		}
		for _, c := range as.Channels {
			add(c.Bundle)
			if c.Rollout != nil {
				add(c.Rollout.Bundle)
			}
			if p := c.Pending; p != nil {
				add(p.Bundle)
				if p.Rollout != nil {
					add(p.Rollout.Bundle)
				}
			}
		}
		for _, to := range targets {
			s.patcher.Schedule(from, to)
		}
	})
}
