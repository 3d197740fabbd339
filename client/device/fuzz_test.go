package device_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/manifest"
)

var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func fuzzSeeds(f *testing.F) (bodies, payloads [][]byte) {
	now := time.Unix(1_800_000_000, 0).UTC()
	e := manifest.Entry{Path: "a.js", Digest: manifest.Sum([]byte("a")), Size: 1}
	from, _ := manifest.New([]manifest.Entry{{Path: "b.js", Digest: manifest.Sum([]byte("b")), Size: 1}}, manifest.DefaultLimits())
	to, _ := manifest.New([]manifest.Entry{e}, manifest.DefaultLimits())
	answers := []api.CheckAnswer{
		{Type: api.CheckAnswerType, App: testApp, Channel: testChannel, Platform: "android", DeviceID: "d", Sequence: 3,
			IssuedAt: now, Expires: now.Add(time.Hour), NoUpdate: &api.NoUpdate{Code: "no_new_version_available"}},
		{Type: api.CheckAnswerType, App: testApp, Channel: testChannel, Platform: "android", DeviceID: "d", Sequence: 4,
			IssuedAt: now, Expires: now.Add(time.Hour), Plan: &api.Plan{
				From: from.Digest(), Target: api.TargetBundle{Version: "1.0.1", Manifest: to.Digest(), Files: 1, Size: 1},
				Removed: []string{"b.js"}, Fetches: []api.Fetch{{Entry: e, URL: "/o/" + e.Digest.String()}},
				BundlePatch: &api.BundlePatch{Bases: []string{"b.js"}, Entries: []manifest.Entry{e},
					Patch: api.PatchObject{Codec: "zstd-dict", URL: "/d/x", Size: 10}},
			}},
	}
	for _, a := range answers {
		sc := sign(f, fuzzKey, a)
		b, _ := json.Marshal(sc)
		bodies = append(bodies, b)
		payloads = append(payloads, sc.Payload)
	}
	bodies = append(bodies, []byte(`{}`), []byte(`{"payload":"","signature":""}`), []byte(`null`), []byte(`{"payload":"eyJ9","signature":"AAAA","key_id":"x"}`))
	payloads = append(payloads, []byte(`{"type":"patchwire-check/v1"}`), []byte(`{"type":"patchwire-check/v1","type":"x"}`), []byte(`[]`))
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
		ans, err := device.VerifyCheck(body, []ed25519.PublicKey{pub})
		if err != nil {
			return
		}
		sc, err := device.ParseSignedCheck(body)
		if err != nil {
			t.Fatalf("accepted a body ParseSignedCheck refuses: %v", err)
		}
		if !ed25519.Verify(pub, append([]byte(api.SignatureContext), sc.Payload...), sc.Signature) {
			t.Fatal("accepted an answer whose signature does not verify")
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
		sc := api.SignedCheck{Payload: payload, Signature: ed25519.Sign(fuzzKey, append([]byte(api.SignatureContext), payload...)), KeyID: device.KeyID(pub)}
		ans, err := device.VerifySigned(sc, []ed25519.PublicKey{pub})
		if err != nil {
			if len(payload) > 0 && !errors.Is(err, device.ErrWrongType) && !errors.Is(err, device.ErrTooLarge) {
				t.Fatalf("correctly signed payload refused for %v", err)
			}
			return
		}
		if ans.Type != api.CheckAnswerType || (ans.Plan == nil) == (ans.NoUpdate == nil) {
			t.Fatalf("accepted %+v", ans)
		}
		exercise(t, ans)
	})
}

// exercise runs what a device does with an accepted answer before any
// download.
func exercise(t *testing.T, ans *api.CheckAnswer) {
	b := device.Binding{App: testApp, Channel: testChannel, Platform: "android", DeviceID: "d",
		Now: time.Unix(1_800_000_000, 0), Floors: func(string, string) uint64 { return 3 }}
	_ = b.Check(ans)
	if ans.Plan != nil {
		from, _ := manifest.New([]manifest.Entry{{Path: "b.js", Digest: manifest.Sum([]byte("b")), Size: 1}}, manifest.DefaultLimits())
		if m, err := device.TargetManifest(from, ans.Plan, manifest.DefaultLimits()); err == nil && m.Digest() != ans.Plan.Target.Manifest {
			t.Fatal("TargetManifest returned a manifest other than the signed target")
		}
	}
}
