package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
)

// switchFlags are the flags of the commands that change what a channel
// serves (channel create --bundle, set, rollout, bundle upload --channel):
// by default they wait, showing progress, until the patches exist and the
// channel serves the change.
type switchFlags struct {
	fs        *flag.FlagSet
	noWait    bool
	patchWait time.Duration
}

func addSwitchFlags(fs *flag.FlagSet) *switchFlags {
	f := &switchFlags{fs: fs}
	fs.BoolVar(&f.noWait, "no-wait", false, "return at once; the server switches the channel once the patches exist (see channel show)")
	fs.DurationVar(&f.patchWait, "patch-wait", 0, "the most the server makes patches for before it switches anyway (default: the server's --patch-wait, 10m; 0s: at once)")
	return f
}

// options are the server-side options: the CLI always asks for the answer
// at once and follows the pending switch itself (await), so it can show
// progress.
func (f *switchFlags) options() client.SwitchOptions {
	o := client.SwitchOptions{NoWait: true}
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "patch-wait" {
			d := f.patchWait
			o.PatchWait = &d
		}
	})
	return o
}

// await follows ch's pending switch, if any, until devices are served,
// printing progress on stderr; with --no-wait it says the switch is
// pending and returns at once. It returns the channel and whether it
// serves the change now.
func (f *switchFlags) await(ctx context.Context, env *cliEnv, c *client.Client, ch api.Channel) (api.Channel, bool, error) {
	p := ch.Pending
	if p == nil {
		return ch, true, nil
	}
	if f.noWait {
		fmt.Fprintf(env.stdout, "Channel %s of %s: switch to %s pending until its patches exist (at the latest %s); `patchwire channel show %s --app %s` tells when devices are served\n",
			ch.Name, ch.App, bundleLabel(p.Bundle), p.Deadline.Local().Format(timeLayout), ch.Name, ch.App)
		return ch, false, nil
	}
	fmt.Fprintf(env.stderr, "Making patches to %s before devices are served (at the latest until %s)...\n", bundleLabel(p.Bundle), p.Deadline.Local().Format(timeLayout))
	out, err := c.WaitSwitch(ctx, ch, 0, func(p api.PendingSwitch) {
		if p.BasesTotal > 0 {
			fmt.Fprintf(env.stderr, "  patches from %d of %d bases ready\n", p.BasesDone, p.BasesTotal)
		}
	})
	return out, err == nil, err
}

// pendingLine describes a channel's pending switch for channel show/list.
func pendingLine(ch api.Channel) string {
	p := ch.Pending
	if p == nil {
		return "-"
	}
	s := fmt.Sprintf("switch to %s pending since %s", bundleLabel(p.Bundle), p.Since.Local().Format(timeLayout))
	if p.Rollout != nil {
		s = fmt.Sprintf("switch to %s, %s pending since %s", bundleLabel(p.Bundle), rolloutLabel(p.Rollout), p.Since.Local().Format(timeLayout))
	}
	if p.BasesTotal > 0 {
		s += fmt.Sprintf(", patches from %d of %d bases ready", p.BasesDone, p.BasesTotal)
	}
	return s
}
