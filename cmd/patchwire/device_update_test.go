package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestDeviceCommands: seed, update, status, ready and start against a
// real server, as a person would run them.
func TestDeviceCommands(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	const app = "com.example.device"
	c.must("app", "add", app)
	fixtures := filepath.Join("..", "..", "testdata", "bundles")
	c.must("bundle", "upload", filepath.Join(fixtures, "v1"), "--app", app, "--version", "1.0.0")
	c.must("bundle", "upload", filepath.Join(fixtures, "v2"), "--app", app, "--version", "1.0.1")
	c.must("channel", "create", "production", "--app", app, "--public", "--policy", "none", "--platforms", "ios,android")
	c.must("channel", "set", "production", "--app", app, "--bundle", "1.0.1")
	c.env["PATCHWIRE_PUBLIC_KEY"] = checksig.PublicKeyBase64(srv.Server.SigningPublicKey())
	c.env["PATCHWIRE_APP"] = app
	state := filepath.Join(t.TempDir(), "device")

	if _, _, err := c.run("device", "update", "--state", state); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("update before seed: %v", err)
	}
	out := c.must("device", "seed", "--state", state, "--from", filepath.Join(fixtures, "v1"))
	if !strings.Contains(out, "Seeded") {
		t.Fatalf("seed: %s", out)
	}
	out = c.must("device", "update", "--state", state)
	if !strings.Contains(out, "Updated builtin -> 1.0.1") || !strings.Contains(out, "patched") {
		t.Fatalf("update: %s", out)
	}
	var st struct {
		Current struct {
			Version string `json:"version"`
		} `json:"current"`
		Pending    bool `json:"pending"`
		LastUpdate struct {
			Outcome         string `json:"outcome"`
			DownloadedBytes int64  `json:"downloaded_bytes"`
		} `json:"last_update"`
		History []json.RawMessage `json:"history"`
	}
	if err := json.Unmarshal([]byte(c.must("device", "status", "--state", state, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Current.Version != "1.0.1" || !st.Pending || st.LastUpdate.Outcome != "updated" ||
		st.LastUpdate.DownloadedBytes <= 0 || st.LastUpdate.DownloadedBytes > 76333/4 || len(st.History) < 2 {
		t.Fatalf("status: %+v", st)
	}
	if out := c.must("device", "ready", "--state", state); !strings.Contains(out, "Marked 1.0.1 ready") {
		t.Fatalf("ready: %s", out)
	}
	out = c.must("device", "start", "--state", state)
	if !strings.Contains(out, "Running 1.0.1 from "+filepath.Join(state, "bundles", "1.0.1")) {
		t.Fatalf("start: %s", out)
	}
	if out := c.must("device", "update", "--state", state); !strings.Contains(out, "No update") {
		t.Fatalf("second update: %s", out)
	}
	out = c.must("device", "status", "--state", state)
	for _, want := range []string{"bundle", "1.0.1", "last update", "no_update", "history:", "seed", "ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// A bad key is refused before anything is installed.
	c.env["PATCHWIRE_PUBLIC_KEY"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if _, _, err := c.run("device", "update", "--state", state); err == nil || !strings.Contains(err.Error(), "untrusted key") {
		t.Fatalf("update with the wrong key: %v", err)
	}
}
