package device_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/manifest"
)

// TestLiarUpdateChain: v1 -> v2 -> v3 against an honest simulator, with
// patches, copies, removals; then nothing to do.
func TestLiarUpdateChain(t *testing.T) {
	v1, v2, v3 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1"), fixture(t, "v3", "1.0.2")
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()

	res, err := update(t, dir, cfg)
	if err != nil || res.Outcome != device.OutcomeNoUpdate {
		t.Fatalf("no update: %+v, %v", res, err)
	}

	l.serve(v2)
	res = mustUpdate(t, dir, cfg, v2)
	if res.Patched == 0 || res.Reused == 0 {
		t.Errorf("v1->v2: patched %d, reused %d; want both > 0", res.Patched, res.Reused)
	}
	if res.DownloadedBytes >= v2.m.TotalSize()/2 {
		t.Errorf("v1->v2 downloaded %d bytes of a %d-byte bundle", res.DownloadedBytes, v2.m.TotalSize())
	}
	if got := bundleDirs(t, dir); strings.Join(got, ",") != "1.0.1,builtin" {
		t.Errorf("bundles after ready: %v", got)
	}

	l.serve(v3)
	res = mustUpdate(t, dir, cfg, v3)
	if res.Patched == 0 {
		t.Errorf("v2->v3 patched nothing")
	}
	s := status(t, dir)
	if s.LastUpdate == nil || s.LastUpdate.DownloadedBytes != res.DownloadedBytes || s.Pending {
		t.Errorf("status: %+v", s)
	}
	if len(s.Sequences) != 1 || s.Sequences[0].Sequence != 3 {
		t.Errorf("sequences: %+v", s.Sequences)
	}

	res, err = update(t, dir, cfg)
	if err != nil || res.Outcome != device.OutcomeNoUpdate {
		t.Fatalf("after v3: %+v, %v", res, err)
	}
	assertRunning(t, dir, v3)
}

