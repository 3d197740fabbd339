package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/client/device"
)

// The reference device's verbs of `patchwire device` (package
// client/device does the work): a state directory plays one device.
func init() {
	deviceVerbs["seed"] = runDeviceSeed
	deviceVerbs["update"] = runDeviceUpdate
	deviceVerbs["start"] = runDeviceStart
	deviceVerbs["ready"] = runDeviceReady
	deviceVerbs["status"] = runDeviceStatus
}

// deviceFlags are the flags a device command that talks to the server takes.
type deviceFlags struct {
	state, server, app, channel, platform, native, ca, transport, statsURL, deviceID string
	keys, releaseKeys                                                                keyList
	insecure, noStats, verbose, asJSON                                               bool
	h3Timeout, timeout                                                               time.Duration
}

// keyList collects repeated or comma-separated --public-key flags.
type keyList []string

func (k *keyList) String() string { return strings.Join(*k, ",") }
func (k *keyList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*k = append(*k, s)
		}
	}
	return nil
}

func addDeviceFlags(fs *flag.FlagSet, server bool) *deviceFlags {
	f := &deviceFlags{}
	fs.StringVar(&f.state, "state", "", "state directory of the device (required; $PATCHWIRE_STATE)")
	fs.BoolVar(&f.asJSON, "json", false, "print JSON")
	if !server {
		return f
	}
	fs.StringVar(&f.server, "server", "", "server URL, https://host:port ($PATCHWIRE_SERVER)")
	fs.StringVar(&f.app, "app", "", "app id ($PATCHWIRE_APP)")
	fs.StringVar(&f.channel, "channel", "", "channel to ask for (default: the server picks)")
	fs.StringVar(&f.platform, "platform", "android", "ios, android or electron")
	fs.StringVar(&f.native, "native-version", "1.0.0", "version of the app store build")
	fs.Var(&f.keys, "public-key", "ed25519 public key check answers must be signed with, base64 (`patchwire key signing --public`); repeat or comma-separate ($PATCHWIRE_PUBLIC_KEY)")
	fs.Var(&f.releaseKeys, "release-public-key", "release key the app trusts (`patchwire key release show --public`): install only bundles whose release statement verifies with it; repeat or comma-separate ($PATCHWIRE_RELEASE_PUBLIC_KEY)")
	fs.StringVar(&f.ca, "ca", "", "PEM file of the server's CA or self-signed certificate ($PATCHWIRE_CA)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the server's certificate (development only)")
	fs.StringVar(&f.transport, "transport", "auto", "auto (HTTP/3, falling back to HTTPS over TCP), h3 or tcp")
	fs.DurationVar(&f.h3Timeout, "h3-timeout", 1500*time.Millisecond, "how long HTTP/3 may take to answer before the fallback to TCP")
	fs.StringVar(&f.statsURL, "stats-url", "", "Capgo-style stats endpoint (default SERVER/stats)")
	fs.BoolVar(&f.noStats, "no-stats", false, "send no stats events")
	fs.StringVar(&f.deviceID, "device-id", "", "device id to present (default: the one kept in the state directory)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up on the whole update after this long")
	fs.BoolVar(&f.verbose, "verbose", false, "log fallbacks, resumes and retries on stderr")
	return f
}

// parseDeviceFlags parses args (no positional arguments) and the
// environment, and checks --state.
func parseDeviceFlags(env *cliEnv, fs *flag.FlagSet, args []string, f *deviceFlags) error {
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(rest, 0, "no arguments"); err != nil {
		return err
	}
	if err := applyEnv(fs, env.getenv); err != nil {
		return err
	}
	if f.state == "" {
		return usageError("--state DIR is required")
	}
	return nil
}

