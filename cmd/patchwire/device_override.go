package main

import (
	"context"
	"fmt"
)

// deviceVerbs are the verbs of `patchwire device`. Other files add theirs
// to this map (in an init function), so the group grows without editing
// runDevice.
var deviceVerbs = map[string]func(context.Context, *cliEnv, []string) error{
	"override": runDeviceOverride,
}

func runDevice(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "device", args, deviceVerbs)
}

// runDeviceOverride pins a device to a channel, or clears the pin.
func runDeviceOverride(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("device override", env)
	app := cmd.String("app", "", "app id (required)")
	device := cmd.String("device", "", "device id (required; compared case-insensitively)")
	channel := cmd.String("channel", "", "channel to pin the device to")
	clear := cmd.Bool("clear", false, "remove the device's override instead")
	if _, err := cmd.parse(args); err != nil {
		return err
	}
	switch {
	case *app == "" || *device == "":
		return usageError("device override needs --app APP_ID and --device ID, then --channel NAME or --clear")
	case *clear == (*channel != ""):
		return usageError("device override needs exactly one of --channel NAME and --clear")
	}
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	if *clear {
		if err := c.ClearOverride(ctx, *app, *device); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Device %s of %s has no override now\n", *device, *app)
		return nil
	}
	o, err := c.SetOverride(ctx, *app, *device, *channel)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Device %s of %s is pinned to channel %s\n", o.Device, o.App, o.Channel)
	return nil
}
