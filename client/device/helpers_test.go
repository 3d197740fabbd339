package device_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/patchwire/patchwire/client/device"
)

// fixture loads testdata/bundles/<name>.
func fixture(t testing.TB, name, version string) *bundle {
	return loadBundle(t, version, filepath.Join("..", "..", "testdata", "bundles", name))
}

// seeded returns a fresh state directory seeded with b.
func seeded(t testing.TB, b *bundle) string {
	t.Helper()
	build := b.writeDir(t, t.TempDir())
	dir := filepath.Join(t.TempDir(), "state")
	got, err := device.Seed(context.Background(), dir, build, device.SeedOptions{})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if got.Manifest != b.m.Digest() {
		t.Fatalf("seeded manifest %s, want %s", got.Manifest, b.m.Digest())
	}
	return dir
}

// status reads the state directory's status.
func status(t testing.TB, dir string) device.Status {
	t.Helper()
	s, err := device.ReadStatus(dir)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return s
}

// assertRunning checks that the current bundle is b, byte for byte, with
// no extra file, and that no half-built bundle is lying around.
func assertRunning(t testing.TB, dir string, b *bundle) {
	t.Helper()
	s := status(t, dir)
	if s.Current.Manifest != b.m.Digest() {
		t.Fatalf("running %s (%s), want %s (%s)", s.Current.Version, s.Current.Manifest, b.version, b.m.Digest())
	}
	got := map[string][]byte{}
	err := filepath.WalkDir(s.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(s.Path, p)
		data, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(b.files) {
		t.Fatalf("bundle folder has %d files (%v), want %d", len(got), keys(got), len(b.files))
	}
	for p, want := range b.files {
		if !bytes.Equal(got[p], want) {
			t.Fatalf("%s differs from %s's", p, b.version)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "bundles"))
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".tmp" {
			t.Fatalf("leftover %s", e.Name())
		}
	}
}

// bundleDirs lists DIR/bundles.
func bundleDirs(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "bundles"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// update runs device.Update with a background context.
func update(t testing.TB, dir string, cfg device.Config) (device.Result, error) {
	t.Helper()
	return device.Update(context.Background(), dir, cfg)
}

// mustUpdate runs an update that must install want.
func mustUpdate(t testing.TB, dir string, cfg device.Config, want *bundle) device.Result {
	t.Helper()
	res, err := update(t, dir, cfg)
	if err != nil {
		t.Fatalf("update to %s: %v", want.version, err)
	}
	if res.Outcome != device.OutcomeUpdated || res.To == nil || res.To.Version != want.version {
		t.Fatalf("update: outcome %s to %+v, want %s", res.Outcome, res.To, want.version)
	}
	assertRunning(t, dir, want)
	if _, err := device.Ready(dir); err != nil {
		t.Fatal(err)
	}
	return res
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