// config builds the device configuration from the flags. needServer
// requires --server, --app and --public-key.
func (f *deviceFlags) config(env *cliEnv, needServer bool) (device.Config, error) {
	cfg := device.Config{
		Server: f.server, App: f.app, Channel: f.channel, Platform: f.platform, NativeVersion: f.native,
		DeviceID: f.deviceID, H3Timeout: f.h3Timeout, StatsURL: f.statsURL, NoStats: f.noStats,
	}
	if needServer {
		switch {
		case f.server == "":
			return cfg, usageError("--server URL is required")
		case f.app == "":
			return cfg, usageError("--app APP_ID is required")
		case len(f.keys) == 0:
			return cfg, usageError("--public-key KEY is required (`patchwire key signing --public` on the server prints it)")
		}
	}
	for _, k := range f.keys {
		pub, err := checksig.ParsePublicKey(k)
		if err != nil {
			return cfg, err
		}
		cfg.PublicKeys = append(cfg.PublicKeys, pub)
	}
	for _, k := range f.releaseKeys {
		pub, err := checksig.ParsePublicKey(k)
		if err != nil {
			return cfg, fmt.Errorf("--release-public-key: %w", err)
		}
		cfg.ReleaseKeys = append(cfg.ReleaseKeys, pub)
	}
	var err error
	if cfg.Transport, err = device.ParseTransportMode(f.transport); err != nil {
		return cfg, usageError(err.Error())
	}
	if cfg.TLS, err = client.TLSConfig(f.ca, f.insecure); err != nil {
		return cfg, err
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

// runDeviceSeed is `patchwire device seed --state DIR --from BUILD_DIR`.
func runDeviceSeed(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("device seed", env.stderr)
	f := addDeviceFlags(fs, false)
	from := fs.String("from", "", "build folder of the bundle shipped with the app (required)")
	force := fs.Bool("force", false, "replace the built-in bundle of a seeded state directory and run it again")
	if err := parseDeviceFlags(env, fs, args, f); err != nil {
		return err
	}
	if *from == "" {
		return usageError("--from BUILD_DIR is required")
	}
	b, err := device.Seed(ctx, f.state, *from, device.SeedOptions{Force: *force})
	if err != nil {
		return err
	}
	if f.asJSON {
		return printJSON(env, b)
	}
	fmt.Fprintf(env.stdout, "Seeded %s with the built-in bundle (manifest %s)\n", f.state, b.Manifest)
	return nil
}

// runDeviceUpdate is `patchwire device update`: a start check, then one
// signed check with the server and, if there is an update, its install.
func runDeviceUpdate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("device update", env.stderr)
	f := addDeviceFlags(fs, true)
	if err := parseDeviceFlags(env, fs, args, f); err != nil {
		return err
	}
	cfg, err := f.config(env, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	res, err := device.Update(ctx, f.state, cfg)
	if f.asJSON {
		if perr := printJSON(env, res); perr != nil {
			return perr
		}
		return err
	}
	if res.RolledBack != nil {
		fmt.Fprintf(env.stdout, "Rolled back %s: it never reported ready (reported as update_fail)\n", res.RolledBack.Version)
	}
	if err != nil {
		if errors.Is(err, device.ErrNotSeeded) {
			return fmt.Errorf("%w: run `patchwire device seed --state %s --from BUILD_DIR` first", err, f.state)
		}
		return fmt.Errorf("update failed, still running %s: %w", res.From.Version, err)
	}
	switch res.Outcome {
	case device.OutcomeNoUpdate:
		why := ""
		if res.NoUpdate != nil {
			why = ": " + res.NoUpdate.Code
		}
		fmt.Fprintf(env.stdout, "No update%s; running %s\n", why, res.From.Version)
	case device.OutcomeUpdated:
		fmt.Fprintf(env.stdout, "Updated %s -> %s (channel %s, sequence %d)\n", res.From.Version, res.To.Version, res.Channel, res.Sequence)
		if res.ReleaseKey != "" {
			fmt.Fprintf(env.stdout, "  release statement verified with release key %s\n", res.ReleaseKey)
		}
		fmt.Fprintf(env.stdout, "  downloaded %s over %s; %d files: %d reused, %d patched, %d fetched",
			humanBytes(res.DownloadedBytes), res.Protocol, res.Files, res.Reused, res.Patched, res.Fetched)
		if res.Fallbacks > 0 {
			fmt.Fprintf(env.stdout, ", %d fetched whole after a patch failed", res.Fallbacks)
		}
		if res.ResumedBytes > 0 {
			fmt.Fprintf(env.stdout, ", %s resumed", humanBytes(res.ResumedBytes))
		}
		fmt.Fprintln(env.stdout)
		if res.To.Version != device.BuiltinVersion {
			fmt.Fprintf(env.stdout, "  run it, then `patchwire device ready --state %s`; otherwise the next start rolls it back\n", f.state)
		}
	}
	return nil
}

// runDeviceStart is `patchwire device start`: an app launch. A bundle
// still waiting for ready is rolled back; prints the folder to run.
func runDeviceStart(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("device start", env.stderr)
	f := addDeviceFlags(fs, true)
	if err := parseDeviceFlags(env, fs, args, f); err != nil {
		return err
	}
	cfg, err := f.config(env, false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sr, err := device.Start(ctx, f.state, cfg)
	if err != nil {
		return err
	}
	if f.asJSON {
		return printJSON(env, sr)
	}
	if sr.RolledBack != nil {
		fmt.Fprintf(env.stdout, "Rolled back %s: it never reported ready (reported as update_fail)\n", sr.RolledBack.Version)
	}
	fmt.Fprintf(env.stdout, "Running %s from %s\n", sr.Current.Version, sr.Path)
	return nil
}

// runDeviceReady is `patchwire device ready`: the running bundle works.
func runDeviceReady(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlags("device ready", env.stderr)
	f := addDeviceFlags(fs, false)
	if err := parseDeviceFlags(env, fs, args, f); err != nil {
		return err
	}
	b, err := device.Ready(f.state)
	if err != nil {
		return err
	}
	if f.asJSON {
		return printJSON(env, b)
	}
	fmt.Fprintf(env.stdout, "Marked %s ready\n", b.Version)
	return nil
}

// runDeviceStatus is `patchwire device status`.
func runDeviceStatus(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlags("device status", env.stderr)
	f := addDeviceFlags(fs, false)
	if err := parseDeviceFlags(env, fs, args, f); err != nil {
		return err
	}
	s, err := device.ReadStatus(f.state)
	if err != nil {
		return err
	}
	if f.asJSON {
		return printJSON(env, s)
	}
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	pending := ""
	if s.Pending {
		pending = "  (pending: not marked ready yet)"
	}
	fmt.Fprintf(w, "device\t%s\n", s.DeviceID)
	if s.App != "" {
		fmt.Fprintf(w, "app\t%s\n", s.App)
	}
	fmt.Fprintf(w, "bundle\t%s%s\n", s.Current.Version, pending)
	fmt.Fprintf(w, "manifest\t%s\n", s.Current.Manifest)
	fmt.Fprintf(w, "path\t%s\n", s.Path)
	if s.Previous != nil {
		fmt.Fprintf(w, "previous\t%s\n", s.Previous.Version)
	}
	for _, fl := range s.Sequences {
		fmt.Fprintf(w, "sequence\t%d on %s/%s\n", fl.Sequence, fl.App, fl.Channel)
	}
	if lu := s.LastUpdate; lu != nil {
		line := fmt.Sprintf("%s %s, downloaded %s", lu.At.Local().Format(time.DateTime), lu.Outcome, humanBytes(lu.DownloadedBytes))
		if lu.To != nil {
			line += fmt.Sprintf(", %s -> %s", lu.From.Version, lu.To.Version)
		}
		if lu.Protocol != "" {
			line += " over " + lu.Protocol
		}
		if lu.Error != "" {
			line += ": " + lu.Error
		}
		fmt.Fprintf(w, "last update\t%s\n", line)
	}
	if s.QueuedStats > 0 {
		fmt.Fprintf(w, "stats queued\t%d\n", s.QueuedStats)
	}
	if rt := s.Release; rt != nil {
		fmt.Fprintf(w, "release keys\t%s\n", strings.Join(rt.Keys, ", "))
		if len(rt.ServerKeys) > 0 {
			fmt.Fprintf(w, "server keys added\t%s\n", strings.Join(rt.ServerKeys, ", "))
		}
		if rt.Rotations > 0 {
			fmt.Fprintf(w, "key rotations\t%d applied, last sequence %d\n", rt.Rotations, rt.Sequence)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(s.History) > 0 {
		fmt.Fprintln(env.stdout, "\nhistory:")
		w = tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		for _, e := range s.History {
			move := e.To
			switch {
			case e.From != "" && e.To != "":
				move = e.From + " -> " + e.To
			case e.From != "":
				move = e.From
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Kind, move, e.Detail)
		}
		return w.Flush()
	}
	return nil
}
