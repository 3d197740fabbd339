package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/patchwire/patchwire/client/capgo"
)

// runKeyCapgo is `patchwire key capgo create`: a key pair for Capgo's
// end-to-end encryption (v2), in the files and formats Capgo's CLI writes.
// It runs in CI (or on a laptop) and never talks to the server: the
// private key signs and encrypts uploads, the public key goes into the
// app's capacitor.config (CapacitorUpdater.publicKey).
func runKeyCapgo(ctx context.Context, env *cliEnv, args []string) error {
	return subcommand(ctx, env, "key capgo", args, map[string]func(context.Context, *cliEnv, []string) error{
		"create": runKeyCapgoCreate,
	})
}

func runKeyCapgoCreate(_ context.Context, env *cliEnv, args []string) error {
	fl := newFlags("key capgo create", env.stderr)
	out := fl.String("out", ".capgo_key_v2", "private key file; the public key goes to FILE.pub")
	force := fl.Bool("force", false, "overwrite existing key files")
	asJSON := fl.Bool("json", false, "print JSON")
	rest, err := parseArgs(fl, args)
	if err != nil {
		return usageError(err.Error())
	}
	if err := wantArgs(rest, 0, "key capgo create"); err != nil {
		return err
	}
	pubPath := *out + ".pub"
	if !*force {
		for _, p := range []string{*out, pubPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s exists: a new key would make every app built with the old public key refuse new bundles; pass --force to replace it", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	k, err := capgo.GenerateKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, capgo.EncodePrivateKey(k), 0o600); err != nil {
		return err
	}
	pub := capgo.EncodePublicKey(&k.PublicKey)
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		return err
	}
	id := capgo.KeyID(&k.PublicKey)
	if *asJSON {
		return printJSON(env, map[string]string{"private_key_file": *out, "public_key_file": pubPath, "key_id": id, "public_key": string(pub)})
	}
	fmt.Fprintf(env.stdout, "Wrote the private key to %s (keep it in CI secrets; never upload it) and the public key to %s.\n", *out, pubPath)
	fmt.Fprintf(env.stdout, "key_id: %s\n", id)
	fmt.Fprintf(env.stdout, "Put the public key in capacitor.config under plugins.CapacitorUpdater.publicKey:\n%s", pub)
	return nil
}
