package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestReleaseKeysCI is the README's CI recipe against a real server: a
// release key made in CI, bundles uploaded signed, a device that trusts
// the key installs them and refuses an unsigned one; the key is rotated
// (the old one signs the new one in and is revoked), and the device
// follows the chain.
func TestReleaseKeysCI(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	const app = "com.example.signed"
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "release.key")
	c.must("app", "add", app)
	out := c.must("key", "release", "create", "--out", keyFile)
	if !strings.Contains(out, "Release key") {
		t.Fatalf("create: %s", out)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if _, _, err := c.run("key", "release", "create", "--out", keyFile); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("create over an existing key: %v", err)
	}
	pub := strings.TrimSpace(c.must("key", "release", "show", keyFile, "--public"))
	if _, err := checksig.ParsePublicKey(pub); err != nil {
		t.Fatalf("--public printed %q: %v", pub, err)
	}

	fixtures := filepath.Join("..", "..", "testdata", "bundles")
	c.must("bundle", "upload", filepath.Join(fixtures, "v1"), "--app", app, "--version", "1.0.0")
	c.must("bundle", "upload", filepath.Join(fixtures, "v2"), "--app", app, "--version", "1.0.1", "--channel", "production",
		"--release-key", keyFile, "--platforms", "android,ios", "--native-range", ">=1.0.0, <2.0.0")
	var list []struct {
		Version string          `json:"version"`
		Release json.RawMessage `json:"release"`
	}
	if err := json.Unmarshal([]byte(c.must("bundle", "list", "--app", app, "--json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, b := range list {
		if signed := len(b.Release) > 0 && string(b.Release) != "null"; signed != (b.Version == "1.0.1") {
			t.Errorf("bundle %s: release %s", b.Version, b.Release)
		}
	}

	c.env["PATCHWIRE_PUBLIC_KEY"] = checksig.PublicKeyBase64(srv.Server.SigningPublicKey())
	c.env["PATCHWIRE_APP"] = app
	c.env["PATCHWIRE_RELEASE_PUBLIC_KEY"] = pub
	state := filepath.Join(t.TempDir(), "device")
	c.must("device", "seed", "--state", state, "--from", filepath.Join(fixtures, "v1"))
	out = c.must("device", "update", "--state", state)
	if !strings.Contains(out, "Updated builtin -> 1.0.1") || !strings.Contains(out, "release statement verified with release key "+keyID(t, pub)) {
		t.Fatalf("signed update: %s", out)
	}
	c.must("device", "ready", "--state", state)

	// A bundle CI did not sign (uploaded with another key, or none).
	c.must("bundle", "upload", filepath.Join(fixtures, "v3"), "--app", app, "--version", "1.0.2", "--channel", "production")
	_, _, err := c.run("device", "update", "--state", state)
	if err == nil || !strings.Contains(err.Error(), "still running 1.0.1") || !strings.Contains(err.Error(), "not signed by a release key") {
		t.Fatalf("unsigned update: %v", err)
	}

	// Rotation: the old key introduces the new one and revokes itself.
	newKey := filepath.Join(dir, "release-2.key")
	c.must("key", "release", "create", "--out", newKey)
	out = c.must("key", "release", "rotate", "--app", app, "--release-key", keyFile, "--add", newKey, "--revoke", keyFile, "--reason", "yearly rotation")
	if !strings.Contains(out, "Rotation 1 of "+app) {
		t.Fatalf("rotate: %s", out)
	}
	if out := c.must("key", "release", "list", "--app", app); !strings.Contains(out, "revoke "+keyID(t, pub)) {
		t.Fatalf("list: %s", out)
	}
	// The server refuses what can never verify: a rotation signed by the
	// revoked key, and a statement about another bundle.
	if _, _, err := c.run("key", "release", "rotate", "--app", app, "--release-key", keyFile, "--reset-floors"); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("rotation by the revoked key: %v", err)
	}
	c.must("bundle", "upload", filepath.Join(fixtures, "v3"), "--app", app, "--version", "1.0.3", "--channel", "production", "--release-key", newKey)
	out = c.must("device", "update", "--state", state)
	if !strings.Contains(out, "Updated 1.0.1 -> 1.0.3") {
		t.Fatalf("update after the rotation: %s", out)
	}
	newPub := strings.TrimSpace(c.must("key", "release", "show", newKey, "--public"))
	if out := c.must("device", "status", "--state", state); !hasLine(out, "release keys", keyID(t, newPub)) ||
		!hasLine(out, "key rotations", "1 applied, last sequence 1") {
		t.Errorf("device status after the rotation does not name the new key alone and the rotation:\n%s", out)
	}
	// The revoked key no longer signs anything this device installs.
	c.must("bundle", "upload", filepath.Join(fixtures, "v2"), "--app", app, "--version", "1.0.4", "--channel", "production", "--release-key", keyFile)
	if _, _, err := c.run("device", "update", "--state", state); err == nil || !strings.Contains(err.Error(), "untrusted release key") {
		t.Fatalf("statement by the revoked key: %v", err)
	}
}

func keyID(t *testing.T, pub string) string {
	t.Helper()
	k, err := checksig.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return checksig.KeyID(k)
}

// hasLine reports whether the tabular output out has a line label, then
// value (however aligned).
func hasLine(out, label, value string) bool {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, label); ok && strings.TrimSpace(rest) == value {
			return true
		}
	}
	return false
}
