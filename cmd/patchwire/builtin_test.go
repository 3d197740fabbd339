package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestBundleUploadBuiltin: CI registers the bundle shipped in the
// app-store build; six releases later (more than --patch-bases, so the
// builtin bundle is not among the last ones) `channel set` still makes the
// patch from it before it returns, and a device that starts from the
// store install (seeded with that bundle, reporting "builtin") gets its
// first update as a patch (issue 8 item 2).
func TestBundleUploadBuiltin(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	const app = "com.example.builtin"
	c.must("app", "add", app)
	fixtures := filepath.Join("..", "..", "testdata", "bundles")
	var res uploadResult
	out := c.must("bundle", "upload", filepath.Join(fixtures, "v1"), "--app", app, "--builtin", "--native-version", "1.4", "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if res.Version != "1.4.0-builtin" || res.Builtin == nil || !res.Builtin.Builtin || res.Builtin.NativeVersion != "1.4" || res.Channel != nil {
		t.Fatalf("builtin upload: %s", out)
	}
	// Releases: v2 with app.js changed again each time (so no patch made
	// for an earlier release serves the last one).
	v2 := filepath.Join(fixtures, "v2")
	for i := 1; i <= 6; i++ {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(v2)); err != nil {
			t.Fatal(err)
		}
		js, err := os.ReadFile(filepath.Join(dir, "assets", "app.js"))
		if err != nil {
			t.Fatal(err)
		}
		js = append(js, fmt.Sprintf("\nexport const release = %d;\n", i)...)
		if err := os.WriteFile(filepath.Join(dir, "assets", "app.js"), js, 0o644); err != nil {
			t.Fatal(err)
		}
		c.must("bundle", "upload", dir, "--app", app, "--version", fmt.Sprintf("1.4.%d", i))
	}
	var bundles []api.Bundle
	if err := json.Unmarshal([]byte(c.must("bundle", "list", "--app", app, "--json")), &bundles); err != nil {
		t.Fatal(err)
	}
	if len(bundles) != 7 || bundles[0].Version != "1.4.0-builtin" || !bundles[0].Builtin || bundles[1].Builtin {
		t.Fatalf("bundles: %+v", bundles)
	}
	c.must("channel", "create", "production", "--app", app, "--public", "--policy", "none", "--platforms", "ios,android")
	_, errOut, err := c.run("channel", "set", "production", "--app", app, "--bundle", "1.4.6")
	if err != nil || !strings.Contains(errOut, "Making patches") {
		t.Fatalf("channel set: %v\n%s", err, errOut)
	}

	c.env["PATCHWIRE_PUBLIC_KEY"] = checksig.PublicKeyBase64(srv.Server.SigningPublicKey())
	c.env["PATCHWIRE_APP"] = app
	state := filepath.Join(t.TempDir(), "device")
	c.must("device", "seed", "--state", state, "--from", filepath.Join(fixtures, "v1"))
	out = c.must("device", "update", "--state", state, "--native-version", "1.4")
	if !strings.Contains(out, "Updated builtin -> 1.4.6") {
		t.Fatalf("update: %s", out)
	}
	var st struct {
		LastUpdate struct {
			DownloadedBytes int64 `json:"downloaded_bytes"`
			Patched         int   `json:"patched"`
			Fetched         int   `json:"fetched"`
		} `json:"last_update"`
	}
	if err := json.Unmarshal([]byte(c.must("device", "status", "--state", state, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	// Every changed file patched (2.5 kB); without the builtin bundle among
	// the bases app.js and new.txt come whole (7.9 kB, zstd).
	if n := st.LastUpdate.DownloadedBytes; n <= 0 || n > 4000 || st.LastUpdate.Patched == 0 || st.LastUpdate.Fetched != 0 {
		t.Fatalf("the first update from the store install downloaded %d bytes, %d files patched:\n%s", n, st.LastUpdate.Patched, out)
	}

	// Refusals: --builtin needs a native version, takes no channel, and a
	// native version alone is a mistake.
	for _, args := range [][]string{
		{"--builtin"},
		{"--builtin", "--native-version", "1.4", "--channel", "production"},
		{"--builtin", "--native-version", "build 7"},
		{"--builtin", "--native-version", "142a"},
		{"--native-version", "1.4", "--version", "9.0.0"},
	} {
		a := append([]string{"bundle", "upload", filepath.Join(fixtures, "v3"), "--app", app}, args...)
		if _, _, err := c.run(a...); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v", args, err)
		}
	}
}
