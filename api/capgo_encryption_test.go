package api_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// TestCapgoEncryptionCheck: what an encryption must hold to be accepted
// for a bundle, with and without the encrypted zip.
func TestCapgoEncryptionCheck(t *testing.T) {
	sig := strings.Repeat("5f", 256)
	b64 := base64.StdEncoding.EncodeToString
	d := manifest.Sum([]byte("x"))
	entries := []manifest.Entry{{Path: "index.html", Digest: d, Size: 1}, {Path: "js/app.js", Digest: d, Size: 1}}
	withZip := append(append([]manifest.Entry(nil), entries...), manifest.Entry{Path: api.CapgoZipPath, Digest: d, Size: 1})
	valid := func() api.CapgoEncryption {
		return api.CapgoEncryption{Format: 1, KeyID: "MIIBCgKCAQEAvD1tX3Jd", SessionKey: b64(make([]byte, 16)) + ":" + b64(make([]byte, 256)),
			Files: map[string]string{"index.html": sig, "js/app.js": sig}}
	}
	cases := []struct {
		name    string
		files   []manifest.Entry
		edit    func(*api.CapgoEncryption)
		wantErr string // "" accepted
	}{
		{"manifest only", entries, func(*api.CapgoEncryption) {}, ""},
		{"manifest only with a checksum", entries, func(e *api.CapgoEncryption) { e.Checksum = sig }, ""},
		{"with zip", withZip, func(e *api.CapgoEncryption) { e.Checksum = sig }, ""},
		{"zip without checksum", withZip, func(*api.CapgoEncryption) {}, "no checksum"},
		{"format 2", entries, func(e *api.CapgoEncryption) { e.Format = 2 }, "format"},
		{"short key id", entries, func(e *api.CapgoEncryption) { e.KeyID = "MIIB" }, "key_id"},
		{"key id not base64", entries, func(e *api.CapgoEncryption) { e.KeyID = `MIIBCgKCAQEAvD1tX3J"` }, "key_id"},
		{"session key without colon", entries, func(e *api.CapgoEncryption) { e.SessionKey = b64(make([]byte, 16)) }, "session_key"},
		{"short IV", entries, func(e *api.CapgoEncryption) { e.SessionKey = b64(make([]byte, 8)) + ":" + b64(make([]byte, 256)) }, "session_key"},
		{"session key with a quote", entries, func(e *api.CapgoEncryption) { e.SessionKey = `"` + e.SessionKey }, "session_key"},
		{"checksum uppercase", entries, func(e *api.CapgoEncryption) { e.Checksum = strings.ToUpper(sig) }, "checksum"},
		{"checksum short", entries, func(e *api.CapgoEncryption) { e.Checksum = "00ff" }, "checksum"},
		{"file without hash", entries, func(e *api.CapgoEncryption) { delete(e.Files, "js/app.js") }, "no signed hash for js/app.js"},
		{"file hash not hex", entries, func(e *api.CapgoEncryption) { e.Files["index.html"] = `"` + sig[1:] }, "index.html"},
		{"hash for a file not in the bundle", entries, func(e *api.CapgoEncryption) { e.Files["other.js"] = sig }, "other.js"},
		{"hash for the zip", withZip, func(e *api.CapgoEncryption) { e.Checksum = sig; e.Files[api.CapgoZipPath] = sig }, api.CapgoZipPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := manifest.New(tc.files, manifest.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			e := valid()
			tc.edit(&e)
			err = e.Check(m)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error about %q", err, tc.wantErr)
			}
		})
	}
}
