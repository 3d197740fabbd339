package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/server"
)

// runKeySigning is `patchwire key signing`: show the server's key for
// signing check answers, so it can be built into apps. --public prints
// only the public key, base64 of its 32 bytes.
//
// Where the key comes from: with --data (or $PATCHWIRE_DATA) or --create,
// the data directory of a server on this machine (DATA/signing.key, no
// server call; --create makes the key if there is none yet, as `patchwire
// serve` does at its first start). Otherwise, when this machine is logged
// in to a server (`patchwire login`, --server or $PATCHWIRE_SERVER), the
// server's API (GET /api/v1/signing-key, any valid key): a CI machine
// needs no access to the server's files. With neither, ./patchwire-data.
func runKeySigning(ctx context.Context, env *cliEnv, args []string) error {
	cmd := newAPICommand("key signing", env)
	dataDir := cmd.String("data", "./patchwire-data", "data directory of a server on this machine (default: ask the logged-in server, else ./patchwire-data)")
	public := cmd.Bool("public", false, "print only the public key (base64)")
	create := cmd.Bool("create", false, "create the key in --data if there is none yet")
	asJSON := cmd.Bool("json", false, "print JSON")
	if _, err := cmd.parse(args); err != nil {
		return err
	}
	local := *create
	cmd.Visit(func(f *flag.Flag) { local = local || f.Name == "data" })
	if v := env.getenv("PATCHWIRE_DATA"); v != "" && !local {
		*dataDir, local = v, true
	}
	if !local {
		if remote, err := loggedIn(env, cmd.conn); err != nil {
			return err
		} else if remote {
			return keySigningRemote(ctx, env, cmd, *public, *asJSON)
		}
	}
	var priv ed25519.PrivateKey
	var err error
	if *create {
		priv, _, err = server.LoadOrCreateSigningKey(*dataDir)
	} else {
		priv, err = server.LoadSigningKey(*dataDir)
		if errors.Is(err, server.ErrNoSigningKey) {
			err = fmt.Errorf("%w in %s: `patchwire serve --data %s` makes it at its first start, or pass --create; from a machine logged in to the server (`patchwire login`) this command asks the server", server.ErrNoSigningKey, *dataDir, *dataDir)
		}
	}
	if err != nil {
		return err
	}
	pub := priv.Public().(ed25519.PublicKey)
	file := filepath.Join(*dataDir, server.SigningKeyFile)
	return printSigningKey(env, *public, *asJSON, checksig.PublicKeyBase64(pub), checksig.KeyID(pub), "file", file)
}

// keySigningRemote asks the logged-in server for its signing key.
func keySigningRemote(ctx context.Context, env *cliEnv, cmd *apiCommand, public, asJSON bool) error {
	c, err := cmd.client(env)
	if err != nil {
		return err
	}
	defer c.Close()
	k, err := c.SigningKey(ctx)
	if err != nil {
		return fmt.Errorf("asking %s for its signing key: %w", c.URL("/"), err)
	}
	return printSigningKey(env, public, asJSON, k.PublicKey, k.KeyID, "server", c.URL("/"))
}

// printSigningKey prints the key as --public, --json or the default view;
// where says where it came from ("file" or "server") and from is that.
func printSigningKey(env *cliEnv, public, asJSON bool, b64, keyID, where, from string) error {
	switch {
	case asJSON:
		return printJSON(env, map[string]string{"public_key": b64, "key_id": keyID, where: from})
	case public:
		fmt.Fprintln(env.stdout, b64)
	default:
		fmt.Fprintf(env.stdout, "public key: %s\nkey id:     %s\n%-11s %s\n", b64, keyID, where+":", from)
	}
	return nil
}

// loggedIn reports whether the connection flags, the environment or a
// saved login name a server.
func loggedIn(env *cliEnv, c *connFlags) (bool, error) {
	if c.server != "" || env.getenv("PATCHWIRE_SERVER") != "" {
		return true, nil
	}
	l, err := loadLogin(env)
	return l.Server != "", err
}
