package device_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/manifest"
)

var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// fuzzSubject is the device the fuzzed answers are for, and the request it
// sent (what a fleet answer is signed for).
var fuzzSubject = api.Subject{App: testApp, Platform: "android", DeviceID: "d",
	Base: api.Base{NativeVersion: "1.0.0", Current: api.CurrentBundle{Version: "1.0.0", Manifest: manifest.Sum([]byte("cur"))}}}

func fuzzSeeds(f *testing.F) (bodies, payloads [][]byte) {
	now := time.Unix(1_800_000_000, 0).UTC()
	e := manifest.Entry{Path: "a.js", Digest: manifest.Sum([]byte("a")), Size: 1}
	to, _ := manifest.New([]manifest.Entry{e}, manifest.DefaultLimits())
	head := api.CheckAnswer{Type: api.CheckAnswerType, App: testApp, Channel: testChannel, Platform: "android", DeviceID: "d",
		Base: fuzzSubject.Base, IssuedAt: now, Expires: now.Add(time.Hour)}
	noUpdate, update, builtin := head, head, head
	noUpdate.Sequence, noUpdate.NoUpdate = 3, &api.NoUpdate{Code: "no_new_version_available"}
	update.Sequence, update.Update = 4, &api.Update{
		Target: api.TargetBundle{Version: "1.0.1", Manifest: to.Digest(), Files: to.Len(), Size: to.TotalSize()},
		Step:   &api.StepRef{Digest: manifest.Sum([]byte("step")), Size: 120},
	}
	builtin.Sequence, builtin.Update = 5, &api.Update{Target: api.TargetBundle{Version: device.BuiltinVersion}}
	fleet := update
	fleet.Audience = api.AudienceFleet
	answers := []api.CheckAnswer{noUpdate, update, builtin, fleet}
	for _, a := range answers {
		sc := sign(f, fuzzKey, a)
		b, _ := sc.MarshalBinary()
		bodies = append(bodies, b)
		payloads = append(payloads, sc.Payload)
		// Cut and extended forms.
		bodies = append(bodies, b[:len(b)-3], append(append([]byte(nil), b...), 7))
		payloads = append(payloads, sc.Payload[:len(sc.Payload)/2])
	}
	bodies = append(bodies, []byte(`{}`), []byte("PW\x03"), []byte("PW\x03\x08"), []byte(`{"p":{"ch":"production"},"s":"AAAA","k":"x"}`))
	payloads = append(payloads, []byte{}, []byte{0x01, 'x', 0x01, 0x00, 0x00, 0x02}, []byte(`[]`))
	return bodies, payloads
}

// FuzzVerifyCheck: any answer body -> no panic; accepted only when the
// envelope carries a signature by the trusted key over the context string
// and the exact payload.
func FuzzVerifyCheck(f *testing.F) {
	bodies, _ := fuzzSeeds(f)
	for _, b := range bodies {
		f.Add(b)
	}
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := device.VerifyCheck(body, []ed25519.PublicKey{pub}, fuzzSubject)
		if err != nil {
			return
		}
		sc, err := checksig.Parse(body)
		if err != nil {
			t.Fatalf("accepted a body ParseSignedCheck refuses: %v", err)
		}
		if !ed25519.Verify(pub, api.SignedMessage(fuzzSubject, sc.Payload), sc.Signature) {
			t.Fatal("accepted an answer whose signature does not verify")
		}
		// A fleet answer verifies for every device that sent the same
		// request, a device answer for this device only.
		other := fuzzSubject
		other.DeviceID = "e"
		if _, err := device.VerifyCheck(body, []ed25519.PublicKey{pub}, other); (err == nil) != (ans.Audience == api.AudienceFleet) {
			t.Fatalf("audience %d, verified for another device: %v", ans.Audience, err)
		}
		exercise(t, ans)
	})
}

// FuzzSignedPayload: any payload, correctly signed -> no panic; accepted
// only as a well-formed check answer, and whatever follows (binding,
// target rebuild) does not panic either.
func FuzzSignedPayload(f *testing.F) {
	_, payloads := fuzzSeeds(f)
	for _, p := range payloads {
		f.Add(p)
	}
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, payload []byte) {
		sc := signPayload(fuzzKey, fuzzSubject, payload)
		ans, err := checksig.Verify(sc, []ed25519.PublicKey{pub}, fuzzSubject)
		if err != nil {
			if len(payload) > 0 && !errors.Is(err, device.ErrWrongType) && !errors.Is(err, device.ErrTooLarge) {
				t.Fatalf("correctly signed payload refused for %v", err)
			}
			return
		}
		if ans.Type != api.CheckAnswerType || (ans.Update == nil) == (ans.NoUpdate == nil) {
			t.Fatalf("accepted %+v", ans)
		}
		exercise(t, ans)
	})
}

// exercise runs what a device does with an accepted answer before any
// download (the binding check) and checks what VerifySigned promises.
func exercise(t *testing.T, ans *api.CheckAnswer) {
	b := device.Binding{App: testApp, Channel: testChannel, Platform: "android", DeviceID: "d",
		Now: time.Unix(1_800_000_000, 0), Floors: func(string, string) uint64 { return 3 }}
	_ = b.Check(ans)
	if (ans.Update == nil) == (ans.NoUpdate == nil) {
		t.Fatalf("accepted an answer with update %v and no_update %v", ans.Update, ans.NoUpdate)
	}
	if !ans.Expires.After(ans.IssuedAt) {
		t.Fatalf("accepted an answer expiring at %s, issued at %s", ans.Expires, ans.IssuedAt)
	}
}
