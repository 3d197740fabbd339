package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/store"
)

func runChannel(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "channel", args, map[string]func(context.Context, *cliEnv, []string) error{
		"create":   runChannelCreate,
		"update":   runChannelUpdate,
		"set":      runChannelSet,
		"list":     runChannelList,
		"show":     runChannelShow,
		"rollback": runChannelRollback,
		"rollout":  runChannelRollout,
		"pause":    runChannelState("pause", api.ChannelSettings{Paused: ptrTo(true)}),
		"resume":   runChannelState("resume", api.ChannelSettings{Paused: ptrTo(false)}),
		"disable":  runChannelState("disable", api.ChannelSettings{Disabled: ptrTo(true)}),
		"enable":   runChannelState("enable", api.ChannelSettings{Disabled: ptrTo(false)}),
		"history":  runChannelHistory,
		"delete":   runChannelDelete,
	})
}

// settingsFlags are the channel settings create and update share. Only the
// flags given on the command line are sent (fs.Visit), so update changes
// nothing else and create leaves the rest at the server's defaults.
type settingsFlags struct {
	public, selfSet, noEmulator, noDevice, noDev, noProd, underNative bool
	platforms, policy                                                 string
	guard, guardRate, guardAction                                     string
	guardMin                                                          int64
}

func addSettingsFlags(fs *flag.FlagSet) *settingsFlags {
	f := &settingsFlags{}
	fs.BoolVar(&f.public, "public", false, "serve devices that name no channel (at most one public channel per platform)")
	fs.StringVar(&f.platforms, "platforms", "ios,android,electron", `platforms the channel serves, comma-separated ("" for none)`)
	fs.StringVar(&f.policy, "policy", "major", "auto-update policy: none, major, minor, patch or metadata")
	fs.BoolVar(&f.selfSet, "self-set", false, "let devices assign themselves to the channel")
	fs.BoolVar(&f.noEmulator, "no-emulator", false, "refuse emulators")
	fs.BoolVar(&f.noDevice, "no-device", false, "refuse real devices")
	fs.BoolVar(&f.noDev, "no-dev", false, "refuse development builds")
	fs.BoolVar(&f.noProd, "no-prod", false, "refuse production builds")
	fs.BoolVar(&f.underNative, "allow-under-native", false, "allow bundles older than the device's native version")
	fs.StringVar(&f.guardRate, "guard-failure-rate", "", "release guard: act when the failure share of the new bundle passes this percentage (e.g. 5%; its Wilson lower bound, z=1.96)")
	fs.Int64Var(&f.guardMin, "guard-min-installs", api.DefaultGuardMinInstalls, "release guard: judge only after this many attempts (installs + failures)")
	fs.StringVar(&f.guardAction, "guard-action", api.DefaultGuardAction, "release guard: what a trip does: pause, rollback or notify")
	fs.StringVar(&f.guard, "guard", "", `"off" removes the release guard`)
	return f
}

