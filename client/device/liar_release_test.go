package device_test

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client/device"
)

// releaseKey is a release key as CI holds it.
func releaseKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	k, err := checksig.GenerateReleaseKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// statementFor is what CI signs for b (edit may change it first).
func statementFor(t testing.TB, key ed25519.PrivateKey, b *bundle, edit func(*api.ReleaseStatement)) *api.SignedStatement {
	t.Helper()
	st := api.ReleaseStatement{App: testApp, Version: b.version, Manifest: b.m.Digest(), Files: b.m.Len(),
		Size: b.m.TotalSize(), SignedAt: time.Now()}
	if edit != nil {
		edit(&st)
	}
	s, err := checksig.SignRelease(key, st)
	if err != nil {
		t.Fatal(err)
	}
	s.PublicKey = nil // the server does not pass it on
	return &s
}

// rotation is a rotation signed by key.
func rotation(t testing.TB, key ed25519.PrivateKey, r api.KeyRotation) api.SignedStatement {
	t.Helper()
	if r.App == "" {
		r.App = testApp
	}
	s, err := checksig.SignRotation(key, r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLiarReleaseKeys: a device that trusts a release key installs what
// CI signed, and refuses everything else a server holding its own signing
// key can make up: each refusal keeps the device on what it runs and says
// why (errors.Is).
func TestLiarReleaseKeys(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	ci := releaseKey(t)
	other := releaseKey(t) // the server's own, or an attacker's: no device trusts it
	v2b := newBundle(t, v2.version, map[string][]byte{"index.html": []byte("<p>not what CI built</p>")})
	v3 := newBundle(t, "1.0.2", map[string][]byte{"index.html": []byte("<p>v3</p>")})

	cases := []struct {
		name string
		// set up the lie on the liar serving v2 (or the bundle it picks)
		setup func(l *liar) *bundle
		want  error
	}{
		{"signed by CI", func(l *liar) *bundle {
			l.releases[v2.m.Digest()] = statementFor(t, ci, v2, nil)
			return v2
		}, nil},
		{"bundle CI never signed", func(l *liar) *bundle { return v2 }, device.ErrReleaseUnsigned},
		{"statement by an untrusted key", func(l *liar) *bundle {
			l.releases[v2.m.Digest()] = statementFor(t, other, v2, nil)
			return v2
		}, device.ErrReleaseUntrusted},
		{"statement for another app", func(l *liar) *bundle {
			l.releases[v2.m.Digest()] = statementFor(t, ci, v2, func(s *api.ReleaseStatement) { s.App = "com.example.other" })
			return v2
		}, device.ErrReleaseMismatch},
		{"statement for another version", func(l *liar) *bundle {
			// CI signed v3's files as 1.0.2; the server serves them as 1.0.1.
			relabeled := &bundle{version: v2.version, m: v3.m, files: v3.files}
			l.releases[v3.m.Digest()] = statementFor(t, ci, v3, nil)
			return relabeled
		}, device.ErrReleaseMismatch},
		{"reused statement with other files", func(l *liar) *bundle {
			// v2's statement, handed out with other files under v2's version.
			l.releases[v2b.m.Digest()] = statementFor(t, ci, v2, nil)
			return v2b
		}, device.ErrReleaseMismatch},
		{"statement edited after signing", func(l *liar) *bundle {
			s := statementFor(t, ci, v2, nil)
			s.Payload = append([]byte(nil), s.Payload...)
			s.Payload[len(s.Payload)-1] ^= 1
			l.releases[v2.m.Digest()] = s
			return v2
		}, checksig.ErrReleaseBadSignature},
		{"statement for another platform", func(l *liar) *bundle {
			l.releases[v2.m.Digest()] = statementFor(t, ci, v2, func(s *api.ReleaseStatement) { s.Platforms = []string{"ios"} })
			return v2
		}, device.ErrReleaseMismatch},
		{"statement for other native versions", func(l *liar) *bundle {
			l.releases[v2.m.Digest()] = statementFor(t, ci, v2, func(s *api.ReleaseStatement) { s.NativeRange = ">=2.0.0" })
			return v2
		}, device.ErrReleaseMismatch},
		{"expired freshness", func(l *liar) *bundle {
			l.releases[v2.m.Digest()] = statementFor(t, ci, v2, nil)
			l.mutate = func(a *api.CheckAnswer) {
				a.IssuedAt, a.Expires = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
			}
			return v2
		}, device.ErrExpired},
		{"rotation signed by an untrusted key", func(l *liar) *bundle {
			l.chain = []api.SignedStatement{rotation(t, other, api.KeyRotation{Sequence: 1, AddRelease: [][]byte{pubOf(other)}})}
			l.releases[v2.m.Digest()] = statementFor(t, other, v2, nil)
			return v2
		}, device.ErrRotationRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLiar(t)
			l.add(v1)
			dir := seeded(t, v1)
			cfg := l.config()
			cfg.ReleaseKeys = []ed25519.PublicKey{pubOf(ci)}
			var target *bundle
			l.lie(func(l *liar) { target = tc.setup(l) })
			l.serve(target)
			res, err := update(t, dir, cfg)
			if tc.want == nil {
				if err != nil || res.Outcome != device.OutcomeUpdated || res.ReleaseKey != checksig.KeyID(pubOf(ci)) {
					t.Fatalf("update: %+v, %v", res, err)
				}
				assertRunning(t, dir, target)
				return
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, tc.want) {
				t.Fatalf("update: %v, want %v", err, tc.want)
			}
			if res.Outcome != device.OutcomeFailed || !strings.Contains(res.Error, tc.want.Error()) {
				t.Errorf("result %s %q does not say why (%v)", res.Outcome, res.Error, tc.want)
			}
			assertRunning(t, dir, v1)
		})
	}
}

// TestLiarReleaseReplay: after installing a signed v2 at sequence 5, the
// server replays an older answer (sequence 3) with a valid statement for
// v1: refused as a rollback, even after the device looked for a rotation
// that could reset its floors.
func TestLiarReleaseReplay(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	ci := releaseKey(t)
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	cfg.ReleaseKeys = []ed25519.PublicKey{pubOf(ci)}
	l.lie(func(l *liar) {
		l.releases[v1.m.Digest()] = statementFor(t, ci, v1, nil)
		l.releases[v2.m.Digest()] = statementFor(t, ci, v2, nil)
		l.sequence = 4
	})
	l.serve(v2)
	mustUpdate(t, dir, cfg, v2)
	l.lie(func(l *liar) { l.target, l.sequence = v1, 3 })
	_, err := update(t, dir, cfg)
	if !errors.Is(err, device.ErrRollback) {
		t.Fatalf("replayed older answer: %v, want ErrRollback", err)
	}
	assertRunning(t, dir, v2)
	if l.chainGets != 1 {
		t.Errorf("chain fetched %d times, want once (the rollback looked for a floor reset)", l.chainGets)
	}
}

// TestLiarReleaseRotation: keys change only through rotations signed by a
// key the device trusts: a new release key, revoking the old one, a new
// server key, and a floor reset for a restored server; each applied once
// and recorded in trust.json.
func TestLiarReleaseRotation(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	v3 := newBundle(t, "1.0.2", map[string][]byte{"index.html": []byte("<p>v3</p>")})
	v4 := newBundle(t, "1.0.3", map[string][]byte{"index.html": []byte("<p>v4</p>")})
	v5 := newBundle(t, "1.0.4", map[string][]byte{"index.html": []byte("<p>v5</p>")})
	old, next := releaseKey(t), releaseKey(t)
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	cfg.ReleaseKeys = []ed25519.PublicKey{pubOf(old)}

	// 1. The old key introduces the new one and revokes itself; v2 is
	// signed by the new key.
	l.lie(func(l *liar) {
		l.chain = []api.SignedStatement{rotation(t, old, api.KeyRotation{Sequence: 1, AddRelease: [][]byte{pubOf(next)},
			Revoke: []string{checksig.KeyID(pubOf(old))}, Reason: "CI moved"})}
		l.releases[v2.m.Digest()] = statementFor(t, next, v2, nil)
	})
	l.serve(v2)
	res := mustUpdate(t, dir, cfg, v2)
	if res.ReleaseKey != checksig.KeyID(pubOf(next)) {
		t.Errorf("verified with %s, want the new key", res.ReleaseKey)
	}
	tr, err := os.ReadFile(filepath.Join(dir, "trust.json"))
	if err != nil || !strings.Contains(string(tr), `"sequence": 1`) && !strings.Contains(string(tr), `"sequence":1`) {
		t.Errorf("trust.json does not record rotation 1: %s %v", tr, err)
	}

	// 2. The revoked key signs v3: refused, though the app build still
	// lists it.
	l.lie(func(l *liar) { l.releases[v3.m.Digest()] = statementFor(t, old, v3, nil) })
	l.serve(v3)
	if _, err := update(t, dir, cfg); !errors.Is(err, device.ErrReleaseUntrusted) {
		t.Fatalf("statement by the revoked key: %v, want ErrReleaseUntrusted", err)
	}
	assertRunning(t, dir, v2)

	// 3. A new server key, introduced by the new release key: answers
	// signed with it verify once the rotation is applied.
	server2 := releaseKey(t)
	l.lie(func(l *liar) {
		l.chain = append(l.chain, rotation(t, next, api.KeyRotation{Sequence: 2, AddServer: [][]byte{pubOf(server2)}}))
		l.priv = server2
		l.releases[v3.m.Digest()] = statementFor(t, next, v3, nil)
	})
	l.serve(v3)
	mustUpdate(t, dir, cfg, v3)

	// 4. The server is restored from an old backup: its sequences start
	// over. Refused as a rollback until a rotation resets the floors.
	l.lie(func(l *liar) { l.sequence = 0; l.releases[v4.m.Digest()] = statementFor(t, next, v4, nil) })
	l.serve(v4) // sequence 1, below the floor
	if _, err := update(t, dir, cfg); !errors.Is(err, device.ErrRollback) {
		t.Fatalf("restored server without a reset: %v, want ErrRollback", err)
	}
	assertRunning(t, dir, v3)
	l.lie(func(l *liar) {
		l.chain = append(l.chain, rotation(t, next, api.KeyRotation{Sequence: 3, ResetFloors: true, Reason: "restored"}))
	})
	mustUpdate(t, dir, cfg, v4)

	// 5. A rotation out of sequence, or signed by the revoked key, is
	// refused; the chain so far stays applied.
	l.lie(func(l *liar) {
		l.chain = append(l.chain, rotation(t, old, api.KeyRotation{Sequence: 4, AddRelease: [][]byte{pubOf(old)}}))
		l.releases[v5.m.Digest()] = statementFor(t, old, v5, nil)
	})
	l.serve(v5)
	if _, err := update(t, dir, cfg); !errors.Is(err, device.ErrRotationRefused) || !errors.Is(err, device.ErrReleaseUntrusted) {
		t.Fatalf("rotation by the revoked key: %v, want ErrRotationRefused and ErrReleaseUntrusted", err)
	}
	assertRunning(t, dir, v4)
	st := status(t, dir)
	var kinds []string
	for _, e := range st.History {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, " "); strings.Count(got, "release_keys_rotated") != 3 || !strings.Contains(got, "rotation_refused") {
		t.Errorf("history: %s", got)
	}
	// The status names what the device trusts now: the new release key
	// (the old one revoked), the server key rotation 2 added, and the
	// three rotations applied.
	want := &device.ReleaseTrust{Keys: []string{checksig.KeyID(pubOf(next))}, ServerKeys: []string{checksig.KeyID(pubOf(server2))},
		Rotations: 3, Sequence: 3}
	if !reflect.DeepEqual(st.Release, want) {
		t.Errorf("status release trust %+v, want %+v", st.Release, want)
	}
}

// TestReleaseKeyUnused: a device without release keys ignores statements
// (and installs unsigned bundles, as before).
func TestReleaseKeyUnused(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	l.serve(v2)
	res := mustUpdate(t, dir, l.config(), v2)
	if res.ReleaseKey != "" {
		t.Errorf("release key %q without release keys", res.ReleaseKey)
	}
	if rt := status(t, dir).Release; rt != nil {
		t.Errorf("status release trust %+v without release keys", rt)
	}
}
