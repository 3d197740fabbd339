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

// nodeDecrypt decrypts a file as Capgo's updaters do, with Node's crypto:
// the AES key from the session key with the public key, AES-128-CBC over
// the whole file; then it checks the signed hash (a checksum or file_hash)
// against the SHA-256 of the plaintext, and writes the plaintext out.
const nodeDecrypt = `
const fs = require("fs"), crypto = require("crypto");
const [pub, file, sessionKey, signed, outFile] = process.argv.slice(1);
const key = fs.readFileSync(pub, "utf8");
const dec = (b) => crypto.publicDecrypt({ key, padding: crypto.constants.RSA_PKCS1_PADDING }, b);
const [iv, k] = sessionKey.split(":");
const d = crypto.createDecipheriv("aes-128-cbc", dec(Buffer.from(k, "base64")), Buffer.from(iv, "base64"));
const plain = Buffer.concat([d.update(fs.readFileSync(file)), d.final()]);
fs.writeFileSync(outFile, plain);
const want = dec(Buffer.from(signed, "hex")).toString("hex");
const got = crypto.createHash("sha256").update(plain).digest("hex");
if (want !== got) { console.error("signed hash", want, "!=", got); process.exit(1); }
`

// TestCapgoEncryptedUpload: `bundle upload --capgo-key` stores only
// ciphertext, and what /updates hands the unmodified plugin decrypts, with
// implementations other than ours (Node's crypto as Capgo's updaters use
// it, and the openssl CLI), to the release byte for byte: manifest files
// and their signed file_hash, and with --capgo-zip the zip and its signed
// checksum. The encryption travels in the upload's metadata, so a new
// version with one changed file uploads one object (two with --capgo-zip:
// the zip). Without the zip, plugins too old for manifest delivery get
// manifest_only_bundle; a device with another key gets key_id_mismatch.
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
	pubFile := keyFile + ".pub"
	priv, _ := os.ReadFile(keyFile)
	k, err := capgo.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyID := capgo.KeyID(&k.PublicKey)
	dir := t.TempDir()

	check := func(keyID, plugin string) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"platform": "android", "device_id": "44f128a5-ac7a-4c9a-be4c-224b6bf81b20",
			"app_id": app, "version_build": "1.0.0", "version_os": "14", "version_name": "builtin", "plugin_version": plugin,
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
	get := func(u, name string) string {
		t.Helper()
		resp, err := srv.HTTPSClient().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", u, resp.StatusCode)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// withNode decrypts file with Node and checks signed; it returns the plaintext.
	withNode := func(file, sessionKey, signed string) []byte {
		t.Helper()
		out := file + ".plain"
		if b, err := exec.Command(node, "-e", nodeDecrypt, pubFile, file, sessionKey, signed, out).CombinedOutput(); err != nil {
			t.Fatalf("node: %v\n%s", err, b)
		}
		plain, _ := os.ReadFile(out)
		return plain
	}
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
	// withOpenSSL decrypts file with the openssl CLI and checks signed.
	withOpenSSL := func(file, sessionKey, signed string) []byte {
		t.Helper()
		ivB64, keyB64, _ := strings.Cut(sessionKey, ":")
		encKey, _ := base64.StdEncoding.DecodeString(keyB64)
		iv, _ := base64.StdEncoding.DecodeString(ivB64)
		plain, err := exec.Command("openssl", "enc", "-d", "-aes-128-cbc", "-K", hex.EncodeToString(recoverRSA(encKey)), "-iv", hex.EncodeToString(iv), "-in", file).Output()
		if err != nil {
			t.Fatalf("openssl enc -d: %v", err)
		}
		sig, _ := hex.DecodeString(signed)
		if sum := sha256.Sum256(plain); !bytes.Equal(recoverRSA(sig), sum[:]) {
			t.Errorf("signed hash of %s does not recover to the SHA-256 of its plaintext", file)
		}
		return plain
	}

	files := fixtureFiles(7)
	uploads := []struct {
		version string
		change  string // the file changed before this upload, "" none
		flags   []string
		wantNew int // -1: not checked (the first upload)
		zip     bool
	}{
		{"1.0.1", "", nil, -1, false},
		{"1.0.2", "assets/chunk-3.js", nil, 1, false},
		{"1.0.3", "assets/chunk-5.js", []string{"--capgo-zip"}, 2, true}, // the file and the zip
	}
	for _, up := range uploads {
		if up.change != "" {
			files[up.change] = append(files[up.change], "// fix\n"...)
		}
		args := append([]string{"bundle", "upload", writeBundle(t, files), "--app", app, "--version", up.version,
			"--channel", "production", "--capgo-key", keyFile, "--json"}, up.flags...)
		var sum struct {
			ObjectsNew    int `json:"objects_new"`
			ObjectsReused int `json:"objects_reused"`
		}
		out := c.must(args...)
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if up.wantNew >= 0 && (sum.ObjectsNew != up.wantNew || sum.ObjectsReused != len(files)-1) {
			t.Errorf("upload %s %v: %d new, %d reused; want %d new, %d reused", up.version, up.flags, sum.ObjectsNew, sum.ObjectsReused, up.wantNew, len(files)-1)
		}

		// Nothing the server stores is plaintext.
		for name, b := range files {
			if _, err := srv.Store.GetObject(t.Context(), sha256.Sum256(b)); err == nil {
				t.Errorf("%s: the server stores %s in plaintext", up.version, name)
			}
		}

		// A current plugin gets the manifest with signed hashes; both
		// decryptions give the release's bytes.
		ans := check(keyID, "8.51.14")
		sessionKey, _ := ans["session_key"].(string)
		checksum, _ := ans["checksum"].(string)
		url, _ := ans["url"].(string)
		entries, _ := ans["manifest"].([]any)
		if ans["version"] != up.version || !strings.Contains(sessionKey, ":") || len(entries) != len(files) {
			t.Fatalf("%s: /updates answer %v; want the manifest of %d files (no .patchwire/ files)", up.version, ans, len(files))
		}
		if !up.zip && (url != "https://404.capgo.app/no.zip" || checksum != "") {
			t.Errorf("%s: manifest-only answer has url %q, checksum %q; want Capgo's placeholder and none", up.version, url, checksum)
		}
		for i, decrypt := range []func(file, sessionKey, signed string) []byte{withNode, withOpenSSL} {
			e := entries[i].(map[string]any)
			name, fileHash := e["file_name"].(string), e["file_hash"].(string)
			if plain := decrypt(get(e["download_url"].(string), "file.enc"), sessionKey, fileHash); !bytes.Equal(plain, files[name]) {
				t.Errorf("%s: manifest file %s decrypts to something else", up.version, name)
			}
		}

		// Plugins too old for manifest delivery: the zip when uploaded,
		// else a reason.
		for _, plugin := range []string{"5.9.0", "6.24.0", "7.0.34"} {
			old := check(keyID, plugin)
			if up.zip {
				if old["url"] != url || old["checksum"] != checksum || old["manifest"] != nil {
					t.Errorf("%s: plugin %s got %v; want the zip %s without a manifest", up.version, plugin, old, url)
				}
				continue
			}
			if old["error"] != "manifest_only_bundle" || old["kind"] != "blocked" || old["version"] != up.version {
				t.Errorf("%s: plugin %s got %v; want manifest_only_bundle (blocked)", up.version, plugin, old)
			}
		}
		if up.zip {
			if len(checksum) != 512 || !strings.HasPrefix(url, srv.URL) {
				t.Fatalf("%s: zip answer url %q checksum %q", up.version, url, checksum)
			}
			zb := withNode(get(url, "bundle.enc"), sessionKey, checksum)
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
		}
	}

	// Another key on the device: blocked.
	if ans := check("AAAAAAAAAAAAAAAAAAAA", "8.51.14"); ans["error"] != "key_id_mismatch" {
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

	// --capgo-zip alone is a usage error.
	if _, _, err := c.run("bundle", "upload", writeBundle(t, files), "--app", app, "--version", "1.0.4", "--capgo-zip"); err == nil || !strings.Contains(err.Error(), "--capgo-key") {
		t.Errorf("--capgo-zip without --capgo-key: %v", err)
	}
}
