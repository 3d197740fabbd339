package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/manifest"
)

// runKeyRelease is `patchwire key release`: release keys, the trust that
// stays in CI (api/release.go). create and show never talk to the server;
// rotate signs a rotation in CI and appends it to the app's chain; list
// shows the chain.
func runKeyRelease(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "key release", args, map[string]func(context.Context, *cliEnv, []string) error{
		"create": runKeyReleaseCreate,
		"show":   runKeyReleaseShow,
		"rotate": runKeyReleaseRotate,
		"list":   runKeyReleaseList,
	})
}

// runKeyReleaseCreate writes a new release key (PEM PKCS #8, mode 0600).
func runKeyReleaseCreate(_ context.Context, env *cliEnv, args []string) error {
	fl := newFlags("key release create", env.stderr)
	out := fl.String("out", "release.key", "private key file (keep it in CI secrets; never upload it)")
	force := fl.Bool("force", false, "overwrite an existing key file")
	public := fl.Bool("public", false, "print only the public key (base64), for the app build")
	asJSON := fl.Bool("json", false, "print JSON")
	rest, err := parseArgs(fl, args)
	if err != nil {
		return usageError(err.Error())
	}
	if err := wantArgs(rest, 0, "key release create"); err != nil {
		return err
	}
	if !*force {
		if _, err := os.Stat(*out); err == nil {
			return fmt.Errorf("%s exists: a new release key is trusted by no app built so far (rotate with `patchwire key release rotate`); pass --force to replace it", *out)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	key, err := checksig.GenerateReleaseKey()
	if err != nil {
		return err
	}
	pemKey, err := checksig.EncodePrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, pemKey, 0o600); err != nil {
		return err
	}
	return printReleaseKey(env, key, *out, *public, *asJSON)
}

// runKeyReleaseShow prints a release key file's public key and id.
func runKeyReleaseShow(_ context.Context, env *cliEnv, args []string) error {
	fl := newFlags("key release show", env.stderr)
	file := fl.String("release-key", "release.key", "release key file (or give it as the argument)")
	public := fl.Bool("public", false, "print only the public key (base64), for the app build")
	asJSON := fl.Bool("json", false, "print JSON")
	rest, err := parseArgs(fl, args)
	if err != nil {
		return usageError(err.Error())
	}
	if len(rest) == 1 {
		*file, rest = rest[0], nil
	}
	if err := wantArgs(rest, 0, "key release show [--release-key] FILE"); err != nil {
		return err
	}
	key, err := loadReleaseKey(*file)
	if err != nil {
		return err
	}
	return printReleaseKey(env, key, *file, *public, *asJSON)
}

func printReleaseKey(env *cliEnv, key ed25519.PrivateKey, file string, public, asJSON bool) error {
	pub := key.Public().(ed25519.PublicKey)
	b64, id := checksig.PublicKeyBase64(pub), checksig.KeyID(pub)
	switch {
	case asJSON:
		return printJSON(env, map[string]string{"private_key_file": file, "public_key": b64, "key_id": id})
	case public:
		fmt.Fprintln(env.stdout, b64)
		return nil
	}
	fmt.Fprintf(env.stdout, "Release key %s in %s (keep it in CI secrets; the server never sees it).\n", id, file)
	fmt.Fprintf(env.stdout, "Public key, for the app build (device update --release-public-key):\n%s\n", b64)
	return nil
}

// loadReleaseKey reads a release key file.
func loadReleaseKey(file string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("release key: %w", err)
	}
	return checksig.ParsePrivateKey(file, b)
}

// releaseFlags are bundle upload's release key flags.
type releaseFlags struct {
	key, platforms, nativeRange string
}

func (f *releaseFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.key, "release-key", "", "sign a release statement with this release key file (`key release create`): devices that trust it install only what CI signed")
	fs.StringVar(&f.platforms, "platforms", "", "with --release-key: the platforms the statement allows, e.g. ios,android (default any)")
	fs.StringVar(&f.nativeRange, "native-range", "", "with --release-key: the native (app-store build) versions the statement allows, a semver range, e.g. '>=1.2.0, <2.0.0' (default any)")
}

// sign makes the release statement of the bundle m (nil without
// --release-key).
func (f *releaseFlags) sign(app, version string, m *manifest.Manifest, now time.Time) (*api.SignedStatement, error) {
	if f.key == "" {
		if f.platforms != "" || f.nativeRange != "" {
			return nil, usageError("--platforms and --native-range go with --release-key")
		}
		return nil, nil
	}
	key, err := loadReleaseKey(f.key)
	if err != nil {
		return nil, err
	}
	st := api.ReleaseStatement{
		App: app, Version: version, Manifest: m.Digest(), Files: m.Len(), Size: m.TotalSize(),
		NativeRange: f.nativeRange, SignedAt: now,
	}
	for _, p := range strings.Split(f.platforms, ",") {
		switch p = strings.TrimSpace(p); p {
		case "":
		case "ios", "android", "electron":
			st.Platforms = append(st.Platforms, p)
		default:
			return nil, usageError(fmt.Sprintf("--platforms: %q is not ios, android or electron", p))
		}
	}
	s, err := checksig.SignRelease(key, st)
	if err != nil {
		return nil, usageError("--native-range: " + err.Error())
	}
	return &s, nil
}

