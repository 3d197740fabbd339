package device_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/step"
)

// TestLiarUpdateChain: v1 -> v2 -> v3 against an honest simulator, with
// steps that patch, copy, remove and fetch objects; then nothing to do.
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
	// The step, plus new.txt (not web code: an object).
	l.mu.Lock()
	stepSize := l.lastStep.Size
	l.mu.Unlock()
	if want := stepSize + int64(len(v2.files["new.txt"])); res.PlannedBytes != want || res.Fallbacks != 0 || res.Fetched != 1 {
		t.Errorf("v1->v2: planned %d bytes (want %d), %d fallbacks, %d fetched", res.PlannedBytes, want, res.Fallbacks, res.Fetched)
	}
	if reqs := l.objectRequests(); contains(reqs, "/m/"+v2.m.Digest().String()) {
		t.Errorf("v1->v2 fetched the target manifest: %v", reqs)
	}
	if got := bundleDirs(t, dir); strings.Join(got, ",") != "1.0.1,builtin" {
		t.Errorf("bundles after ready: %v", got)
	}

	l.serve(v3)
	res = mustUpdate(t, dir, cfg, v3)
	if res.Patched != 5 || res.Fetched != 0 || res.Fallbacks != 0 {
		t.Errorf("v2->v3: patched %d (want app.js, style.css, vendor.js, logo.png, index.html), fetched %d, %d fallbacks", res.Patched, res.Fetched, res.Fallbacks)
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

// TestLiarFleetAnswers: fleet answers (signed for the request the device
// sent, not its id) are taken like device answers: an update, then
// nothing to do.
func TestLiarFleetAnswers(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	l.serve(v2)
	l.lie(func(l *liar) {
		l.mutate = func(a *api.CheckAnswer) { a.Audience, a.DeviceID = api.AudienceFleet, "" }
	})
	mustUpdate(t, dir, cfg, v2)
	res, err := update(t, dir, cfg)
	if err != nil || res.Outcome != device.OutcomeNoUpdate {
		t.Fatalf("after v2: %+v, %v", res, err)
	}
	assertRunning(t, dir, v2)
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
		{"unsigned", func(l *liar) {
			l.rawAnswer = func() []byte { return []byte("PW\x03\x00") } // the envelope's header, no signature
		}, device.ErrUnsigned},
		{"plain answer", func(l *liar) {
			l.rawAnswer = func() []byte { return []byte(`{"t":"patchwire-check/2","app":"com.example.app"}`) }
		}, device.ErrUnsigned},
		{"bad signature", func(l *liar) { l.resign = func(sc *api.SignedCheck) { sc.Signature[7] ^= 1 } }, device.ErrBadSignature},
		{"payload edited after signing", func(l *liar) {
			l.resign = func(sc *api.SignedCheck) {
				var a api.CheckAnswer
				if err := a.UnmarshalBinary(sc.Payload); err != nil {
					t.Error(err)
				}
				a.Sequence += 9
				sc.Payload, _ = a.MarshalBinary()
			}
		}, device.ErrBadSignature},
		{"unknown key", func(l *liar) {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			l.priv = other
		}, device.ErrUnknownKey},
		{"unknown key claiming the trusted key id", func(l *liar) {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			id := checksig.KeyID(l.pub)
			l.priv = other
			l.resign = func(sc *api.SignedCheck) { sc.KeyID = id }
		}, device.ErrBadSignature},
		{"signed without the context", func(l *liar) {
			l.resign = func(sc *api.SignedCheck) { sc.Signature = ed25519.Sign(l.priv, sc.Payload) }
		}, device.ErrBadSignature},
		{"signed payload not a check answer", func(l *liar) {
			l.payloadLie = func([]byte) []byte { return []byte(`{"t":"patchwire-manifest/1"}`) }
		}, device.ErrWrongType},
		{"signed payload with bytes after the answer", func(l *liar) {
			l.payloadLie = func(p []byte) []byte { return append(append([]byte(nil), p...), 0) }
		}, device.ErrWrongType},
		{"signed payload cut short", func(l *liar) {
			l.payloadLie = func(p []byte) []byte { return p[:len(p)-1] }
		}, device.ErrWrongType},
		{"signed payload of an unknown kind", func(l *liar) {
			l.payloadLie = func(p []byte) []byte {
				var a api.CheckAnswer
				a.UnmarshalBinary(p)
				a.Update, a.NoUpdate = nil, &api.NoUpdate{}
				b, _ := a.MarshalBinary()
				b[len(b)-3] = 7 // the kind byte, before two empty strings (code, message)
				return b
			}
		}, device.ErrWrongType},
		// The subject (app, platform, device) is signed, not sent: an
		// answer made for another one does not verify.
		{"signed for another app", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.App = "com.evil.app" } }, device.ErrBadSignature},
		{"other channel", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.Channel = "beta" } }, device.ErrWrongBinding},
		{"signed for another platform", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.Platform = "ios" } }, device.ErrBadSignature},
		{"signed for another device", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) { a.DeviceID = "00000000-0000-4000-8000-000000000000" }
		}, device.ErrBadSignature},
		// A fleet answer is signed for the request but for the device id:
		// one made for a device on another bundle, native version or
		// channel does not verify, nor an answer whose audience changed.
		{"fleet answer for another current bundle", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) { a.Audience, a.Base.Current.Version = api.AudienceFleet, "0.9.0" }
		}, device.ErrBadSignature},
		{"fleet answer for another native version", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) { a.Audience, a.Base.NativeVersion = api.AudienceFleet, "9.0.0" }
		}, device.ErrBadSignature},
		{"fleet answer for another channel asked", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) { a.Audience, a.Base.Channel = api.AudienceFleet, "beta" }
		}, device.ErrBadSignature},
		{"device answer turned fleet", func(l *liar) {
			l.resign = func(sc *api.SignedCheck) { sc.Payload[0] = byte(api.AudienceFleet) }
		}, device.ErrBadSignature},
		{"fleet answer turned device", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) { a.Audience = api.AudienceFleet }
			l.resign = func(sc *api.SignedCheck) { sc.Payload[0] = byte(api.AudienceDevice) }
		}, device.ErrBadSignature},
		{"expired", func(l *liar) {
			l.mutate = func(a *api.CheckAnswer) {
				a.IssuedAt = time.Now().Add(-2 * time.Hour)
				a.Expires = time.Now().Add(-time.Hour)
			}
		}, device.ErrExpired},
		{"replayed older sequence", func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.Sequence = 0 } }, device.ErrRollback},
		{"too large", func(l *liar) {
			l.rawAnswer = func() []byte { return []byte(`{"p":"` + strings.Repeat("A", device.MaxCheckBytes) + `"}`) }
		}, device.ErrTooLarge},
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
				l.mutate, l.resign, l.rawAnswer, l.payloadLie = nil, nil, nil, nil
				_, l.priv, _ = ed25519.GenerateKey(rand.Reader)
			})
			cfg.PublicKeys = []ed25519.PublicKey{l.priv.Public().(ed25519.PublicKey)}
			mustUpdate(t, dir, cfg, v2)
		})
	}
}

