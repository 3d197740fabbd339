package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/client/capgo"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

func runBundle(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "bundle", args, map[string]func(context.Context, *cliEnv, []string) error{
		"upload": runBundleUpload,
		"list":   runBundleList,
		"delete": runBundleDelete,
	})
}

func runBundleUpload(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("bundle upload", env)
	var (
		app, version string
		meta         api.BundleMeta
		channel      string
		noIndex      bool
		asJSON       bool
		builtin      bool
		native       string
		capgoKey     string
		release      releaseFlags
		capgoZip     bool
	)
	cmd.StringVar(&app, "app", "", "app id (required)")
	cmd.StringVar(&version, "version", "", "bundle version, semver (required; with --builtin default NATIVE-builtin)")
	cmd.StringVar(&meta.MinUpdateVersion, "min-update-version", "", "oldest version that may update to this one (policy metadata)")
	cmd.StringVar(&meta.Link, "link", "", "link shown with the bundle (release notes)")
	cmd.StringVar(&meta.Comment, "comment", "", "comment shown with the bundle")
	cmd.StringVar(&channel, "channel", "", "after the upload, make this channel serve the new version (created if missing, public when the app has none)")
	cmd.BoolVar(&noIndex, "no-index-check", false, "allow a bundle without index.html at its root")
	cmd.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	cmd.BoolVar(&builtin, "builtin", false, "register the bundle shipped inside the app-store build of --native-version (patches are made from it; no channel serves it)")
	cmd.StringVar(&native, "native-version", "", "with --builtin: the native app version that ships the bundle (what devices report as version_build)")
	release.add(cmd.FlagSet)
	cmd.StringVar(&capgoKey, "capgo-key", "", "encrypt the bundle for Capgo devices with this private key (`key capgo create`; e.g. .capgo_key_v2): the server stores only ciphertext; devices get it file by file (manifest), which plugins from 5.10.0, 6.25.0, 7.0.35 and any 8.x do")
	cmd.BoolVar(&capgoZip, "capgo-zip", false, "with --capgo-key: also upload the encrypted zip of the whole bundle, for plugins older than that (one more new object every version)")
	sw := addSwitchFlags(cmd.FlagSet)
	rest, err := cmd.parse(args, "PATH (a build folder or a .zip)")
	if err != nil {
		return err
	}
	if builtin {
		if version, err = builtinVersion(version, native); err != nil {
			return err
		}
		if channel != "" {
			return usageError("bundle upload --builtin takes no --channel: a builtin bundle is what devices start from, not what a channel serves")
		}
	} else if native != "" {
		return usageError("--native-version goes with --builtin")
	}
	if app == "" || version == "" {
		return usageError("bundle upload needs --app APP_ID and --version SEMVER")
	}
	if channel != "" {
		if err := store.ValidateChannelName(channel); err != nil {
			return usageError("--channel: " + err.Error())
		}
	}
	if capgoZip && capgoKey == "" {
		return usageError("--capgo-zip goes with --capgo-key")
	}
	src, err := manifest.OpenPath(ctx, rest[0], manifest.DefaultLimits())
	if err != nil {
		return fmt.Errorf("%s: %w", rest[0], err)
	}
	defer src.Close()
	if !noIndex {
		if err := manifest.CheckIndex(src.Manifest()); err != nil {
			return fmt.Errorf("%s: %w", rest[0], err)
		}
	}
	var upload manifest.Source = src
	if capgoKey != "" {
		encrypted, err := encryptForCapgo(src, capgoKey, app, capgo.Options{Zip: capgoZip})
		if err != nil {
			return err
		}
		upload, meta.CapgoEncryption, meta.CapgoKeyID = encrypted, &encrypted.Encryption, encrypted.Encryption.KeyID
	}
	if meta.Release, err = release.sign(app, version, upload.Manifest(), time.Now()); err != nil {
		return err
	}
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	opt := client.UploadOptions{App: app, Version: version, Meta: meta}
	var bar *progressbar.ProgressBar
	if !asJSON && isTerminal(os.Stderr) {
		opt.Progress = func(done, total int64) {
			if bar == nil {
				bar = progressbar.DefaultBytes(total, "uploading")
			}
			_ = bar.Set64(done)
		}
	}
	sum, err := c.Upload(ctx, upload, opt)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(env.stderr)
	}
	if err != nil {
		return err
	}
	res := uploadResult{UploadSummary: sum}
	if builtin {
		b, err := c.MarkBuiltin(ctx, app, version, native)
		if err != nil {
			return fmt.Errorf("uploaded %s %s, but could not register it as builtin: %w", app, version, err)
		}
		res.Builtin = &b
	}
	if channel != "" {
		ch, created, err := ensureChannelServes(ctx, c, app, channel, version, sw.options())
		if err == nil {
			ch, _, err = sw.await(ctx, env, c, ch)
		}
		if err != nil {
			return fmt.Errorf("uploaded %s %s, but could not make channel %s serve it: %w", app, version, channel, err)
		}
		res.Channel = &uploadChannel{Channel: ch, Created: created}
	}
	if asJSON {
		return printJSON(env, res)
	}
	fmt.Fprintf(env.stdout, "Uploaded %s %s\n", sum.App, sum.Version)
	fmt.Fprintf(env.stdout, "  files:     %d (%s)\n", sum.Files, humanBytes(sum.BundleBytes))
	fmt.Fprintf(env.stdout, "  objects:   %d new, %d already on the server\n", sum.ObjectsNew, sum.ObjectsReused)
	pct := 0.0
	if sum.BundleBytes > 0 {
		pct = 100 * float64(sum.BytesSent) / float64(sum.BundleBytes)
	}
	fmt.Fprintf(env.stdout, "  sent:      %s (%.1f%% of the bundle)\n", humanBytes(sum.BytesSent), pct)
	fmt.Fprintf(env.stdout, "  manifest:  %s\n", sum.Manifest)
	if b := res.Builtin; b != nil {
		fmt.Fprintf(env.stdout, "  builtin:   shipped in native version %s; devices reporting \"builtin\" on it get patches from it\n", b.NativeVersion)
	}
	if ch := res.Channel; ch != nil {
		switch {
		case ch.Pending != nil:
			fmt.Fprintf(env.stdout, "  channel:   %s: %s\n", ch.Name, pendingLine(ch.Channel))
		case ch.Created && ch.Public:
			fmt.Fprintf(env.stdout, "  channel:   created %s, public (the app had no public channel), serving %s\n", ch.Name, ch.Bundle)
		case ch.Created:
			fmt.Fprintf(env.stdout, "  channel:   created %s, private (the app has a public channel), serving %s\n", ch.Name, ch.Bundle)
		default:
			fmt.Fprintf(env.stdout, "  channel:   %s now serves %s (sequence %d)\n", ch.Name, ch.Bundle, ch.Sequence)
		}
	}
	return nil
}

