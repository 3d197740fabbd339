package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

// runStats prints an app's per-bundle device statistics.
func runStats(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("stats", env.stderr)
	conn := addConnFlags(fs)
	app := fs.String("app", "", "app id (required)")
	channel := fs.String("channel", "", "only the devices and events of this channel")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 0, "no arguments"); err != nil {
		return err
	}
	if *app == "" {
		return usageError("stats needs --app APP_ID")
	}
	c, err := conn.client(env)
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
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "BUNDLE\tDEVICES\tDOWNLOADS\tINSTALLS\tFAILURES\tROLLBACKS\t")
	for _, b := range st.Bundles {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", b.Version, b.Devices, b.Downloads, b.Installs, b.Failures, b.Rollbacks)
	}
	return tw.Flush()
}
