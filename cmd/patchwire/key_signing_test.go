package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client/capgo"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

func TestKeySigning(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	out := c.must("key", "signing", "--public", "--data", srv.Dir)
	pub, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil || !ed25519.PublicKey(pub).Equal(srv.Server.SigningPublicKey()) {
		t.Fatalf("printed %q, want the server's key: %v", out, err)
	}
	// A check answer verifies with the printed key.
	req := api.CheckRequest{App: "com.nope", DeviceID: "00000000-0000-4000-8000-00000000000d", Platform: "ios", NativeVersion: "1.0",
		Current: api.CurrentBundle{Version: "builtin"}}
	body, _ := json.Marshal(req)
	resp, err := srv.HTTPSClient().Post(srv.URL+api.PathCheck, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var sc api.SignedCheck
	if err := sc.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if a, err := checksig.Verify(sc, []ed25519.PublicKey{pub}, req.Subject()); err != nil || a.NoUpdate == nil || a.NoUpdate.Code != "on_premise_app" {
		t.Fatalf("answer %+v: %v", a, err)
	}

	var j struct {
		PublicKey string `json:"public_key"`
		KeyID     string `json:"key_id"`
		File      string `json:"file"`
	}
	if err := json.Unmarshal([]byte(c.must("key", "signing", "--json", "--data", srv.Dir)), &j); err != nil {
		t.Fatal(err)
	}
	if j.PublicKey != strings.TrimSpace(out) || j.KeyID != sc.KeyID {
		t.Errorf("json %+v, key id in answers %s", j, sc.KeyID)
	}

	// PATCHWIRE_DATA works like --data.
	c.env["PATCHWIRE_DATA"] = srv.Dir
	if got := c.must("key", "signing", "--public"); got != out {
		t.Errorf("with PATCHWIRE_DATA: %q", got)
	}

	// No key yet: an error that says how to get one, unless --create.
	empty := t.TempDir()
	if _, _, err := c.run("key", "signing", "--data", empty); !errors.Is(err, server.ErrNoSigningKey) || !strings.Contains(err.Error(), "--create") {
		t.Errorf("no key: %v", err)
	}
	first := c.must("key", "signing", "--public", "--create", "--data", empty)
	fi, err := os.Stat(filepath.Join(empty, server.SigningKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created key file: %v %v", fi, err)
	}
	if again := c.must("key", "signing", "--public", "--create", "--data", empty); again != first {
		t.Error("--create replaced an existing key")
	}
	// A key others may read is refused.
	if err := os.Chmod(filepath.Join(empty, server.SigningKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.run("key", "signing", "--data", empty); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable key: %v", err)
	}
}

// TestKeySigningFromCI: on a machine that is only logged in to the server
// (no data directory), `key signing --public` asks the server's API, with
// any valid key (issue 8 item 3; the old command read ./patchwire-data and
// failed there).
func TestKeySigningFromCI(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	want := checksig.PublicKeyBase64(srv.Server.SigningPublicKey())
	t.Chdir(t.TempDir()) // no ./patchwire-data here
	for _, scope := range []string{api.ScopeUpload, api.ScopeRead, api.ScopeAdmin} {
		t.Run(scope, func(t *testing.T) {
			apps := []string{"com.example.ci"}
			if scope == api.ScopeAdmin {
				apps = nil // admin keys act on every app and list none
			}
			secret, _, err := srv.Store.CreateKey(ctx, scope, apps, "ci "+scope)
			if err != nil {
				t.Fatal(err)
			}
			c := newCLI(t, srv)
			c.env["PATCHWIRE_API_KEY"] = secret
			if got := strings.TrimSpace(c.must("key", "signing", "--public")); got != want {
				t.Fatalf("printed %q, want the server's key %q", got, want)
			}
			var j map[string]string
			if err := json.Unmarshal([]byte(c.must("key", "signing", "--json")), &j); err != nil {
				t.Fatal(err)
			}
			if j["public_key"] != want || j["key_id"] != checksig.KeyID(srv.Server.SigningPublicKey()) || j["server"] == "" {
				t.Errorf("json %v", j)
			}
		})
	}
	// Logged in with `patchwire login` (saved config, no environment).
	c := newCLI(t, srv)
	c.must("login", "--server", srv.URL, "--key", srv.AdminKey, "--ca", srv.CAFile)
	delete(c.env, "PATCHWIRE_SERVER")
	delete(c.env, "PATCHWIRE_API_KEY")
	delete(c.env, "PATCHWIRE_CA")
	if got := strings.TrimSpace(c.must("key", "signing", "--public")); got != want {
		t.Fatalf("after login: printed %q", got)
	}
	// A bad key is refused by the server, and the command says so.
	c = newCLI(t, srv)
	c.env["PATCHWIRE_API_KEY"] = "pw_nope_nope"
	if _, _, err := c.run("key", "signing", "--public"); err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Fatalf("bad key: %v", err)
	}
	// --data still reads the local file, logged in or not.
	c = newCLI(t, srv)
	if got := strings.TrimSpace(c.must("key", "signing", "--public", "--data", srv.Dir)); got != want {
		t.Fatalf("--data: %q", got)
	}
}

// TestKeyCapgoCreate: the key pair is written in Capgo's formats, an
// existing one is kept unless --force, and the private key parses back.
func TestKeyCapgoCreate(t *testing.T) {
	c := &cli{t: t, env: map[string]string{}}
	out := filepath.Join(t.TempDir(), ".capgo_key_v2")
	text := c.must("key", "capgo", "create", "--out", out)
	priv, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(out + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(priv), "-----BEGIN RSA PRIVATE KEY-----") || !strings.HasPrefix(string(pub), "-----BEGIN RSA PUBLIC KEY-----") {
		t.Fatalf("key files:\n%s\n%s", priv, pub)
	}
	k, err := capgo.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if id := capgo.KeyID(&k.PublicKey); !strings.Contains(text, "key_id: "+id) || !strings.Contains(text, "CapacitorUpdater.publicKey") {
		t.Errorf("output does not name key_id %s and where the public key goes:\n%s", id, text)
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, %v; want 0600", info.Mode(), err)
	}
	if _, _, err := c.run("key", "capgo", "create", "--out", out); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second create: %v; want a refusal naming --force", err)
	}
	c.must("key", "capgo", "create", "--out", out, "--force")
	if again, _ := os.ReadFile(out); string(again) == string(priv) {
		t.Error("--force kept the old key")
	}
}
