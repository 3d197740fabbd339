package patcher

import (
	"context"
	"sort"
	"time"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store"
)

// Publishing.

// OnPublish is the patcher's store subscription: a committed bundle gets
// patches to it, and a channel that serves something new gets patches to
// what it serves, in the background (it does not block the writer).
func (n *Patcher) OnPublish(ev store.PublishEvent) {
	switch ev.Kind {
	case store.BundleCommitted:
		n.precompute(ev.App, ev.Version)
	case store.ChannelServes:
		n.precompute(ev.App)
	}
}

// precompute schedules, in the background, patches from the bundles
// devices of app most likely run to every bundle its channels serve (and
// to extra, a version just committed): per channel, its most installed
// bundles, and the app's last bases bundles.
func (n *Patcher) precompute(app string, extra ...string) {
	n.Background(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := n.schedulePublished(ctx, app, extra); err != nil && ctx.Err() == nil {
			n.log.Warn("scheduling patches", "app", app, "err", err)
		}
	})
}

// schedulePublished queues, for every target (what a channel serves or
// rolls out, and extra), jobs from up to 2×bases bases: the channel's most
// installed bundles, then the app's newest ones. Each job's priority is how
// many devices run its base: on the target's channel, or on any channel
// for an extra target, so the patches most devices are about to ask for
// are made first.
func (n *Patcher) schedulePublished(ctx context.Context, app string, extra []string) error {
	as, err := n.st.Snapshot(ctx, app, "")
	if err != nil || !as.AppExists {
		return err
	}
	bundles, err := n.st.ListBundles(ctx, app) // ascending semver
	if err != nil {
		return err
	}
	manifestOf := func(v string) (manifest.Digest, bool) {
		b, ok := as.Bundles[v]
		return b.Manifest, ok && !b.Manifest.IsZero()
	}
	// Targets: what channels serve (and roll out), plus extra.
	type target struct{ version, channel string }
	var targets []target
	onChannel := map[string]map[string]int64{} // channel → version → devices
	anyChannel := map[string]int64{}           // version → devices
	for _, c := range as.Channels {
		targets = append(targets, target{c.Bundle, c.Name})
		if c.Rollout != nil {
			targets = append(targets, target{c.Rollout.Bundle, c.Name})
		}
		if onChannel[c.Name] == nil {
			onChannel[c.Name] = n.devicesPerBundle(ctx, app, c.Name)
			for v, d := range onChannel[c.Name] {
				anyChannel[v] += d
			}
		}
	}
	for _, v := range extra {
		targets = append(targets, target{v, ""})
	}
	var newest []string
	for i := len(bundles) - 1; i >= 0 && len(newest) < n.bases+1; i-- {
		newest = append(newest, bundles[i].Version)
	}
	for _, t := range targets {
		to, ok := manifestOf(t.version)
		if !ok {
			continue
		}
		devices := anyChannel
		if t.channel != "" {
			devices = onChannel[t.channel]
		}
		from := append(mostInstalled(devices, n.bases), newest...)
		scheduled := 0
		for _, v := range from {
			f, ok := manifestOf(v)
			if !ok || f == to || scheduled >= 2*n.bases {
				continue
			}
			n.ScheduleWith(f, to, devices[v])
			scheduled++
		}
	}
	return nil
}

// devicesPerBundle returns how many devices of app on channel run each
// bundle (the store's per-bundle counters); none when they cannot be read.
func (n *Patcher) devicesPerBundle(ctx context.Context, app, channel string) map[string]int64 {
	stats, err := n.st.BundleStats(ctx, app, channel)
	if err != nil {
		n.log.Warn("bundle stats", "app", app, "channel", channel, "err", err)
		return nil
	}
	out := make(map[string]int64, len(stats))
	for _, s := range stats {
		if s.Devices > 0 {
			out[s.Version] = s.Devices
		}
	}
	return out
}

// MostInstalled returns up to k bundles of app with the most devices on
// channel, most first: the bases a switch of the channel prepares first.
func (n *Patcher) MostInstalled(ctx context.Context, app, channel string, k int) []string {
	return mostInstalled(n.devicesPerBundle(ctx, app, channel), k)
}

// mostInstalled returns up to k versions of devices with the most devices,
// most first (ties by version, so the order is stable).
func mostInstalled(devices map[string]int64, k int) []string {
	out := make([]string, 0, len(devices))
	for v := range devices {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if devices[out[i]] != devices[out[j]] {
			return devices[out[i]] > devices[out[j]]
		}
		return out[i] < out[j]
	})
	return out[:min(k, len(out))]
}
