package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/server/servertest"
)

// cli runs the CLI in-process against env with a private config file.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T, srv *servertest.Env) *cli {
	return &cli{t: t, env: map[string]string{
		"PATCHWIRE_CONFIG":  filepath.Join(t.TempDir(), "config.json"),
		"PATCHWIRE_SERVER":  srv.URL,
		"PATCHWIRE_API_KEY": srv.AdminKey,
		"PATCHWIRE_CA":      srv.CAFile,
	}}
}

func (c *cli) run(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	e := &cliEnv{stdout: &out, stderr: &errOut, getenv: func(k string) string { return c.env[k] }}
	err := run(context.Background(), e, args)
	return out.String(), errOut.String(), err
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("patchwire %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// writeBundle writes files into a fresh folder.
func writeBundle(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fixtureFiles is a small web build: an index, a few scripts and some incompressible assets.
func fixtureFiles(seed int64) map[string][]byte {
	r := rand.New(rand.NewSource(seed))
	files := map[string][]byte{"index.html": []byte("<!doctype html><script src=main.js></script>")}
	for i := 0; i < 8; i++ {
		js := fmt.Sprintf("// chunk %d\n%s", i, strings.Repeat(fmt.Sprintf("export const v%d = %d;\n", i, i), 2000))
		files[fmt.Sprintf("assets/chunk-%d.js", i)] = []byte(js)
		img := make([]byte, 20_000)
		r.Read(img)
		files[fmt.Sprintf("assets/img-%d.png", i)] = img
	}
	return files
}

func TestBundleUploadSendsOnlyWhatChanged(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	c.must("app", "add", "com.example.app")

	v1 := fixtureFiles(1)
	var sum1 client.UploadSummary
	out := c.must("bundle", "upload", writeBundle(t, v1), "--app", "com.example.app", "--version", "1.0.0", "--json")
	if err := json.Unmarshal([]byte(out), &sum1); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if sum1.Files != 17 || sum1.ObjectsNew != 17 || sum1.ObjectsReused != 0 {
		t.Fatalf("first upload: %+v", sum1)
	}

	v2 := fixtureFiles(1)
	changed := append([]byte("// fixed a bug\n"), v2["assets/chunk-3.js"]...)
	v2["assets/chunk-3.js"] = changed
	var sum2 client.UploadSummary
	out = c.must("bundle", "upload", writeBundle(t, v2), "--app", "com.example.app", "--version", "1.0.1", "--json")
	if err := json.Unmarshal([]byte(out), &sum2); err != nil {
		t.Fatal(err)
	}
	if sum2.ObjectsNew != 1 || sum2.ObjectsReused != 16 {
		t.Fatalf("second upload: %d new, %d reused; want 1 and 16", sum2.ObjectsNew, sum2.ObjectsReused)
	}
	// Only the changed file's bytes (compressed) went over the wire, plus the manifest request.
	if sum2.ObjectBytes > int64(len(changed)) || sum2.ObjectBytes == 0 {
		t.Errorf("object bytes sent %d, want at most the changed file's %d", sum2.ObjectBytes, len(changed))
	}
	if sum2.BytesSent > sum2.ObjectBytes+8<<10 {
		t.Errorf("bytes sent %d: more than the changed object (%d) plus a manifest", sum2.BytesSent, sum2.ObjectBytes)
	}
	if sum2.BytesSent*10 > sum1.BytesSent {
		t.Errorf("second upload sent %d bytes, first %d: want a small fraction", sum2.BytesSent, sum1.BytesSent)
	}
	list := c.must("bundle", "list", "--app", "com.example.app")
	if !strings.Contains(list, "1.0.0") || !strings.Contains(list, "1.0.1") {
		t.Errorf("bundle list:\n%s", list)
	}

	// Human summary.
	v3 := fixtureFiles(1)
	v3["index.html"] = []byte("<!doctype html><title>3</title>")
	out = c.must("bundle", "upload", writeBundle(t, v3), "--app", "com.example.app", "--version", "1.0.2")
	for _, want := range []string{"files:", "1 new, 16 already on the server", "manifest:"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestCLIErrors(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	c.must("app", "add", "com.example.app")
	noIndex := writeBundle(t, map[string][]byte{"main.js": []byte("x")})
	withIndex := writeBundle(t, map[string][]byte{"index.html": []byte("x")})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"upload without version", []string{"bundle", "upload", withIndex, "--app", "com.example.app"}, "--version"},
		{"no index.html", []string{"bundle", "upload", noIndex, "--app", "com.example.app", "--version", "1.0.0"}, "index.html"},
		{"missing folder", []string{"bundle", "upload", "/nonexistent/dist", "--app", "com.example.app", "--version", "1.0.0"}, "/nonexistent/dist"},
		{"bad version", []string{"bundle", "upload", withIndex, "--app", "com.example.app", "--version", "1.0"}, "invalid_version"},
		{"unknown app", []string{"bundle", "upload", withIndex, "--app", "com.nope", "--version", "1.0.0"}, "com.nope"},
		{"existing app", []string{"app", "add", "com.example.app"}, "already exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.run(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("no-index-check", func(t *testing.T) {
		c.must("bundle", "upload", noIndex, "--app", "com.example.app", "--version", "2.0.0", "--no-index-check")
	})
}

func TestKeyCreateAndLogin(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	c.must("app", "add", "com.example.app")
	secret := strings.TrimSpace(c.must("key", "create", "--scope", "upload", "--app", "com.example.app"))
	if !strings.HasPrefix(secret, "pw_") {
		t.Fatalf("key create printed %q", secret)
	}
	// Log in with the new key; later commands use the saved login, not the environment.
	u := &cli{t: t, env: map[string]string{"PATCHWIRE_CONFIG": c.env["PATCHWIRE_CONFIG"]}}
	u.must("login", "--server", srv.URL, "--key", secret, "--ca", srv.CAFile)
	u.must("bundle", "upload", writeBundle(t, map[string][]byte{"index.html": []byte("hi")}), "--app", "com.example.app", "--version", "1.0.0")
	if _, _, err := u.run("app", "add", "com.other"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("upload key created an app: %v", err)
	}
	if _, _, err := u.run("login", "--server", srv.URL, "--key", "pw_bad_key", "--ca", srv.CAFile); err == nil {
		t.Fatal("login with a bad key succeeded")
	}
}