// TestLiarUpdateLies: signed updates no step and no fallback can satisfy
// (a target digest nothing hashes to, a target whose counts lie, a target
// manifest with an escaping path, no step, a step back to the built-in
// bundle) fail with ErrBadPlan: nothing installed, no file fetched.
func TestLiarUpdateLies(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	// A canonical encoding naming "../../evil.js": manifest.Decode refuses it.
	evil := []byte("patchwire-manifest/1\n" + manifest.Sum([]byte("x")).String() + " 1 ../../evil.js\n")
	cases := []struct {
		name string
		lie  func(l *liar)
	}{
		{"target digest lies", func(l *liar) {
			l.updateHook = func(u *api.Update) { u.Target.Manifest = manifest.Sum([]byte("y")) }
		}},
		{"target file count lies", func(l *liar) {
			l.updateHook = func(u *api.Update) { u.Target.Files++ }
		}},
		{"target size lies", func(l *liar) {
			l.updateHook = func(u *api.Update) { u.Target.Size-- }
		}},
		{"target manifest with an escaping path", func(l *liar) {
			l.objects["/m/"+manifest.Sum(evil).String()] = evil
			l.stepHook = func(s *step.Step) {
				s.Writes = append(s.Writes, step.Write{Path: "../../evil.js", Kind: step.Object, Size: 1, Digest: manifest.Sum([]byte("x"))})
				sort.Slice(s.Writes, func(i, j int) bool { return s.Writes[i].Path < s.Writes[j].Path })
			}
			l.updateHook = func(u *api.Update) {
				u.Target = api.TargetBundle{Version: "1.0.1", Manifest: manifest.Sum(evil), Files: 1, Size: 1}
			}
		}},
		{"update without a step", func(l *liar) {
			l.updateHook = func(u *api.Update) { u.Step = nil }
		}},
		{"built-in bundle with a step", func(l *liar) {
			l.builtin = true
			l.updateHook = func(u *api.Update) { u.Step = &api.StepRef{Digest: manifest.Sum([]byte("s")), Size: 1} }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLiar(t)
			l.add(v1)
			dir := seeded(t, v1)
			cfg := l.config()
			l.serve(v2)
			l.lie(c.lie)
			res, err := update(t, dir, cfg)
			if !errors.Is(err, device.ErrBadPlan) || res.Outcome != device.OutcomeFailed {
				t.Fatalf("got %v (%s), want %v", err, res.Outcome, device.ErrBadPlan)
			}
			assertRunning(t, dir, v1)
			if got := bundleDirs(t, dir); len(got) != 1 {
				t.Errorf("bundles: %v", got)
			}
			assertNoEscape(t, dir)
			for _, r := range l.objectRequests() {
				if !strings.HasPrefix(r, "/m/") && r != l.stepURL() {
					t.Errorf("fetched %s for an update that cannot be right", r)
				}
			}
			l.lie(func(l *liar) { l.stepHook, l.updateHook, l.builtin = nil, nil, false })
			mustUpdate(t, dir, cfg, v2)
		})
	}
}

