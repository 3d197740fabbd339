package checksig_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
)

func answer() api.CheckAnswer {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	return api.CheckAnswer{Type: api.CheckAnswerType, App: "com.example.app", Channel: "production",
		Platform: "android", DeviceID: "0f673663-459a-44c0-a7f5-000000000001", IssuedAt: now,
		Expires: now.Add(time.Hour), NoUpdate: &api.NoUpdate{Code: "no_new_version_available"}}
}

func TestSignVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	a := answer()
	sc, err := checksig.Sign(priv, a)
	if err != nil {
		t.Fatal(err)
	}
	sub := checksig.Subject(a)
	tampered := sc
	tampered.Payload = append([]byte(nil), sc.Payload...)
	tampered.Payload[len(tampered.Payload)-1] ^= 1
	noID := sc
	noID.KeyID = ""
	otherDevice := sub
	otherDevice.DeviceID = "0f673663-459a-44c0-a7f5-000000000002"
	junk := []byte("not an answer")
	scWrong := api.SignedCheck{Payload: junk, Signature: ed25519.Sign(priv, api.SignedMessage(sub, junk)), KeyID: sc.KeyID}
	for _, tc := range []struct {
		name string
		sc   api.SignedCheck
		keys []ed25519.PublicKey
		sub  api.Subject
		want error
	}{
		{"good", sc, []ed25519.PublicKey{other, pub}, sub, nil},
		{"good without key id", noID, []ed25519.PublicKey{other, pub}, sub, nil},
		{"other device", sc, []ed25519.PublicKey{pub}, otherDevice, checksig.ErrBadSignature},
		{"tampered payload", tampered, []ed25519.PublicKey{pub}, sub, checksig.ErrBadSignature},
		{"untrusted key", sc, []ed25519.PublicKey{other}, sub, checksig.ErrUnknownKey},
		{"no keys", sc, nil, sub, checksig.ErrUnknownKey},
		{"unsigned", api.SignedCheck{Payload: sc.Payload}, []ed25519.PublicKey{pub}, sub, checksig.ErrUnsigned},
		{"short signature", api.SignedCheck{Payload: sc.Payload, Signature: []byte{1}}, []ed25519.PublicKey{pub}, sub, checksig.ErrBadSignature},
		{"not a check answer", scWrong, []ed25519.PublicKey{pub}, sub, checksig.ErrWrongType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checksig.Verify(tc.sc, tc.keys, tc.sub)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && (got.DeviceID != a.DeviceID || got.NoUpdate == nil) {
				t.Errorf("answer %+v", got)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	got, err := checksig.ParsePublicKey(checksig.PublicKeyBase64(pub))
	if err != nil || !got.Equal(pub) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "AAAA", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"} {
		if _, err := checksig.ParsePublicKey(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if id := checksig.KeyID(pub); len(id) != 16 {
		t.Errorf("key id %q", id)
	}
}

// FuzzParseVerify: no body, however made, panics the parser or verifies
// with a key that did not sign it.
func FuzzParseVerify(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	a := answer()
	sc, _ := checksig.Sign(priv, a)
	body, _ := sc.MarshalBinary()
	f.Add(body)
	f.Add([]byte{})
	other, _, _ := ed25519.GenerateKey(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := checksig.Parse(b)
		if err != nil {
			return
		}
		if _, err := checksig.Verify(sc, []ed25519.PublicKey{other}, checksig.Subject(a)); err == nil {
			t.Fatal("verified with a key that never signed")
		}
		_, _ = checksig.Verify(sc, []ed25519.PublicKey{pub}, checksig.Subject(a))
	})
}
