package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

// runStats prints an app's per-bundle device statistics.
func runStats(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("stats", env)
	app := cmd.requireApp()
	channel := cmd.String("channel", "", "only the devices and events of this channel")
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Stats(ctx, *app, *channel)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, st)
	}
	if len(st.Bundles) == 0 {
		fmt.Fprintln(env.stdout, "No devices or events yet.")
		return nil
	}
	tw := newTable(env, tabwriter.AlignRight, "BUNDLE\tDEVICES\tDOWNLOADS\tINSTALLS\tFAILURES\tROLLBACKS\t")
	for _, b := range st.Bundles {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", b.Version, b.Devices, b.Downloads, b.Installs, b.Failures, b.Rollbacks)
	}
	return tw.Flush()
}
