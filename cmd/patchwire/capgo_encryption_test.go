package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client/capgo"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestCapgoEncryptedUpload: `bundle upload --capgo-key` stores only
// ciphertext, and what /updates hands the unmodified plugin decrypts, with
// implementations other than ours (Node's crypto as Capgo's updaters use
// it, and the openssl CLI), to the release byte for byte: the zip, a
// manifest file, the signed checksum and file_hash. A device with another
// key gets key_id_mismatch. A new version with one changed file uploads
// that file's ciphertext plus the bundle's new encrypted zip and
// encryption file: unchanged files dedup.
func TestCapgoEncryptedUpload(t *testing.T) {
	node, errNode := exec.LookPath("node")
	_, errSSL := exec.LookPath("openssl")
	if errNode != nil || errSSL != nil {
		t.Skip("needs node and openssl (.ci/run installs them)")
	}
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	const app = "com.example.secret"
	c.must("app", "add", app)
	keyFile := filepath.Join(t.TempDir(), ".capgo_key_v2")
	c.must("key", "capgo", "create", "--out", keyFile)
	priv, _ := os.ReadFile(keyFile)
	k, err := capgo.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	files := fixtureFiles(7)
	var first struct {
		ObjectsNew int `json:"objects_new"`
	}
	out := c.must("bundle", "upload", writeBundle(t, files), "--app", app, "--version", "1.0.1", "--channel", "production", "--capgo-key", keyFile, "--json")
	if err := json.Unmarshal([]byte(out), &first); err != nil {
		t.Fatalf("%v: %s", err, out)
	}

	// Nothing the server stores is plaintext.
	for name, b := range files {
		if _, err := srv.Store.GetObject(t.Context(), sha256.Sum256(b)); err == nil {
			t.Errorf("the server stores %s in plaintext", name)
		}
	}

	check := func(keyID string) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"platform": "android", "device_id": "44f128a5-ac7a-4c9a-be4c-224b6bf81b20",
			"app_id": app, "version_build": "1.0.0", "version_os": "14", "version_name": "builtin", "plugin_version": "8.51.14",
			"is_emulator": false, "is_prod": true, "key_id": keyID})
		resp, err := srv.HTTPSClient().Post(srv.URL+"/updates", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	ans := check(capgo.KeyID(&k.PublicKey))
	url, _ := ans["url"].(string)
	sessionKey, _ := ans["session_key"].(string)
	checksum, _ := ans["checksum"].(string)
	if url == "" || !strings.Contains(sessionKey, ":") || len(checksum) != 512 {
		t.Fatalf("/updates answer: %v", ans)
	}
	get := func(u string) []byte {
		t.Helper()
		resp, err := srv.HTTPSClient().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", u, resp.StatusCode)
		}
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	dir := t.TempDir()
	pubFile, zipFile := keyFile+".pub", filepath.Join(dir, "bundle.enc")
	if err := os.WriteFile(zipFile, get(url), 0o600); err != nil {
		t.Fatal(err)
	}

	// Node, as Capgo's updaters decrypt: the zip and its checksum.
	script := `
const fs = require("fs"), crypto = require("crypto");
const [pub, file, sessionKey, checksum, outFile] = process.argv.slice(1);
const key = fs.readFileSync(pub, "utf8");
const dec = (b) => crypto.publicDecrypt({ key, padding: crypto.constants.RSA_PKCS1_PADDING }, b);
const [iv, k] = sessionKey.split(":");
const d = crypto.createDecipheriv("aes-128-cbc", dec(Buffer.from(k, "base64")), Buffer.from(iv, "base64"));
const plain = Buffer.concat([d.update(fs.readFileSync(file)), d.final()]);
fs.writeFileSync(outFile, plain);
const want = dec(Buffer.from(checksum, "hex")).toString("hex");
const got = crypto.createHash("sha256").update(plain).digest("hex");
if (want !== got) { console.error("checksum", want, "!=", got); process.exit(1); }
`
	plainZip := filepath.Join(dir, "bundle.zip")
	if out, err := exec.Command(node, "-e", script, pubFile, zipFile, sessionKey, checksum, plainZip).CombinedOutput(); err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	zb, _ := os.ReadFile(plainZip)
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(files) {
		t.Errorf("decrypted zip has %d files, the release %d", len(zr.File), len(files))
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(b, files[f.Name]) {
			t.Errorf("zip file %s differs from the release", f.Name)
		}
	}

	// openssl: one manifest file and its file_hash.
	entries, _ := ans["manifest"].([]any)
	if len(entries) != len(files) {
		t.Fatalf("manifest has %d entries, want %d (no .patchwire/ files): %v", len(entries), len(files), entries)
	}
	e := entries[0].(map[string]any)
	name, fileURL, fileHash := e["file_name"].(string), e["download_url"].(string), e["file_hash"].(string)
	recoverRSA := func(in []byte) []byte {
		t.Helper()
		p := filepath.Join(dir, "rsa.bin")
		_ = os.WriteFile(p, in, 0o600)
		out, err := exec.Command("openssl", "pkeyutl", "-verifyrecover", "-pubin", "-inkey", pubFile, "-in", p, "-pkeyopt", "rsa_padding_mode:pkcs1").Output()
		if err != nil {
			t.Fatalf("openssl pkeyutl: %v", err)
		}
		return out
	}
	ivB64, keyB64, _ := strings.Cut(sessionKey, ":")
	encKey, _ := base64.StdEncoding.DecodeString(keyB64)
	iv, _ := base64.StdEncoding.DecodeString(ivB64)
	aesKey := recoverRSA(encKey)
	ct := filepath.Join(dir, "file.enc")
	_ = os.WriteFile(ct, get(fileURL), 0o600)
	plain, err := exec.Command("openssl", "enc", "-d", "-aes-128-cbc", "-K", hex.EncodeToString(aesKey), "-iv", hex.EncodeToString(iv), "-in", ct).Output()
	if err != nil {
		t.Fatalf("openssl enc -d: %v", err)
	}
	if !bytes.Equal(plain, files[name]) {
		t.Errorf("manifest file %s decrypts to something else", name)
	}
	signed, _ := hex.DecodeString(fileHash)
	if sum := sha256.Sum256(files[name]); !bytes.Equal(recoverRSA(signed), sum[:]) {
		t.Errorf("file_hash of %s does not recover to its SHA-256", name)
	}

	// Another key on the device: blocked.
	if ans := check("AAAAAAAAAAAAAAAAAAAA"); ans["error"] != "key_id_mismatch" {
		t.Errorf("device with another key: %v; want key_id_mismatch", ans)
	}

	// A native device on the channel is told why it gets nothing.
	c.env["PATCHWIRE_PUBLIC_KEY"] = checksig.PublicKeyBase64(srv.Server.SigningPublicKey())
	c.env["PATCHWIRE_APP"] = app
	state := filepath.Join(t.TempDir(), "device")
	c.must("device", "seed", "--state", state, "--from", writeBundle(t, map[string][]byte{"index.html": []byte("<!doctype html>native")}))
	if out := c.must("device", "update", "--state", state); !strings.Contains(out, api.CodeEncryptedForCapgo) {
		t.Errorf("native device update: %s; want %s", out, api.CodeEncryptedForCapgo)
	}

	// One changed file: its ciphertext, the zip and the encryption file.
	files["assets/chunk-3.js"] = append(files["assets/chunk-3.js"], "// fix\n"...)
	var second struct {
		ObjectsNew    int `json:"objects_new"`
		ObjectsReused int `json:"objects_reused"`
	}
	out = c.must("bundle", "upload", writeBundle(t, files), "--app", app, "--version", "1.0.2", "--capgo-key", keyFile, "--json")
	if err := json.Unmarshal([]byte(out), &second); err != nil {
		t.Fatal(err)
	}
	if second.ObjectsNew != 3 || second.ObjectsReused != len(files)-1 {
		t.Errorf("second upload: %d new, %d reused; want 3 new (the file, zip, encryption file), %d reused", second.ObjectsNew, second.ObjectsReused, len(files)-1)
	}
	t.Logf("first upload %d objects, second %d new", first.ObjectsNew, second.ObjectsNew)
}
