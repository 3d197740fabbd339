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

// TestFleetAnswer: a fleet answer verifies for every device of the app and
// platform that sent the same base, a device answer only for its device;
// the audience byte is signed; another app, platform or base fails.
func TestFleetAnswer(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	keys := []ed25519.PublicKey{pub}
	req := api.CheckRequest{App: "com.example.app", DeviceID: "0f673663-459a-44c0-a7f5-000000000001", Platform: "android",
		NativeVersion: "1.0.0", Current: api.CurrentBundle{Version: "1.0.3"}}
	sub := req.Subject()
	sign := func(aud api.Audience) api.SignedCheck {
		a := answer()
		a.Audience, a.Base = aud, sub.Base
		sc, err := checksig.Sign(priv, a)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	fleet, device := sign(api.AudienceFleet), sign(api.AudienceDevice)
	flip := func(sc api.SignedCheck) api.SignedCheck {
		sc.Payload = append([]byte(nil), sc.Payload...)
		sc.Payload[0] ^= 1
		return sc
	}
	with := func(f func(*api.Subject)) api.Subject {
		o := sub
		f(&o)
		return o
	}
	otherDevice := with(func(s *api.Subject) { s.DeviceID = "0f673663-459a-44c0-a7f5-000000000002" })
	for _, tc := range []struct {
		name string
		sc   api.SignedCheck
		sub  api.Subject
		want error
	}{
		{"fleet, the device that asked", fleet, sub, nil},
		{"fleet, another device of the app", fleet, otherDevice, nil},
		{"device, the device that asked", device, sub, nil},
		{"device, another device", device, otherDevice, checksig.ErrBadSignature},
		{"device, another base of the same device", device, with(func(s *api.Subject) { s.Base.Current.Version = "1.0.2" }), nil},
		{"fleet made device", flip(fleet), otherDevice, checksig.ErrBadSignature},
		{"fleet made device, the device that asked", flip(fleet), sub, checksig.ErrBadSignature},
		{"device made fleet", flip(device), otherDevice, checksig.ErrBadSignature},
		{"fleet, another app", fleet, with(func(s *api.Subject) { s.App = "com.example.other" }), checksig.ErrBadSignature},
		{"fleet, another platform", fleet, with(func(s *api.Subject) { s.Platform = "ios" }), checksig.ErrBadSignature},
		{"fleet, another current bundle", fleet, with(func(s *api.Subject) { s.Base.Current.Version = "1.0.2" }), checksig.ErrBadSignature},
		{"fleet, another native version", fleet, with(func(s *api.Subject) { s.Base.NativeVersion = "2.0.0" }), checksig.ErrBadSignature},
		{"fleet, another channel asked", fleet, with(func(s *api.Subject) { s.Base.Channel = "beta" }), checksig.ErrBadSignature},
		{"fleet, a dev build", fleet, with(func(s *api.Subject) { s.Base.IsDev = true }), checksig.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checksig.Verify(tc.sc, keys, tc.sub)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if got.DeviceID != tc.sub.DeviceID || got.Base != tc.sub.Base || got.App != tc.sub.App {
				t.Errorf("subject not filled in: %+v", got)
			}
			if again, err := checksig.Sign(priv, *got); err != nil || string(again.Signature) != string(tc.sc.Signature) {
				t.Errorf("the verified answer signs to another signature: %v", err)
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
	fa := a
	fa.Audience = api.AudienceFleet
	fsc, _ := checksig.Sign(priv, fa)
	fbody, _ := fsc.MarshalBinary()
	f.Add(fbody)
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