// guardSettings adds to st the release-guard flag fl (one of the four).
func (f *settingsFlags) guardSettings(st *api.ChannelSettings, fl string) error {
	if st.Guard == nil {
		st.Guard = &api.GuardSettings{}
	}
	g := st.Guard
	switch fl {
	case "guard":
		if f.guard != "off" {
			return usageError(fmt.Sprintf(`--guard %q: the only value is "off" (set --guard-failure-rate to turn it on)`, f.guard))
		}
		g.Off = true
	case "guard-failure-rate":
		bp, err := parsePercentFlag("--guard-failure-rate", f.guardRate)
		if err != nil {
			return err
		}
		if bp == 0 {
			return usageError(fmt.Sprintf("--guard-failure-rate %q: must be more than 0%%", f.guardRate))
		}
		g.FailureRateBP = &bp
	case "guard-min-installs":
		if f.guardMin < 0 {
			return usageError(fmt.Sprintf("--guard-min-installs %d: must be 0 or more", f.guardMin))
		}
		g.MinInstalls = ptrTo(f.guardMin)
	case "guard-action":
		switch f.guardAction {
		case api.GuardPause, api.GuardRollback, api.GuardNotify:
		default:
			return usageError(fmt.Sprintf("--guard-action %q: want pause, rollback or notify", f.guardAction))
		}
		g.Action = ptrTo(f.guardAction)
	}
	if g.Off && (g.FailureRateBP != nil || g.MinInstalls != nil || g.Action != nil) {
		return usageError("--guard off excludes the other --guard-… flags")
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }

// settings returns the settings of the flags given on the command line.
func (f *settingsFlags) settings(fs *flag.FlagSet) (api.ChannelSettings, int, error) {
	var st api.ChannelSettings
	n := 0
	var err error
	ptr := func(b bool) *bool { return &b }
	fs.Visit(func(fl *flag.Flag) {
		n++
		switch fl.Name {
		case "public":
			st.Public = ptr(f.public)
		case "self-set":
			st.AllowSelfAssign = ptr(f.selfSet)
		case "no-emulator":
			st.AllowEmulator = ptr(!f.noEmulator)
		case "no-device":
			st.AllowDevice = ptr(!f.noDevice)
		case "no-dev":
			st.AllowDev = ptr(!f.noDev)
		case "no-prod":
			st.AllowProd = ptr(!f.noProd)
		case "allow-under-native":
			st.AllowUnderNative = ptr(f.underNative)
		case "policy":
			p := f.policy
			st.Policy = &p
		case "guard", "guard-failure-rate", "guard-min-installs", "guard-action":
			if gerr := f.guardSettings(&st, fl.Name); gerr != nil && err == nil {
				err = gerr
			}
		case "platforms":
			ios, android, electron := false, false, false
			for _, p := range strings.Split(f.platforms, ",") {
				switch strings.ToLower(strings.TrimSpace(p)) {
				case "":
				case "ios":
					ios = true
				case "android":
					android = true
				case "electron":
					electron = true
				default:
					err = usageError(fmt.Sprintf("--platforms: unknown platform %q (want ios, android, electron)", p))
				}
			}
			st.IOS, st.Android, st.Electron = ptr(ios), ptr(android), ptr(electron)
		default:
			n--
		}
	})
	return st, n, err
}

// channelName is the positional argument of the channel commands but list.
const channelName = "NAME (the channel)"

func runChannelCreate(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("channel create", env)
	app := cmd.requireApp()
	bundle := cmd.String("bundle", "", `bundle to serve: a version or "builtin" (default: none yet)`)
	sf := addSettingsFlags(cmd.FlagSet)
	sw := addSwitchFlags(cmd.FlagSet)
	asJSON := cmd.Bool("json", false, "print the channel as JSON")
	rest, err := cmd.parse(args, channelName)
	if err != nil {
		return err
	}
	st, _, err := sf.settings(cmd.FlagSet)
	if err != nil {
		return err
	}
	if *bundle != "" {
		st.Bundle = bundle
	}
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.CreateChannelWith(ctx, *app, api.CreateChannelRequest{Name: rest[0], ChannelSettings: st}, sw.options())
	if err != nil {
		return err
	}
	if ch, _, err = sw.await(ctx, env, c, ch); err != nil {
		return err
	}
	return printChannel(env, *asJSON, "Created", ch)
}

func runChannelUpdate(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("channel update", env)
	app := cmd.requireApp()
	sf := addSettingsFlags(cmd.FlagSet)
	asJSON := cmd.Bool("json", false, "print the channel as JSON")
	rest, err := cmd.parse(args, channelName)
	if err != nil {
		return err
	}
	st, n, err := sf.settings(cmd.FlagSet)
	if err != nil {
		return err
	}
	if n == 0 {
		return usageError("channel update: nothing to change; give the settings to change (e.g. --public, --policy minor, --no-emulator=false, --guard-failure-rate 5%)")
	}
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.UpdateChannel(ctx, *app, rest[0], st)
	if err != nil {
		return err
	}
	return printChannel(env, *asJSON, "Updated", ch)
}

func runChannelSet(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("channel set", env)
	app := cmd.requireApp()
	bundle := cmd.String("bundle", "", `bundle to serve: a version or "builtin" (required)`)
	sw := addSwitchFlags(cmd.FlagSet)
	rest, err := cmd.parse(args, channelName)
	if err != nil {
		return err
	}
	if *bundle == "" {
		return usageError(`channel set needs --bundle VERSION (or --bundle builtin)`)
	}
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.SetChannelBundleWith(ctx, *app, rest[0], *bundle, sw.options())
	if err != nil {
		return err
	}
	ch, served, err := sw.await(ctx, env, c, ch)
	if err != nil || !served {
		return err
	}
	fmt.Fprintf(env.stdout, "Channel %s of %s now serves %s (sequence %d)\n", ch.Name, ch.App, bundleLabel(ch.Bundle), ch.Sequence)
	return nil
}

func runChannelList(ctx context.Context, env *cliEnv, args []string) error {
	return listOfApp(ctx, env, args, "channel list", (*client.Client).ListChannels, "NAME\tBUNDLE\tPUBLIC\tPLATFORMS\tPOLICY\tROLLOUT\tSTATE\tGUARD\tSEQUENCE", func(ch api.Channel) string {
		return fmt.Sprintf("%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\t%d", ch.Name, bundleLabel(ch.Bundle), ch.Public,
			platformList(ch), ch.Policy, rolloutLabel(ch.Rollout), stateWord(ch), guardLabel(ch), ch.Sequence)
	})
}

func runChannelShow(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("channel show", env)
	app := cmd.requireApp()
	c, rest, err := cmd.connect(env, args, channelName)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.GetChannel(ctx, *app, rest[0])
	if err != nil {
		return err
	}
	if ch.Pending != nil {
		fmt.Fprintf(env.stderr, "Channel %s: %s; devices get %s until then\n", ch.Name, pendingLine(ch), bundleLabel(ch.Bundle))
	}
	if ch.Disabled || store.Paused(ch) {
		fmt.Fprintf(env.stderr, "Channel %s: %s\n", ch.Name, stateLine(ch))
	}
	for _, t := range ch.GuardTrips {
		fmt.Fprintf(env.stderr, "Channel %s: %s\n", ch.Name, tripLine(t))
	}
	return printJSON(env, ch)
}

func runChannelRollback(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("channel rollback", env)
	app := cmd.requireApp()
	c, rest, err := cmd.connect(env, args, channelName)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.RollbackChannel(ctx, *app, rest[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Rolled channel %s of %s back to %s (sequence %d)\n", ch.Name, ch.App, bundleLabel(ch.Bundle), ch.Sequence)
	return nil
}

func runChannelRollout(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("channel rollout", env)
	app := cmd.requireApp()
	bundle := cmd.String("bundle", "", "version to roll out (with --percent)")
	percent := cmd.String("percent", "", "share of devices, 0 to 100, up to two decimals (12.5 = 1250 basis points)")
	names := []string{api.RolloutPause, api.RolloutResume, api.RolloutPromote, api.RolloutCancel}
	actions := make([]*bool, len(names))
	for i, a := range names {
		actions[i] = cmd.Bool(a, false, a+" the channel's rollout")
	}
	sw := addSwitchFlags(cmd.FlagSet)
	rest, err := cmd.parse(args, channelName)
	if err != nil {
		return err
	}
	var req api.RolloutRequest
	for i, on := range actions {
		if a := names[i]; *on {
			if req.Action != "" {
				return usageError(fmt.Sprintf("channel rollout: --%s and --%s exclude each other", req.Action, a))
			}
			req.Action = a
		}
	}
	switch {
	case req.Action != "" && (*bundle != "" || *percent != ""):
		return usageError(fmt.Sprintf("channel rollout --%s takes no --bundle or --percent", req.Action))
	case req.Action == "":
		if *bundle == "" || *percent == "" {
			return usageError("channel rollout needs --bundle VERSION --percent P, or one of --pause, --resume, --promote, --cancel")
		}
		bp, err := parsePercent(*percent)
		if err != nil {
			return err
		}
		req = api.RolloutRequest{Action: api.RolloutStart, Bundle: *bundle, BasisPoints: bp}
	}
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.RolloutWith(ctx, *app, rest[0], req, sw.options())
	if err != nil {
		return err
	}
	ch, served, err := sw.await(ctx, env, c, ch)
	if err != nil || !served {
		return err
	}
	switch req.Action {
	case api.RolloutPromote:
		fmt.Fprintf(env.stdout, "Promoted: channel %s of %s now serves %s to every device\n", ch.Name, ch.App, bundleLabel(ch.Bundle))
	case api.RolloutCancel:
		fmt.Fprintf(env.stdout, "Cancelled the rollout: channel %s of %s serves %s to every device\n", ch.Name, ch.App, bundleLabel(ch.Bundle))
	default:
		fmt.Fprintf(env.stdout, "Channel %s of %s serves %s, %s\n", ch.Name, ch.App, bundleLabel(ch.Bundle), rolloutLabel(ch.Rollout))
	}
	return nil
}

// parsePercent turns "12.5" into 1250 basis points.
func parsePercent(s string) (int, error) { return parsePercentFlag("--percent", s) }

// parsePercentFlag is parsePercent for flag name: "12.5" or "12.5%".
func parsePercentFlag(name, s string) (int, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
		return 0, usageError(fmt.Sprintf("%s %q: want a number from 0 to 100", name, s))
	}
	bp := math.Round(f * 100)
	if math.Abs(bp-f*100) > 1e-6 {
		return 0, usageError(fmt.Sprintf("%s %q: at most two decimals (basis points)", name, s))
	}
	return int(bp), nil
}

// runChannelState returns the command that pauses, resumes, disables or
// enables a channel: a channel settings update with st.
func runChannelState(verb string, st api.ChannelSettings) func(context.Context, *cliEnv, []string) error {
	return func(ctx context.Context, env *cliEnv, args []string) error {
		cmd := newAPICommand("channel "+verb, env)
		app := cmd.requireApp()
		c, rest, err := cmd.connect(env, args, channelName)
		if err != nil {
			return err
		}
		defer c.Close()
		ch, err := c.UpdateChannel(ctx, *app, rest[0], st)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Channel %s of %s: %s\n", ch.Name, ch.App, stateLine(ch))
		return nil
	}
}

// stateWord is the channel list's STATE: disabled, paused (the channel or
// its rollout) or serving.
func stateWord(ch api.Channel) string {
	switch {
	case ch.Disabled:
		return "disabled"
	case store.Paused(ch):
		return "paused"
	}
	return "serving"
}

// guardLabel is the channel list's GUARD: "-", or the guard as
// "pause >5% /50", with "tripped" when it tripped on what it watches now.
func guardLabel(ch api.Channel) string {
	g := ch.Guard
	if g == nil {
		return "-"
	}
	s := fmt.Sprintf("%s >%s%% /%d", g.Action, store.FormatBasisPoints(g.FailureRateBP), g.MinInstalls)
	if b := store.GuardTarget(ch); b != "" && store.TrippedOn(ch, b) {
		s += " tripped"
	}
	return s
}

// stateLine says what a channel answers devices: disabled, paused (itself
// or its rollout), or serving.
func stateLine(ch api.Channel) string {
	switch {
	case ch.Disabled:
		return "disabled: every device is answered no update and keeps what it runs"
	case ch.Paused:
		return "paused: devices on " + bundleLabel(ch.Bundle) + " keep it, no other device gets it"
	case ch.Rollout != nil && ch.Rollout.Paused:
		return "rollout of " + ch.Rollout.Bundle + " paused: devices on it keep it, nobody joins; the others get " + bundleLabel(ch.Bundle)
	case ch.Rollout != nil:
		return "serves " + bundleLabel(ch.Bundle) + ", " + rolloutLabel(ch.Rollout)
	}
	return "serves " + bundleLabel(ch.Bundle)
}

func runChannelHistory(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("channel history", env)
	app := cmd.requireApp()
	asJSON := cmd.Bool("json", false, "print JSON")
	c, rest, err := cmd.connect(env, args, channelName)
	if err != nil {
		return err
	}
	defer c.Close()
	hist, err := c.ChannelHistory(ctx, *app, rest[0])
	if err != nil {
		return err
	}
	return printList(env, *asJSON, hist, "AT\tACTION\tBUNDLE\tPREVIOUS\tDETAIL", func(ev api.ChannelEvent) string {
		prev := ev.Previous
		if prev == "" {
			prev = "-"
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", ev.At.Format("2006-01-02 15:04:05"), ev.Action, bundleLabel(ev.Bundle), prev, ev.Detail)
	})
}

func runChannelDelete(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("channel delete", env)
	app := cmd.requireApp()
	c, rest, err := cmd.connect(env, args, channelName)
	if err != nil {
		return err
	}
	defer c.Close()
	name := rest[0]
	if err := c.DeleteChannel(ctx, *app, name); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Deleted channel %s of %s (and the device overrides pointing at it)\n", name, *app)
	return nil
}

// ensureChannelServes makes channel name of app serve version: it sets the
// channel's bundle, or creates the channel with the defaults when it does
// not exist, public when the app has no public channel yet. With o the
// switch may be pending (the caller awaits it).
func ensureChannelServes(ctx context.Context, c *client.Client, app, name, version string, o client.SwitchOptions) (ch api.Channel, created bool, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		ch, err = c.SetChannelBundleWith(ctx, app, name, version, o)
		if !isAPICode(err, api.CodeChannelNotFound) {
			return ch, false, err
		}
		list, lerr := c.ListChannels(ctx, app)
		if lerr != nil {
			return ch, false, lerr
		}
		public := true
		for _, o := range list {
			if o.Public {
				public = false
			}
		}
		ch, err = c.CreateChannelWith(ctx, app, api.CreateChannelRequest{Name: name,
			ChannelSettings: api.ChannelSettings{Bundle: &version, Public: &public}}, o)
		if !isAPICode(err, api.CodeChannelExists) && !isAPICode(err, api.CodePublicConflict) {
			return ch, err == nil, err
		}
		// Someone created it (or a public channel) meanwhile: try again.
	}
	return ch, false, err
}

func isAPICode(err error, code string) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.Code == code
}

// printChannel prints ch as JSON when asJSON, or else as "DONE channel
// NAME of APP: " and its settings (describeChannel).
func printChannel(env *cliEnv, asJSON bool, done string, ch api.Channel) error {
	if asJSON {
		return printJSON(env, ch)
	}
	fmt.Fprintf(env.stdout, "%s channel %s of %s: %s\n", done, ch.Name, ch.App, describeChannel(ch))
	return nil
}

// describeChannel is a one-line summary of a channel's settings.
func describeChannel(ch api.Channel) string {
	var parts []string
	vis := "private"
	if ch.Public {
		vis = "public"
	}
	parts = append(parts, vis, "bundle "+bundleLabel(ch.Bundle), "platforms "+platformList(ch), "policy "+ch.Policy)
	var refused []string
	for _, r := range []struct {
		allowed bool
		what    string
	}{{ch.AllowEmulator, "emulators"}, {ch.AllowDevice, "real devices"}, {ch.AllowDev, "dev builds"}, {ch.AllowProd, "prod builds"}} {
		if !r.allowed {
			refused = append(refused, r.what)
		}
	}
	if len(refused) > 0 {
		parts = append(parts, "refuses "+strings.Join(refused, ", "))
	}
	if ch.AllowSelfAssign {
		parts = append(parts, "devices may self-assign")
	}
	if ch.AllowUnderNative {
		parts = append(parts, "allows bundles under the native version")
	}
	if ch.Rollout != nil {
		parts = append(parts, rolloutLabel(ch.Rollout))
	}
	if ch.Paused {
		parts = append(parts, "paused")
	}
	if ch.Disabled {
		parts = append(parts, "disabled")
	}
	if g := ch.Guard; g != nil {
		parts = append(parts, fmt.Sprintf("guard: %s when more than %s%% fail over at least %d attempts",
			g.Action, store.FormatBasisPoints(g.FailureRateBP), g.MinInstalls))
	}
	return strings.Join(parts, ", ")
}

// tripLine describes a guard trip: "guard tripped on 1.1.0 at ...: ...".
func tripLine(t api.GuardTrip) string {
	return fmt.Sprintf("guard tripped on %s at %s (%s): %s", t.Bundle, t.At.Format("2006-01-02 15:04:05"), t.Action, t.Detail)
}

func bundleLabel(b string) string {
	if b == "" {
		return "(none)"
	}
	return b
}

func platformList(ch api.Channel) string {
	var p []string
	for _, x := range []struct {
		on   bool
		name string
	}{{ch.IOS, "ios"}, {ch.Android, "android"}, {ch.Electron, "electron"}} {
		if x.on {
			p = append(p, x.name)
		}
	}
	if len(p) == 0 {
		return "none"
	}
	return strings.Join(p, ",")
}

func rolloutLabel(r *api.Rollout) string {
	if r == nil {
		return "-"
	}
	s := fmt.Sprintf("rolling out %s to %s%%", r.Bundle, store.FormatBasisPoints(r.BasisPoints))
	if r.Paused {
		s += " (paused)"
	}
	return s
}
