package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// publishDir stores a build folder as a version straight into the store
// (objects, then the bundle) and returns its manifest.
func publishDir(t *testing.T, srv *servertest.Env, app, version, dir string) *manifest.Manifest {
	t.Helper()
	ctx := context.Background()
	src, err := manifest.OpenDir(ctx, dir, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m := src.Manifest()
	for _, e := range m.Entries() {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Store.PutObject(ctx, e.Digest, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Store.CommitBundle(ctx, app, version, m, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDeviceCommands: seed, update, status, ready and start against a
// real server, as a person would run them.
func TestDeviceCommands(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	const app = "com.example.device"
	c.must("app", "add", app)
	fixtures := filepath.Join("..", "..", "testdata", "bundles")
	publishDir(t, srv, app, "1.0.0", filepath.Join(fixtures, "v1"))
	publishDir(t, srv, app, "1.0.1", filepath.Join(fixtures, "v2"))
	if _, err := srv.Store.CreateChannel(context.Background(), api.Channel{
		App: app, Name: "production", Bundle: "1.0.1", Public: true, Android: true, IOS: true,
		AllowDevice: true, AllowProd: true, AllowDev: true, AllowEmulator: true, Policy: "none",
	}); err != nil {
		t.Fatal(err)
	}
	c.env["PATCHWIRE_PUBLIC_KEY"] = server.PublicKeyBase64(srv.Server.SigningPublicKey())
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
