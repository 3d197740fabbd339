package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/store/s3test"
)

// TestStoreMigrateCLI: `store migrate` names what is missing, refuses a
// store a server holds, and moves a stopped store's objects into the
// bucket in place, printing its progress and summary; a second run finds
// every object there.
func TestStoreMigrateCLI(t *testing.T) {
	s3 := s3test.Start(t)
	data := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(store.Options{Dir: storeDir(data), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"index.html": []byte("<h1>migrate</h1>"), "app.js": []byte("console.log(1)")}
	var es []manifest.Entry
	for p, b := range files {
		d := manifest.Sum(b)
		if _, err := st.PutObject(ctx, d, b); err != nil {
			t.Fatal(err)
		}
		es = append(es, manifest.Entry{Path: p, Digest: d, Size: int64(len(b))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateApp(ctx, "com.example.migrate"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CommitBundle(ctx, "com.example.migrate", "1.0.0", m, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range s3.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	c := &cli{t: t, env: env}
	objects := s3.URL("pw/migrated")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no --from", []string{"--to-objects", objects}, "needs --from DATA"},
		{"catalog only", []string{"--from", data, "--to-catalog", "postgres://localhost/x"}, "needs --to-objects"},
		{"server running", []string{"--from", data, "--to-objects", objects}, "in use by a running server"},
	} {
		_, errOut, err := c.run(append([]string{"store", "migrate"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error()+errOut, tc.want) {
			t.Errorf("%s: %v %s; want an error saying %q", tc.name, err, errOut, tc.want)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := c.run("store", "migrate", "--from", data, "--to-objects", objects, "--to-catalog", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "destination catalog") {
		t.Errorf("unreachable catalog: %v %s; want an error naming the destination catalog", err, errOut)
	}

	out, errOut, err := c.run("store", "migrate", "--from", data, "--to-objects", objects)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut)
	}
	for _, want := range []string{"Moved 2 objects", "Verified", "1 bundles and 1 manifests", "--objects " + objects} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if !strings.Contains(errOut, "copy:") {
		t.Errorf("stderr %q: no progress line", errOut)
	}
	out, errOut, err = c.run("store", "migrate", "--from", data, "--to-objects", objects)
	if err != nil || !strings.Contains(out, "Moved 0 objects") || !strings.Contains(out, "2 already there") {
		t.Errorf("second run: %v %q %s", err, out, errOut)
	}
}

// TestStoreMigrateThenServe: a single-node server's store, stopped and
// moved by `store migrate` into a bucket and a PostgreSQL database, is
// what a `serve --catalog --objects` node on a fresh directory serves: the
// channel's answer, its zip and every object, and the old admin key.
func TestStoreMigrateThenServe(t *testing.T) {
	dsn, s3, bin := clusterParts(t)
	data := t.TempDir()
	single := startServerWith(t, bin, data, nil)
	t.Cleanup(single.kill)
	key, err := os.ReadFile(filepath.Join(data, server.AdminKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	cliAt := func(url, ca string) *cli { return cliOfServer(t, url, string(key), ca) }
	c := cliAt(single.url, filepath.Join(data, server.SelfSignedCertFile))
	const app = "com.example.migrated"
	files := fixtureFiles(31)
	c.must("app", "add", app)
	c.must("bundle", "upload", writeBundle(t, fixtureFiles(30)), "--app", app, "--version", "1.0.0")
	c.must("bundle", "upload", writeBundle(t, files), "--app", app, "--version", "1.1.0")
	c.must("channel", "create", "production", "--app", app, "--public", "--policy", "none", "--platforms", "ios,android")
	c.must("channel", "set", "production", "--app", app, "--bundle", "1.1.0")
	single.stop()

	env := map[string]string{}
	for _, kv := range s3.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	objects := s3.URL("pw/objects")
	mig := &cli{t: t, env: env}
	if out, errOut, err := mig.run("store", "migrate", "--from", data, "--to-objects", objects, "--to-catalog", dsn); err != nil {
		t.Fatalf("migrate: %v\n%s\n%s", err, out, errOut)
	}

	dir := t.TempDir()
	node := startServerWith(t, bin, dir, s3.Env(), "--catalog", dsn, "--objects", objects, "--gc-interval", "0")
	t.Cleanup(node.kill)
	ca := filepath.Join(dir, server.SelfSignedCertFile)
	hc := httpsClient(t, ca)
	v, u, sum, err := capgoCheck(hc, node.url, app, "44f128a5-ac7a-4c9a-be4c-224b6bf81b20")
	if err != nil || v != "1.1.0" {
		t.Fatalf("the migrated node's check = %q, %v; want 1.1.0", v, err)
	}
	zip := get(t, hc, u, nil, http.StatusOK)
	if s := sha256.Sum256(zip.body); hex.EncodeToString(s[:]) != sum {
		t.Errorf("zip hashes to %x, the answer says %s", s, sum)
	}
	for name, b := range files {
		if r := get(t, hc, node.url+"/o/"+manifest.Sum(b).String(), nil, http.StatusOK); !bytes.Equal(r.body, b) {
			t.Errorf("/o/ of %s: %d bytes", name, len(r.body))
		}
	}
	if out := cliAt(node.url, ca).must("bundle", "list", "--app", app); !strings.Contains(out, "1.0.0") || !strings.Contains(out, "1.1.0") {
		t.Errorf("bundle list with the old admin key on the migrated node:\n%s", out)
	}
}
