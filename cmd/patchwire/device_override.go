package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
)

// deviceVerbs are the verbs of `patchwire device`. Other files add theirs
// to this map (in an init function), so the group grows without editing
// runDevice.
var deviceVerbs = map[string]func(context.Context, *cliEnv, []string) error{
	"override": runDeviceOverride,
	"show":     runDeviceShow,
}

func runDevice(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "device", args, deviceVerbs)
}

// runDeviceOverride pins a device to a channel, or clears what the server
// stores for it: the override and an old plugin's self-assignment.
func runDeviceOverride(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("device override", env)
	app := cmd.String("app", "", "app id (required)")
	device := cmd.String("device", "", "device id (required; compared case-insensitively)")
	channel := cmd.String("channel", "", "channel to pin the device to")
	clear := cmd.Bool("clear", false, "remove the device's override and its stored self-assigned channel instead")
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
		dc, err := c.ClearDeviceChannels(ctx, *app, *device)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, clearedMessage(dc))
		return nil
	}
	o, err := c.SetOverride(ctx, *app, *device, *channel)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Device %s of %s is pinned to channel %s\n", o.Device, o.App, o.Channel)
	return nil
}

// clearedMessage says what `device override --clear` removed.
func clearedMessage(dc api.DeviceChannels) string {
	var removed []string
	if dc.Override != "" {
		removed = append(removed, "the override (channel "+dc.Override+")")
	}
	if dc.SelfAssigned != "" {
		removed = append(removed, "the self-assigned channel "+dc.SelfAssigned+" (stored for an old plugin)")
	}
	if len(removed) == 0 {
		return fmt.Sprintf("Device %s of %s had no override and no self-assigned channel; nothing changed", dc.Device, dc.App)
	}
	return fmt.Sprintf("Device %s of %s: removed %s; no channel is stored for it now (its defaultChannel, else the public channel, decides)",
		dc.Device, dc.App, strings.Join(removed, " and "))
}

// runDeviceShow prints the channels the server stores for a device: the
// administrator's override and, separately, an old plugin's self-assigned
// channel.
func runDeviceShow(ctx context.Context, env *cliEnv, args []string) error {
	da, err := parseDeviceArgs(env, "device show", args)
	if err != nil {
		return err
	}
	defer da.c.Close()
	dc, err := da.c.DeviceChannels(ctx, da.app, da.device)
	if err != nil {
		return err
	}
	if da.asJSON {
		return printJSON(env, dc)
	}
	orNone := func(s, what string) string {
		if s == "" {
			return "none"
		}
		return s + " (" + what + ")"
	}
	fmt.Fprintf(env.stdout, "Device %s of %s\n", dc.Device, da.app)
	fmt.Fprintf(env.stdout, "  override:       %s\n", orNone(dc.Override, "pinned by an administrator"))
	fmt.Fprintf(env.stdout, "  self-assigned:  %s\n", orNone(dc.SelfAssigned, "chosen by an old plugin with setChannel"))
	return nil
}

// deviceArgs are the flags of the device verbs that look at one device.
type deviceArgs struct {
	app, device string
	asJSON      bool
	c           *client.Client
}

// parseDeviceArgs parses --app, --device and --json for verb and connects.
func parseDeviceArgs(env *cliEnv, verb string, args []string) (deviceArgs, error) {
	cmd := newAPICommand(verb, env)
	app := cmd.requireApp()
	device := cmd.String("device", "", "device id (required; compared case-insensitively)")
	asJSON := cmd.Bool("json", false, "print JSON")
	if _, err := cmd.parse(args); err != nil {
		return deviceArgs{}, err
	}
	if *device == "" {
		return deviceArgs{}, usageError(verb + " needs --device ID")
	}
	c, err := cmd.client(env)
	if err != nil {
		return deviceArgs{}, err
	}
	return deviceArgs{app: *app, device: *device, asJSON: *asJSON, c: c}, nil
}
