package device_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client/device"
)

// TestNoStoreImport: a device is not a server; the updater must not pull
// in the store or Badger.
func TestNoStoreImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/patchwire/patchwire/client/device").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasSuffix(dep, "/store") || strings.Contains(dep, "/store/") || strings.Contains(strings.ToLower(dep), "badger") {
			t.Errorf("client/device depends on %s", dep)
		}
	}
}

func TestSeed(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	dir := seeded(t, v1)
	assertRunning(t, dir, v1)
	s := status(t, dir)
	if s.Builtin == nil || s.Builtin.Manifest != v1.m.Digest() || len(s.DeviceID) != 36 || s.Pending {
		t.Fatalf("status: %+v", s)
	}
	build := v2.writeDir(t, t.TempDir())
	if _, err := device.Seed(context.Background(), dir, build, device.SeedOptions{}); err == nil {
		t.Fatal("seeding twice succeeded")
	}
	if _, err := device.Seed(context.Background(), dir, build, device.SeedOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	assertRunning(t, dir, v2)
	if got := status(t, dir).DeviceID; got != s.DeviceID {
		t.Errorf("device id changed on reseed: %s -> %s", s.DeviceID, got)
	}
	// A build folder with a symbolic link is refused like an upload.
	bad := v1.writeDir(t, t.TempDir())
	if err := os.Symlink("/etc/passwd", filepath.Join(bad, "passwd")); err != nil {
		t.Skip(err)
	}
	if _, err := device.Seed(context.Background(), filepath.Join(t.TempDir(), "s"), bad, device.SeedOptions{}); err == nil {
		t.Fatal("seeded a folder holding a symlink")
	}
}

func TestNotSeeded(t *testing.T) {
	dir := t.TempDir()
	if _, err := device.Update(context.Background(), dir, device.Config{Server: "https://127.0.0.1:1", App: testApp, PublicKeys: []ed25519.PublicKey{make([]byte, 32)}}); !errors.Is(err, device.ErrNotSeeded) {
		t.Fatalf("update: %v", err)
	}
	if _, err := device.Ready(dir); !errors.Is(err, device.ErrNotSeeded) {
		t.Fatalf("ready: %v", err)
	}
	if _, err := device.ReadStatus(dir); !errors.Is(err, device.ErrNotSeeded) {
		t.Fatalf("status: %v", err)
	}
}

// TestLeftoversRemoved: what an install interrupted by a crash leaves
// (a half-built bundle folder, a bundle nobody points at) is removed at the
// next start; partial downloads are kept for resuming.
func TestLeftoversRemoved(t *testing.T) {
	v1 := fixture(t, "v1", "1.0.0")
	dir := seeded(t, v1)
	for _, d := range []string{"bundles/1.0.1.tmp/assets", "bundles/1.0.1/assets"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, d, "app.js"), []byte("half"), 0o644)
	}
	part := filepath.Join(dir, "tmp", strings.Repeat("ab", 32)+".part")
	os.WriteFile(part, []byte("partial"), 0o644)
	sr, err := device.Start(context.Background(), dir, device.Config{NoStats: true})
	if err != nil || sr.RolledBack != nil {
		t.Fatal(sr, err)
	}
	if got := bundleDirs(t, dir); strings.Join(got, ",") != "builtin" {
		t.Errorf("bundles: %v", got)
	}
	if _, err := os.Stat(part); err != nil {
		t.Errorf("partial download removed: %v", err)
	}
	assertRunning(t, dir, v1)
}

func TestParsePublicKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, s := range []string{
		"  " + b64(pub) + "\n",
		strings.TrimRight(b64(pub), "="),
	} {
		k, err := checksig.ParsePublicKey(s)
		if err != nil || !k.Equal(pub) {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "abc", b64(pub[:31]), "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"} {
		if _, err := checksig.ParsePublicKey(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestVerifyCheck covers the verification order directly.
func TestVerifyCheck(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now().Truncate(time.Second)
	ans := api.CheckAnswer{Type: api.CheckAnswerType, App: testApp, Channel: testChannel, Platform: "android",
		DeviceID: "d", Sequence: 5, IssuedAt: now, Expires: now.Add(time.Minute), NoUpdate: &api.NoUpdate{Code: "x"}}
	sub := subject(ans)
	body := wire(t, sign(t, priv, ans))
	got, err := device.VerifyCheck(body, []ed25519.PublicKey{pub}, sub)
	if err != nil || got.Sequence != 5 || got.Type != api.CheckAnswerType || got.App != testApp || got.Platform != "android" || got.DeviceID != "d" {
		t.Fatal(got, err)
	}
	b := device.Binding{App: testApp, Channel: testChannel, Platform: "android", DeviceID: "d", Now: now,
		Floors: func(app, ch string) uint64 { return 5 }}
	if err := b.Check(got); err != nil {
		t.Errorf("equal sequence refused: %v", err)
	}
	b.Floors = func(app, ch string) uint64 { return 6 }
	if err := b.Check(got); !errors.Is(err, device.ErrRollback) {
		t.Errorf("lower sequence: %v", err)
	}
	b.Floors, b.Now = nil, now.Add(time.Minute)
	if err := b.Check(got); !errors.Is(err, device.ErrExpired) {
		t.Errorf("at expiry: %v", err)
	}
	// The subject is signed: another device, app or platform cannot use
	// the answer.
	for _, other := range []api.Subject{{App: testApp, Platform: "android", DeviceID: "e"}, {App: "com.evil", Platform: "android", DeviceID: "d"}, {App: testApp, Platform: "ios", DeviceID: "d"}} {
		if _, err := device.VerifyCheck(body, []ed25519.PublicKey{pub}, other); !errors.Is(err, device.ErrBadSignature) {
			t.Errorf("answer for %+v verified for %+v: %v", sub, other, err)
		}
	}
	// The signature covers the context string: a signature over the bare
	// payload (made for another purpose) does not verify.
	sc := sign(t, priv, ans)
	sc.Signature = ed25519.Sign(priv, sc.Payload)
	body = wire(t, sc)
	if _, err := device.VerifyCheck(body, []ed25519.PublicKey{pub}, sub); !errors.Is(err, device.ErrBadSignature) {
		t.Errorf("context-free signature: %v", err)
	}
	// Without a key id, every trusted key is tried.
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	sc = sign(t, priv, ans)
	sc.KeyID = ""
	body = wire(t, sc)
	if _, err := device.VerifyCheck(body, []ed25519.PublicKey{other, pub}, sub); err != nil {
		t.Errorf("answer without a key id: %v", err)
	}
	// A signed payload with bytes after the answer, or cut short, is no
	// check answer; an envelope that is not one is unsigned.
	good, _ := ans.MarshalBinary()
	for name, payload := range map[string][]byte{
		"trailing byte": append(append([]byte(nil), good...), 0),
		"cut short":     good[:len(good)-1],
		"JSON":          []byte(`{"ch":"production","seq":1,"iat":1,"exp":2,"no":{"code":"x","msg":""}}`),
	} {
		if _, err := checksig.Verify(signPayload(priv, sub, payload), []ed25519.PublicKey{pub}, sub); !errors.Is(err, device.ErrWrongType) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := device.VerifyCheck([]byte(`{"p":{},"s":"","k":""}`), []ed25519.PublicKey{pub}, sub); !errors.Is(err, device.ErrUnsigned) {
		t.Errorf("a JSON envelope: %v", err)
	}
}

// wire is a signed answer's body.
func wire(t testing.TB, sc api.SignedCheck) []byte {
	t.Helper()
	b, err := sc.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