// runKeyReleaseRotate signs a rotation with a trusted release key and
// appends it to the app's chain.
func runKeyReleaseRotate(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("key release rotate", env)
	app := cmd.requireApp()
	keyFile := cmd.String("release-key", "", "a release key the app's devices trust now, which signs the rotation (required)")
	var add, addServer, revoke keyList
	cmd.Var(&add, "add", "release key to trust from now on: a key file, or a public key in base64; repeat or comma-separate")
	cmd.Var(&addServer, "add-server-key", "server signing key to trust from now on (`key signing --public` of the new server), base64; repeat or comma-separate")
	cmd.Var(&revoke, "revoke", "key id (or key file, or base64 public key) to refuse from now on; repeat or comma-separate")
	reset := cmd.Bool("reset-floors", false, "let devices accept lower channel sequences (a server restored from an older backup or rebuilt)")
	reason := cmd.String("reason", "", "why, recorded on devices")
	asJSON := cmd.Bool("json", false, "print JSON")
	if _, err := cmd.parse(args); err != nil {
		return err
	}
	if *keyFile == "" {
		return usageError("key release rotate needs --release-key FILE, a release key the devices trust now")
	}
	if len(add)+len(addServer)+len(revoke) == 0 && !*reset {
		return usageError("key release rotate: nothing to do; pass --add, --add-server-key, --revoke or --reset-floors")
	}
	signer, err := loadReleaseKey(*keyFile)
	if err != nil {
		return err
	}
	rot := api.KeyRotation{App: *app, ResetFloors: *reset, Reason: *reason, SignedAt: time.Now()}
	for _, list := range []struct {
		in  keyList
		out *[][]byte
	}{{add, &rot.AddRelease}, {addServer, &rot.AddServer}} {
		for _, k := range list.in {
			pub, err := publicKeyArg(k)
			if err != nil {
				return err
			}
			*list.out = append(*list.out, pub)
		}
	}
	for _, k := range revoke {
		if len(k) == 16 && strings.Trim(k, "0123456789abcdef") == "" {
			rot.Revoke = append(rot.Revoke, k)
			continue
		}
		pub, err := publicKeyArg(k)
		if err != nil {
			return fmt.Errorf("--revoke %s: want a key id (16 hex characters), a key file or a public key: %w", k, err)
		}
		rot.Revoke = append(rot.Revoke, checksig.KeyID(pub))
	}
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	chain, err := c.ReleaseRotations(ctx, *app)
	if err != nil {
		return err
	}
	rot.Sequence = uint64(len(chain.Rotations)) + 1
	signed, err := checksig.SignRotation(signer, rot)
	if err != nil {
		return err
	}
	added, err := c.AddReleaseRotation(ctx, *app, signed)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, added)
	}
	fmt.Fprintf(env.stdout, "Rotation %d of %s signed by %s: %s\n", added.Sequence, *app, added.KeyID, checksig.DescribeRotation(rot))
	return nil
}

// publicKeyArg reads a public key given as base64 (or PEM) or as a
// release key file.
func publicKeyArg(s string) (ed25519.PublicKey, error) {
	if pub, err := checksig.ParsePublicKey(s); err == nil {
		return pub, nil
	}
	key, err := loadReleaseKey(s)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a base64 public key nor a readable key file: %w", s, err)
	}
	return key.Public().(ed25519.PublicKey), nil
}

// runKeyReleaseList prints an app's rotation chain.
func runKeyReleaseList(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("key release list", env)
	app := cmd.requireApp()
	asJSON := cmd.Bool("json", false, "print JSON")
	c, _, err := cmd.connect(env, args)
	if err != nil {
		return err
	}
	defer c.Close()
	chain, err := c.ReleaseRotations(ctx, *app)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, chain)
	}
	if len(chain.Rotations) == 0 {
		fmt.Fprintf(env.stdout, "No release key rotations for %s: devices trust the release keys built into them.\n", *app)
		return nil
	}
	for _, s := range chain.Rotations {
		var r api.KeyRotation
		if err := r.UnmarshalBinary(s.Payload); err != nil {
			return fmt.Errorf("rotation signed by %s: %w", s.KeyID, err)
		}
		fmt.Fprintf(env.stdout, "%d  %s  signed by %s: %s\n", r.Sequence, r.SignedAt.Format(time.RFC3339), s.KeyID, checksig.DescribeRotation(r))
	}
	return nil
}