// TestLiarStepLies: steps that lie (from another bundle, writing outside
// the bundle, removing or writing what the target does not have, a wrong
// size in the signed reference) cost bytes, never correctness: the device
// falls back to the signed target manifest and installs the target.
func TestLiarStepLies(t *testing.T) {
	v1, v2, v3 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1"), fixture(t, "v3", "1.0.2")
	// why is in the device's warning that the step is unusable.
	cases := []struct {
		name, why string
		lie       func(l *liar)
	}{
		{"step from another bundle", "does not start from", func(l *liar) {
			l.stepBytes = func([]byte) []byte {
				from, s := l.makeStep(v3.m.Digest(), v2)
				b, err := step.Encode(from.m, s)
				if err != nil {
					l.t.Error(err)
				}
				return b
			}
		}},
		{"step from the empty manifest to another bundle", "it rebuilds manifest", func(l *liar) {
			l.stepBytes = func([]byte) []byte {
				from, s := l.makeStep(manifest.Sum([]byte("unknown")), v3)
				b, err := step.Encode(from.m, s)
				if err != nil {
					l.t.Error(err)
				}
				return b
			}
		}},
		{"step writes ../../evil.js", "unsafe_path", func(l *liar) {
			l.stepHook = func(s *step.Step) {
				s.Writes = append(s.Writes, step.Write{Path: "../../evil.js", Kind: step.Object, Size: 1, Digest: manifest.Sum([]byte("x"))})
				sort.Slice(s.Writes, func(i, j int) bool { return s.Writes[i].Path < s.Writes[j].Path })
			}
			l.objects["/o/"+manifest.Sum([]byte("x")).String()] = []byte("x")
		}},
		{"step writes an absolute path", "unsafe_path", func(l *liar) {
			l.stepHook = func(s *step.Step) {
				s.Writes = append([]step.Write{{Path: "/tmp/evil.js", Kind: step.Object, Size: 1, Digest: manifest.Sum([]byte("x"))}}, s.Writes...)
			}
		}},
		{"step writes an extra file", "it rebuilds manifest", func(l *liar) {
			l.stepHook = func(s *step.Step) {
				s.Writes = append(s.Writes, step.Write{Path: "zzz.js", Kind: step.Copy, Source: 0})
			}
		}},
		{"step removes a kept file", "it rebuilds manifest", func(l *liar) {
			l.stepHook = func(s *step.Step) { s.Removed = []int{1, 5} } // assets/style.css too
		}},
		{"signed step size lies", "announced", func(l *liar) {
			l.updateHook = func(u *api.Update) { u.Step.Size-- }
		}},
		{"step bigger than any bundle", "step of", func(l *liar) {
			l.updateHook = func(u *api.Update) { u.Step.Size = 1 << 50 }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, dir := updateThroughFallback(t, v1, v2, v3, c.lie, c.why)
			assertNoEscape(t, dir)
		})
	}
}

// assertNoEscape checks that no evil.js was written near the state
// directory.
func assertNoEscape(t testing.TB, dir string) {
	t.Helper()
	for _, d := range []string{dir, filepath.Dir(dir), filepath.Join(dir, "bundles"), "/tmp"} {
		if _, err := os.Stat(filepath.Join(d, "evil.js")); err == nil {
			t.Fatalf("%s/evil.js was written", d)
		}
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
