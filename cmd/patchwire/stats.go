package main

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
)

// runStats prints an app's per-bundle device statistics.
func runStats(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("stats", env)
	app := cmd.requireApp()
	channel := cmd.String("channel", "", "only the devices and events of this channel")
	asJSON := cmd.Bool("json", false, "print JSON")
	series := cmd.Bool("series", false, "print counters over time (per hour or day) instead of totals")
	bucket := cmd.String("bucket", api.BucketHour, "with --series: hour or day")
	since := cmd.Duration("since", 48*time.Hour, "with --series: how far back")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	if *series {
		now := time.Now()
		ss, err := c.StatsSeries(ctx, *app, client.SeriesQuery{Bucket: *bucket, Channel: *channel,
			From: now.Add(-*since).Unix(), To: now.Unix()})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env, ss)
		}
		return printSeries(env, ss)
	}
	st, err := c.Stats(ctx, *app, *channel)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, st)
	}
	for _, t := range st.GuardTrips {
		fmt.Fprintf(env.stderr, "Channel %s: %s\n", t.Channel, tripLine(t))
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

// printSeries prints one row per bucket and version that has devices or
// counts, oldest bucket first.
func printSeries(env *cliEnv, ss api.StatsSeries) error {
	layout := "2006-01-02 15:04"
	if ss.Bucket == api.BucketDay {
		layout = "2006-01-02"
	}
	tw := newTable(env, tabwriter.AlignRight, "BUCKET (UTC)\tBUNDLE\tDEVICES\tCHECKS\tDOWNLOADS\tINSTALLS\tFAILURES\tROLLBACKS\tBYTES SENT\tFULL ZIPS\t")
	rows := 0
	for i, at := range ss.Times {
		for _, sr := range ss.Series {
			vals := []int64{sr.Devices[i], sr.Checks[i], sr.Downloads[i], sr.Installs[i], sr.Failures[i], sr.Rollbacks[i],
				sr.BytesServed[i], sr.BytesFull[i]}
			if !slices.ContainsFunc(vals, func(v int64) bool { return v != 0 }) {
				continue
			}
			rows++
			fmt.Fprintf(tw, "%s\t%s\t", time.Unix(at, 0).UTC().Format(layout), sr.Version)
			for _, v := range vals {
				fmt.Fprintf(tw, "%d\t", v)
			}
			fmt.Fprintln(tw)
		}
	}
	if rows == 0 {
		fmt.Fprintln(env.stdout, "No devices or events in that time.")
		return nil
	}
	return tw.Flush()
}
