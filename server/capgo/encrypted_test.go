package capgo_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client/capgo"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestEncryptedAnswers: a bundle encrypted in CI is answered with its
// session key and signed hashes whether the encryption came in the
// upload's metadata or, as uploads before that sent it, as the bundle's
// api.CapgoEncryptionPath file. Without the encrypted zip a plugin with
// manifest delivery gets Capgo's placeholder url and an older one
// manifest_only_bundle; with it, the older plugin gets the zip.
func TestEncryptedAnswers(t *testing.T) {
	k, err := capgo.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	env := servertest.Start(t)
	c := env.HTTPSClient()
	newApp(t, env, testApp)
	ctx := context.Background()
	files := bundleFiles("secret")
	dir := t.TempDir()
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		version string
		zip     bool
		legacy  bool // the encryption as a file of the bundle, not metadata
	}{
		{"1.0.1", false, false},
		{"1.0.2", true, false},
		{"1.0.3", true, true},
	}
	var first struct { // the first bundle, to commit again below
		m   *manifest.Manifest
		enc api.CapgoEncryption
	}
	for i, tc := range cases {
		src, err := manifest.OpenDir(ctx, dir, manifest.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		enc, err := capgo.Encrypt(src, k, testApp, capgo.Options{Zip: tc.zip})
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		entries := enc.Manifest().Entries()
		for _, e := range entries {
			rc, err := enc.Open(e.Path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if _, err := env.Store.PutObject(ctx, e.Digest, b); err != nil {
				t.Fatal(err)
			}
		}
		meta := api.BundleMeta{CapgoKeyID: enc.Encryption.KeyID, CapgoEncryption: &enc.Encryption}
		if tc.legacy {
			raw, _ := json.Marshal(enc.Encryption)
			d := manifest.Sum(raw)
			if _, err := env.Store.PutObject(ctx, d, raw); err != nil {
				t.Fatal(err)
			}
			entries = append(entries, manifest.Entry{Path: api.CapgoEncryptionPath, Digest: d, Size: int64(len(raw))})
			meta.CapgoEncryption = nil
		}
		m, err := manifest.New(entries, manifest.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Store.CommitBundle(ctx, testApp, tc.version, m, meta); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first.m, first.enc = m, enc.Encryption
			channel(t, env, testApp, "production", tc.version, nil)
		} else {
			setBundle(t, env, testApp, "production", tc.version)
		}

		cur := do(t, c, "POST", env.URL+"/updates", info(nil)).Body
		list, _ := cur["manifest"].([]any)
		if cur["version"] != tc.version || cur["session_key"] != enc.Encryption.SessionKey || len(list) != len(files) {
			t.Fatalf("%s: answer %v", tc.version, cur)
		}
		for _, it := range list {
			e := it.(map[string]any)
			if name := e["file_name"].(string); e["file_hash"] != enc.Encryption.Files[name] {
				t.Errorf("%s: %s has file_hash %v, want its signed hash", tc.version, name, e["file_hash"])
			}
		}
		old := do(t, c, "POST", env.URL+"/updates", info(func(m map[string]any) { m["plugin_version"] = "6.24.0" })).Body
		if !tc.zip {
			if cur["url"] != "https://404.capgo.app/no.zip" || cur["checksum"] != "" {
				t.Errorf("%s: manifest-only answer url %v checksum %v", tc.version, cur["url"], cur["checksum"])
			}
			if old["error"] != "manifest_only_bundle" || old["kind"] != "blocked" || old["version"] != tc.version || old["url"] != nil {
				t.Errorf("%s: old plugin got %v, want manifest_only_bundle", tc.version, old)
			}
			continue
		}
		zip, _ := m.Lookup(api.CapgoZipPath)
		if want := env.URL + "/o/" + zip.Digest.String(); cur["url"] != want || old["url"] != want ||
			old["checksum"] != enc.Encryption.Checksum || old["manifest"] != nil {
			t.Errorf("%s: with the zip, answers %v and %v; want url %s and the signed checksum", tc.version, cur, old, want)
		}
	}

	// Deleted and committed again with the same files but another
	// encryption (here one signed hash): answers carry the new one.
	setBundle(t, env, testApp, "production", cases[len(cases)-1].version)
	if err := env.Store.DeleteBundle(ctx, testApp, cases[0].version); err != nil {
		t.Fatal(err)
	}
	again := first.enc
	again.Files = maps.Clone(first.enc.Files)
	again.Files["index.html"] = strings.Repeat("0c", 256)
	if _, err := env.Store.CommitBundle(ctx, testApp, cases[0].version, first.m, api.BundleMeta{CapgoEncryption: &again}); err != nil {
		t.Fatal(err)
	}
	setBundle(t, env, testApp, "production", cases[0].version)
	list, _ := do(t, c, "POST", env.URL+"/updates", info(nil)).Body["manifest"].([]any)
	for _, it := range list {
		if e := it.(map[string]any); e["file_name"] == "index.html" && e["file_hash"] != again.Files["index.html"] {
			t.Errorf("after the bundle was committed again, index.html has file_hash %v; want the new one", e["file_hash"])
		}
	}
}