// TestLiarRefusals: answers a device must refuse (security-bar §7 cases
// 27-29); each leaves the current bundle running and installs nothing.
func TestLiarRefusals(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	cases := []struct {
		name string
		lie  func(l *liar)
		want error
	}{
		{"unsigned", func(l *liar) { l.resign = func(sc *api.SignedCheck) { sc.Signature = nil } }, device.ErrUnsigned},
		{"plain answer", func(l *liar) {
			l.rawAnswer = func() []byte { return []byte(`{"type":"patchwire-check/v1","app_id":"com.example.app"}`) }
		}, device.ErrUnsigned},
		{"bad signature", func(l *liar) { l.resign = func(sc *api.SignedCheck) { sc.Signature[7] ^= 1 } }, device.ErrBadSignature},
		{"payload edited after signing", func(l *liar) {
			l.resign = func(sc *api.SignedCheck) {
				sc.Payload = []byte(strings.Replace(string(sc.Payload), `"sequence":`, `"sequence":9`, 1))
			}
		}, device.ErrBadSignature},
		{"unknown key", func(l *liar) {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			l.priv = other
		}, device.ErrUnknownKey},
		{"unknown key claiming the trusted key id", func(l *liar) {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			id := device.KeyID(l.pub)
			l.priv = other
			l.resign = func(sc *api.SignedCheck) { sc.KeyID = id }
		}, device.ErrBadSignature},
		{"wrong type", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.Type = "patchwire-manifest/v1" } }, device.ErrWrongType},
		{"both plan and no_update", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) { a.NoUpdate = &api.NoUpdate{Code: "x"} }
		}, device.ErrWrongType},
		{"other app", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.App = "com.evil.app" } }, device.ErrWrongBinding},
		{"other channel", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.Channel = "beta" } }, device.ErrWrongBinding},
		{"other platform", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.Platform = "ios" } }, device.ErrWrongBinding},
		{"other device", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) { a.DeviceID = "00000000-0000-4000-8000-000000000000" }
		}, device.ErrWrongBinding},
		{"expired", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) {
				a.IssuedAt = time.Now().Add(-2 * time.Hour)
				a.Expires = time.Now().Add(-time.Hour)
			}
		}, device.ErrExpired},
		{"replayed older sequence", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.Sequence = 0 } }, device.ErrRollback},
		{"too large", func(l *liar) {
			l.rawAnswer = func() []byte { return []byte(`{"payload":"` + strings.Repeat("A", device.MaxCheckBytes) + `"}`) }
		}, device.ErrTooLarge},
		{"plan from another bundle", func(l *liar) {
			l.planHook = func(p *api.Plan) { p.From = manifest.Sum([]byte("x")) }
		}, device.ErrBadPlan},
		{"plan that does not rebuild the target", func(l *liar) {
			l.planHook = func(p *api.Plan) { p.Removed = p.Removed[:0] }
		}, device.ErrBadPlan},
		{"target digest lies", func(l *liar) {
			l.planHook = func(p *api.Plan) { p.Target.Manifest = manifest.Sum([]byte("y")) }
		}, device.ErrBadPlan},
		{"target path escapes", func(l *liar) {
			l.planHook = func(p *api.Plan) {
				p.Fetches = append(p.Fetches, api.Fetch{Entry: manifest.Entry{Path: "../../evil.js", Size: 1}, URL: "/o/x"})
			}
		}, device.ErrBadPlan},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLiar(t)
			l.add(v1)
			dir := seeded(t, v1)
			cfg := l.config()
			// A first, honest answer sets the floor to 2 for the replay case.
			l.serve(v1)
			if _, err := update(t, dir, cfg); err != nil {
				t.Fatal(err)
			}
			l.serve(v2)
			l.lie(c.lie)
			res, err := update(t, dir, cfg)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if res.Outcome != device.OutcomeFailed {
				t.Errorf("outcome %s", res.Outcome)
			}
			assertRunning(t, dir, v1)
			if got := bundleDirs(t, dir); len(got) != 1 {
				t.Errorf("bundles: %v", got)
			}
			if reqs := l.objectRequests(); len(reqs) != 0 {
				t.Errorf("downloaded before verifying: %v", reqs)
			}
			// The honest server gets through afterwards.
			l.lie(func(l *liar) {
				l.mutate, l.resign, l.rawAnswer, l.planHook = nil, nil, nil, nil
				_, l.priv, _ = ed25519.GenerateKey(rand.Reader)
			})
			cfg.PublicKeys = []ed25519.PublicKey{l.priv.Public().(ed25519.PublicKey)}
			mustUpdate(t, dir, cfg, v2)
		})
	}
}

// TestLiarObjectLies: objects with wrong bytes, truncated, one byte too
// many, another release's bytes, missing (case 30): the device refuses
// them, installs nothing, and completes once the server stops lying.
func TestLiarObjectLies(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	other := fixture(t, "v3", "x")
	cases := []struct {
		name string
		lie  func(w http.ResponseWriter, r *http.Request, body []byte) bool
	}{
		{"corrupt", func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			b := append([]byte(nil), body...)
			b[len(b)/2] ^= 0x20
			w.Write(b)
			return true
		}},
		{"truncated", func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)-1))
			w.Write(body[:len(body)-1])
			return true
		}},
		{"one byte extra", func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			w.Write(append(append([]byte(nil), body...), '!'))
			return true
		}},
		{"another release's bytes", func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			w.Write(other.files["assets/app.js"])
			return true
		}},
		{"missing", func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			http.NotFound(w, r)
			return true
		}},
		{"server error", func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			http.Error(w, "boom", 503)
			return true
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLiar(t)
			l.add(v1)
			dir := seeded(t, v1)
			cfg := l.config()
			cfg.Retries = 2
			l.serve(v2)
			l.lie(func(l *liar) {
				// Lie about whole objects and patches alike.
				l.objectLie = c.lie
			})
			_, err := update(t, dir, cfg)
			if err == nil {
				t.Fatal("update with lying objects succeeded")
			}
			assertRunning(t, dir, v1)
			if got := bundleDirs(t, dir); len(got) != 1 {
				t.Errorf("bundles: %v", got)
			}
			l.lie(func(l *liar) { l.objectLie = nil })
			mustUpdate(t, dir, cfg, v2)
		})
	}
}
