package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
)

func testReleaseKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := checksig.GenerateReleaseKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestCommitRelease: a release statement is stored with its bundle only
// when it is whole and about exactly that bundle; a refused one writes
// nothing.
func TestCommitRelease(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	files := someFiles(3, "rel")
	putFiles(t, s, files...)
	m := manifestOf(t, files...)
	key := testReleaseKey(t)
	sign := func(edit func(*api.ReleaseStatement)) *api.SignedStatement {
		st := api.ReleaseStatement{App: "app", Version: "1.0.0", Manifest: m.Digest(), Files: m.Len(), Size: m.TotalSize(), SignedAt: time.Now()}
		if edit != nil {
			edit(&st)
		}
		ss, err := checksig.SignRelease(key, st)
		if err != nil {
			t.Fatal(err)
		}
		return &ss
	}
	other := testReleaseKey(t)
	cases := []struct {
		name string
		rel  func() *api.SignedStatement
	}{
		{"another app", func() *api.SignedStatement { return sign(func(s *api.ReleaseStatement) { s.App = "other" }) }},
		{"another version", func() *api.SignedStatement { return sign(func(s *api.ReleaseStatement) { s.Version = "1.0.1" }) }},
		{"another manifest", func() *api.SignedStatement { return sign(func(s *api.ReleaseStatement) { s.Files++ }) }},
		{"unknown platform", func() *api.SignedStatement {
			return sign(func(s *api.ReleaseStatement) { s.Platforms = []string{"windows"} })
		}},
		{"public key not the signer", func() *api.SignedStatement {
			ss := sign(nil)
			ss.PublicKey = other.Public().(ed25519.PublicKey)
			return ss
		}},
		{"no public key", func() *api.SignedStatement { ss := sign(nil); ss.PublicKey = nil; return ss }},
		{"signature broken", func() *api.SignedStatement { ss := sign(nil); ss.Signature[0] ^= 1; return ss }},
		{"garbage payload", func() *api.SignedStatement { ss := sign(nil); ss.Payload = []byte("x"); return ss }},
	}
	before := allKeys(t, s)
	for _, tc := range cases {
		if _, err := s.CommitBundle(ctx, "app", "1.0.0", m, api.BundleMeta{Release: tc.rel()}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
	if after := allKeys(t, s); len(after) != len(before) {
		t.Fatalf("refused commits wrote %d keys", len(after)-len(before))
	}
	good := sign(nil)
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", m, api.BundleMeta{Release: good}); err != nil {
		t.Fatal(err)
	}
	b, err := s.GetBundle(ctx, "app", "1.0.0")
	if err != nil || b.Release == nil || string(b.Release.Payload) != string(good.Payload) {
		t.Fatalf("stored bundle %+v, %v", b, err)
	}
}

// TestReleaseRotations: the chain grows one verified rotation at a time,
// in sequence, never signed by a key an earlier rotation revoked.
func TestReleaseRotations(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	k1, k2 := testReleaseKey(t), testReleaseKey(t)
	rot := func(k ed25519.PrivateKey, r api.KeyRotation) api.SignedStatement {
		if r.App == "" {
			r.App = "app"
		}
		ss, err := checksig.SignRotation(k, r)
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	id1 := checksig.KeyID(k1.Public().(ed25519.PublicKey))
	steps := []struct {
		name string
		app  string
		r    api.SignedStatement
		want error // nil: appended
	}{
		{"out of sequence", "app", rot(k1, api.KeyRotation{Sequence: 2, ResetFloors: true}), ErrInvalid},
		{"for another app", "app", rot(k1, api.KeyRotation{App: "other", Sequence: 1}), ErrInvalid},
		{"unknown app", "nope", rot(k1, api.KeyRotation{App: "nope", Sequence: 1}), ErrNotFound},
		{"first", "app", rot(k1, api.KeyRotation{Sequence: 1, AddRelease: [][]byte{k2.Public().(ed25519.PublicKey)}, Revoke: []string{id1}}), nil},
		{"by the revoked key", "app", rot(k1, api.KeyRotation{Sequence: 2, ResetFloors: true}), ErrInvalid},
		{"second", "app", rot(k2, api.KeyRotation{Sequence: 2, ResetFloors: true}), nil},
	}
	n := 0
	for _, st := range steps {
		_, err := s.AddReleaseRotation(ctx, st.app, st.r)
		if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
			t.Errorf("%s: %v, want %v", st.name, err, st.want)
		}
		if st.want == nil {
			n++
		}
		chain, err := s.ReleaseRotations(ctx, "app")
		if err != nil || len(chain) != n {
			t.Fatalf("%s: chain of %d, %v; want %d", st.name, len(chain), err, n)
		}
	}
}
