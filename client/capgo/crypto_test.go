package capgo_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/patchwire/patchwire/client/capgo"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// key is one RSA key for the package's tests (making one takes a while).
func key(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := capgo.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

// encrypted is what an upload of plain makes, written to files for the
// independent decoders.
type encrypted struct {
	dir                string
	pub, ct, sig, aes  string // file paths
	sessionKey, sigHex string
	plain              []byte
	session            capgo.Session
}

func encryptFixture(t *testing.T, plain []byte) encrypted {
	t.Helper()
	k := key(t)
	s, err := capgo.DeriveSession(k, "com.example.app")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := capgo.SessionKey(k, s)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := capgo.SignChecksum(k, sha256.Sum256(plain))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := encrypted{dir: dir, pub: filepath.Join(dir, ".capgo_key_v2.pub"), ct: filepath.Join(dir, "bundle.enc"),
		sig: filepath.Join(dir, "checksum.bin"), aes: filepath.Join(dir, "aeskey.bin"), sessionKey: sk, sigHex: sig, plain: plain, session: s}
	raw, _ := hex.DecodeString(sig)
	_, encKey, _ := strings.Cut(sk, ":")
	ek, _ := base64.StdEncoding.DecodeString(encKey)
	for p, b := range map[string][]byte{e.pub: capgo.EncodePublicKey(&k.PublicKey), e.ct: s.Encrypt(plain), e.sig: raw, e.aes: ek} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestNodeDecrypts: Node's crypto, as Capgo's own updaters use it
// (publicDecrypt with RSA_PKCS1_PADDING, createDecipheriv aes-128-cbc),
// recovers the AES key from session_key, decrypts the file to the
// plaintext byte for byte, and reads the signed checksum as its SHA-256.
func TestNodeDecrypts(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node (apt-get install nodejs; .ci/run installs npm, which brings it)")
	}
	plain := bytes.Repeat([]byte("console.log('patchwire');\n"), 1000)
	e := encryptFixture(t, plain)
	script := `
const fs = require("fs"), crypto = require("crypto");
const [pubPath, ctPath, sessionKey, checksum] = process.argv.slice(1);
const pub = fs.readFileSync(pubPath, "utf8");
const [ivB64, keyB64] = sessionKey.split(":");
const aesKey = crypto.publicDecrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_PADDING }, Buffer.from(keyB64, "base64"));
const d = crypto.createDecipheriv("aes-128-cbc", aesKey, Buffer.from(ivB64, "base64"));
const plain = Buffer.concat([d.update(fs.readFileSync(ctPath)), d.final()]);
const sum = crypto.publicDecrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_PADDING }, Buffer.from(checksum, "hex")).toString("hex");
process.stdout.write(JSON.stringify({ plain: plain.toString("base64"), sum, keyLen: aesKey.length }));
`
	out, err := exec.Command(node, "-e", script, e.pub, e.ct, e.sessionKey, e.sigHex).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	s := string(out)
	wantSum := sha256.Sum256(plain)
	if !strings.Contains(s, `"plain":"`+base64.StdEncoding.EncodeToString(plain)+`"`) {
		t.Errorf("node decrypted something else: %.200s", s)
	}
	if !strings.Contains(s, `"sum":"`+hex.EncodeToString(wantSum[:])+`"`) || !strings.Contains(s, `"keyLen":16`) {
		t.Errorf("node read checksum/key: %s", s)
	}
}

// TestOpenSSLDecrypts: the openssl CLI recovers the AES key and the
// checksum with the public key (pkeyutl -verifyrecover) and decrypts the
// file (enc -d -aes-128-cbc).
func TestOpenSSLDecrypts(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	plain := []byte("<!doctype html><title>encrypted</title>\n")
	e := encryptFixture(t, plain)
	recover := func(in string) []byte {
		t.Helper()
		out, err := exec.Command("openssl", "pkeyutl", "-verifyrecover", "-pubin", "-inkey", e.pub, "-in", in,
			"-pkeyopt", "rsa_padding_mode:pkcs1").Output()
		if err != nil {
			t.Fatalf("openssl pkeyutl -verifyrecover: %v", err)
		}
		return out
	}
	aesKey := recover(e.aes)
	if !bytes.Equal(aesKey, e.session.Key[:]) {
		t.Fatalf("openssl recovered key %x, want %x", aesKey, e.session.Key)
	}
	if sum := sha256.Sum256(plain); !bytes.Equal(recover(e.sig), sum[:]) {
		t.Errorf("openssl recovered checksum %x, want %x", recover(e.sig), sum)
	}
	ivB64, _, _ := strings.Cut(e.sessionKey, ":")
	iv, _ := base64.StdEncoding.DecodeString(ivB64)
	out, err := exec.Command("openssl", "enc", "-d", "-aes-128-cbc", "-K", hex.EncodeToString(aesKey), "-iv", hex.EncodeToString(iv), "-in", e.ct).Output()
	if err != nil {
		t.Fatalf("openssl enc -d: %v", err)
	}
	if !bytes.Equal(out, plain) {
		t.Errorf("openssl decrypted %q, want %q", out, plain)
	}
}

// TestSessionDedup: one app and key give one session, so equal files give
// equal ciphertexts; another app gets another.
func TestSessionDedup(t *testing.T) {
	k := key(t)
	a1, _ := capgo.DeriveSession(k, "com.example.app")
	a2, _ := capgo.DeriveSession(k, "com.example.app")
	b, _ := capgo.DeriveSession(k, "com.example.other")
	f := []byte("same file in two versions")
	if !bytes.Equal(a1.Encrypt(f), a2.Encrypt(f)) {
		t.Error("the same file encrypts differently across uploads of one app")
	}
	if bytes.Equal(a1.Encrypt(f), b.Encrypt(f)) || a1 == b {
		t.Error("two apps share a session")
	}
	for _, n := range []int{0, 1, 15, 16, 17, 1000} {
		p := bytes.Repeat([]byte{'x'}, n)
		got, err := a1.Decrypt(a1.Encrypt(p))
		if err != nil || !bytes.Equal(got, p) {
			t.Errorf("round trip of %d bytes: %v", n, err)
		}
	}
}

// TestKeyFiles: the files round-trip; key_id is the public key's base64
// body's first 20 characters; a public key is refused as a private one.
func TestKeyFiles(t *testing.T) {
	k := key(t)
	priv, pub := capgo.EncodePrivateKey(k), capgo.EncodePublicKey(&k.PublicKey)
	if !bytes.HasPrefix(priv, []byte("-----BEGIN RSA PRIVATE KEY-----")) || !bytes.HasPrefix(pub, []byte("-----BEGIN RSA PUBLIC KEY-----")) {
		t.Fatalf("PEM headers: %.40s / %.40s", priv, pub)
	}
	back, err := capgo.ParsePrivateKey(priv)
	if err != nil || !back.Equal(k) {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	pk, err := capgo.ParsePublicKey(pub)
	if err != nil || !pk.Equal(&k.PublicKey) {
		t.Fatalf("ParsePublicKey: %v", err)
	}
	body := strings.Join(strings.Split(strings.TrimSpace(string(pub)), "\n")[1:], "")
	if id := capgo.KeyID(&k.PublicKey); id != body[:20] {
		t.Errorf("KeyID = %q, want %q", id, body[:20])
	}
	for _, bad := range [][]byte{pub, []byte("not a key"), nil} {
		if _, err := capgo.ParsePrivateKey(bad); err == nil {
			t.Errorf("ParsePrivateKey(%.30q) succeeded", bad)
		}
	}
}
