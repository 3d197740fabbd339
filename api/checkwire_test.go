package api_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

func answers() []api.CheckAnswer {
	now := time.Unix(1_800_000_000, 0).UTC()
	head := api.CheckAnswer{Type: api.CheckAnswerType, Channel: "production", Sequence: 42, IssuedAt: now, Expires: now.Add(24 * time.Hour)}
	no, up, builtin := head, head, head
	no.NoUpdate = &api.NoUpdate{Code: "no_new_version_available", Message: "up to date"}
	up.Update = &api.Update{
		Target: api.TargetBundle{Version: "1.4.2", Manifest: manifest.Sum([]byte("m")), Files: 3000, Size: 12 << 20},
		Step:   &api.StepRef{Digest: manifest.Sum([]byte("s")), Size: 10663},
	}
	builtin.Update = &api.Update{Target: api.TargetBundle{Version: "builtin"}}
	signed := head
	signed.Update = &api.Update{Target: up.Update.Target, Step: up.Update.Step, Release: &api.SignedStatement{
		Payload: statementBytes(), Signature: bytes.Repeat([]byte{2}, 64), KeyID: "fedcba9876543210"}}
	return []api.CheckAnswer{no, up, builtin, signed}
}

// TestCheckAnswerRoundTrip: every answer decodes to itself, and an update
// is under 200 bytes with its envelope.
func TestCheckAnswerRoundTrip(t *testing.T) {
	for _, a := range answers() {
		b, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got api.CheckAnswer
		if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, a)
		}
		sc := api.SignedCheck{Payload: b, Signature: bytes.Repeat([]byte{1}, 64), KeyID: "0123456789abcdef"}
		wire, err := sc.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back api.SignedCheck
		if err := back.UnmarshalBinary(wire); err != nil || !reflect.DeepEqual(back, sc) {
			t.Fatalf("envelope round trip: %+v, %v", back, err)
		}
		limit := 200
		if a.Update != nil && a.Update.Release != nil {
			limit += 64 + 8 + 3 + len(a.Update.Release.Payload) // the statement rides along
		}
		if len(wire) > limit {
			t.Errorf("answer of %d bytes on the wire, want at most %d", len(wire), limit)
		}
	}
}

func TestCheckAnswerRefuses(t *testing.T) {
	good, _ := answers()[1].MarshalBinary()
	for name, b := range map[string][]byte{
		"empty":         nil,
		"cut":           good[:len(good)-1],
		"trailing byte": append(append([]byte(nil), good...), 0),
		"JSON":          []byte(`{"ch":"production"}`),
	} {
		var a api.CheckAnswer
		if err := a.UnmarshalBinary(b); !errors.Is(err, api.ErrAnswerEncoding) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var sc api.SignedCheck
	for name, b := range map[string][]byte{"empty": nil, "magic only": []byte("PW\x02"), "no payload": append([]byte("PW\x02\x00"), make([]byte, 64)...)} {
		if err := sc.UnmarshalBinary(b); !errors.Is(err, api.ErrAnswerEncoding) {
			t.Errorf("envelope %s: %v", name, err)
		}
	}
}

// FuzzCheckAnswer: no input panics the decoders, and what decodes encodes
// back to the same bytes.
func FuzzCheckAnswer(f *testing.F) {
	for _, a := range answers() {
		b, _ := a.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var sc api.SignedCheck
		_ = sc.UnmarshalBinary(b)
		var a api.CheckAnswer
		if a.UnmarshalBinary(b) != nil {
			return
		}
		back, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded answer does not encode: %v", err)
		}
		var again api.CheckAnswer
		if err := again.UnmarshalBinary(back); err != nil || !reflect.DeepEqual(again, a) {
			t.Fatalf("re-encoded answer differs: %v", err)
		}
	})
}
