package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
)

// TestStoreBackupRestore (issue 14 item 9): `store backup` of a running
// server (through the admin API) and of a stopped one (--data), `store
// restore` into an empty directory with a full verify, and the refusals a
// person runs into.
func TestStoreBackupRestore(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	const app = "com.example.backup"
	c.must("app", "add", app)
	fixtures := filepath.Join("..", "..", "testdata", "bundles")
	for i, v := range []string{"v1", "v2", "v3"} {
		c.must("bundle", "upload", filepath.Join(fixtures, v), "--app", app, "--version", string(rune('1'+i))+".0.0")
	}
	dir := t.TempDir()
	live := filepath.Join(dir, "live.backup")
	if _, errOut, err := c.run("store", "backup", "--out", live); err != nil || !strings.Contains(errOut, "Wrote a backup") {
		t.Fatalf("backup of the running server: %v\n%s", err, errOut)
	}
	if _, _, err := c.run("store", "backup", "--out", live); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("backup over an existing file: %v", err)
	}
	if _, _, err := c.run("store", "backup", "--data", srv.Dir, "--out", filepath.Join(dir, "x")); err == nil ||
		!strings.Contains(err.Error(), "in use by a running server") {
		t.Fatalf("offline backup of a running server's store: %v", err)
	}
	if _, _, err := c.run("store", "backup"); exitCode(err) != 2 {
		t.Fatalf("backup without --out: %v", err)
	}

	srv.Stop()
	stopped := filepath.Join(dir, "stopped.backup")
	c.must("store", "backup", "--data", srv.Dir, "--out", stopped)
	out := c.must("store", "verify", "--data", srv.Dir)
	if !strings.Contains(out, "Checked 3 bundles, 3 manifests") {
		t.Fatalf("verify: %s", out)
	}

	for _, backup := range []string{live, stopped} {
		target := filepath.Join(t.TempDir(), "data")
		out := c.must("store", "restore", "--data", target, "--in", backup)
		if !strings.Contains(out, "Checked 3 bundles, 3 manifests") || !strings.Contains(out, "OK: every manifest and object verified") {
			t.Fatalf("restore of %s: %s", filepath.Base(backup), out)
		}
		checkFixtures(t, target, fixtures)
		if _, _, err := c.run("store", "restore", "--data", target, "--in", backup); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("restore into a restored store: %v", err)
		}
	}

	// A damaged backup restores nothing and says so.
	b, err := os.ReadFile(stopped)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.backup")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "data")
	if _, _, err := c.run("store", "restore", "--data", target, "--in", cut); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("restore of a cut backup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "db")); !os.IsNotExist(err) {
		t.Fatalf("a failed restore left %s/db behind: %v", target, err)
	}
}

// checkFixtures opens the store of data directory data and checks every
// file of every fixture bundle reads back byte-exact.
func checkFixtures(t *testing.T, data, fixtures string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(store.Options{Dir: filepath.Join(data, "db"), GCInterval: -1, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, v := range []string{"v1", "v2", "v3"} {
		src, err := manifest.OpenPath(ctx, filepath.Join(fixtures, v), manifest.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range src.Manifest().Entries() {
			want, err := manifest.ReadEntry(src, e)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := st.GetObject(ctx, e.Digest)
			if err != nil || !bytes.Equal(obj.Raw, want) {
				t.Fatalf("%s/%s after restore: %v", v, e.Path, err)
			}
		}
	}
}
