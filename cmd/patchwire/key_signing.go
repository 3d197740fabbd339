package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/patchwire/patchwire/server"
)

// runKeySigning is `patchwire key signing`: show the server's key for
// signing check answers, read locally from DATA/signing.key (no server
// call), so it can be built into apps. --public prints only the public
// key, base64 of its 32 bytes; --create makes the key if the data
// directory has none yet (`patchwire serve` makes it at its first start).
func runKeySigning(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlags("key signing", env.stderr)
	dataDir := fs.String("data", "./patchwire-data", "data directory of the server")
	public := fs.Bool("public", false, "print only the public key (base64)")
	create := fs.Bool("create", false, "create the key if there is none yet")
	asJSON := fs.Bool("json", false, "print JSON")
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
	var priv ed25519.PrivateKey
	if *create {
		priv, _, err = server.LoadOrCreateSigningKey(*dataDir)
	} else {
		priv, err = server.LoadSigningKey(*dataDir)
		if errors.Is(err, server.ErrNoSigningKey) {
			err = fmt.Errorf("%w in %s: `patchwire serve --data %s` makes it at its first start, or pass --create", server.ErrNoSigningKey, *dataDir, *dataDir)
		}
	}
	if err != nil {
		return err
	}
	pub := priv.Public().(ed25519.PublicKey)
	b64 := server.PublicKeyBase64(pub)
	switch {
	case *asJSON:
		return printJSON(env, map[string]string{"public_key": b64, "key_id": server.SigningKeyID(pub), "file": filepath.Join(*dataDir, server.SigningKeyFile)})
	case *public:
		fmt.Fprintln(env.stdout, b64)
	default:
		fmt.Fprintf(env.stdout, "public key: %s\nkey id:     %s\nfile:       %s\n", b64, server.SigningKeyID(pub), filepath.Join(*dataDir, server.SigningKeyFile))
	}
	return nil
}
