package main

import (
	"context"
	"fmt"
	"time"
)

func init() {
	deviceVerbs["list"] = runDeviceList
	deviceVerbs["info"] = runDeviceInfo
}

// runDeviceList searches an app's known devices by id prefix or custom id.
func runDeviceList(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("device list", env)
	app := cmd.requireApp()
	search := cmd.String("search", "", "a device id prefix or part of a custom id (case-insensitive)")
	limit := cmd.Int("limit", 50, "at most this many devices (up to 500), most recently seen first")
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	ds, err := c.SearchDevices(ctx, *app, *search, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, ds)
	}
	if len(ds) == 0 {
		fmt.Fprintln(env.stdout, "No devices match.")
		return nil
	}
	tw := newTable(env, 0, "DEVICE\tCUSTOM ID\tBUNDLE\tCHANNEL\tPLATFORM\tNATIVE\tLAST SEEN\t")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%q\t%s\t%s\t%s\t%s\t%s\t\n", d.ID, d.CustomID, d.Bundle, d.Channel, d.Platform, d.VersionBuild,
			d.LastSeen.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// runDeviceInfo prints what the server knows of one device: its last
// report, stored channels and recent events.
func runDeviceInfo(ctx context.Context, env *cliEnv, args []string) error {
	da, err := parseDeviceArgs(env, "device info", args)
	if err != nil {
		return err
	}
	defer da.c.Close()
	dd, err := da.c.Device(ctx, da.app, da.device)
	if err != nil {
		return err
	}
	if da.asJSON {
		return printJSON(env, dd)
	}
	d := dd.Device
	out := env.stdout
	fmt.Fprintf(out, "Device %s of %s\n", d.ID, d.App)
	for _, f := range [][2]string{
		{"custom id", fmt.Sprintf("%q", d.CustomID)}, {"bundle", d.Bundle}, {"channel", d.Channel},
		{"platform", d.Platform + " " + d.VersionOS}, {"native version", d.VersionBuild}, {"plugin", d.PluginVersion},
		{"override", dd.Channels.Override}, {"self-assigned", dd.Channels.SelfAssigned},
		{"first seen", d.FirstSeen.UTC().Format(time.RFC3339)}, {"last seen", d.LastSeen.UTC().Format(time.RFC3339)},
	} {
		fmt.Fprintf(out, "  %-15s %s\n", f[0]+":", f[1])
	}
	if len(dd.Events) == 0 {
		return nil
	}
	fmt.Fprintln(out, "Recent events (newest first):")
	tw := newTable(env, 0, "AT\tACTION\tVERSION\tCHANNEL\t")
	for _, e := range dd.Events {
		fmt.Fprintf(tw, "%s\t%s\t%q\t%s\t\n", e.At.UTC().Format(time.RFC3339), e.Action, e.Version, e.Channel)
	}
	return tw.Flush()
}