// uploadResult is the JSON summary of bundle upload: the upload's, plus
// the channel that serves the new version when --channel was given.
type uploadResult struct {
	client.UploadSummary
	Channel *uploadChannel `json:"channel,omitempty"`
	// Builtin is the bundle as registered by --builtin.
	Builtin *api.Bundle `json:"builtin,omitempty"`
}

// builtinVersion is the bundle version of a --builtin upload: --version
// when given, else NATIVE-builtin (1.4 → 1.4.0-builtin), which sorts just
// before the release of that native version.
func builtinVersion(version, native string) (string, error) {
	if native == "" {
		return "", usageError("bundle upload --builtin needs --native-version (the app-store build's version, e.g. 1.4.0)")
	}
	if err := store.ValidateNativeVersion(native); err != nil {
		return "", usageError("--native-version: " + err.Error())
	}
	if version != "" {
		return version, nil
	}
	nv, err := resolver.ParseNativeVersion(native)
	if err != nil || nv.Prerelease() != "" || nv.Build() != "" {
		return "", usageError(fmt.Sprintf("--native-version %q is not MAJOR.MINOR[.PATCH]: give the bundle a --version too", native))
	}
	return nv.String() + "-builtin", nil
}

// uploadChannel is the channel bundle upload --channel set (or created).
type uploadChannel struct {
	api.Channel
	Created bool `json:"created"`
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func runBundleList(ctx context.Context, env *cliEnv, args []string) error {
	return listOfApp(ctx, env, args, "bundle list", (*client.Client).ListBundles, "VERSION\tFILES\tSIZE\tCREATED\tMANIFEST", func(b api.Bundle) string {
		return fmt.Sprintf("%s\t%d\t%s\t%s\t%s", b.Version, b.Files, humanBytes(b.Size),
			b.CreatedAt.Format(timeLayout), b.Manifest.String()[:12])
	})
}

func runBundleDelete(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("bundle delete", env)
	app := cmd.String("app", "", "app id (required)")
	version := cmd.String("version", "", "version to delete (required)")
	if _, err := cmd.parse(args); err != nil {
		return err
	}
	if *app == "" || *version == "" {
		return usageError("bundle delete needs --app APP_ID and --version VERSION")
	}
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.DeleteBundle(ctx, *app, *version); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Deleted %s %s; its objects no other bundle uses will be collected after the grace period\n", *app, *version)
	return nil
}

// encryptForCapgo encrypts src with the Capgo private key in keyFile.
func encryptForCapgo(src manifest.Source, keyFile, app string, opt capgo.Options) (*capgo.Encrypted, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--capgo-key: %w", err)
	}
	k, err := capgo.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("--capgo-key %s: %w", keyFile, err)
	}
	return capgo.Encrypt(src, k, app, opt)
}
