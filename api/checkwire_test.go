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
	fleetNo, fleetUp := no, up
	fleetNo.Audience, fleetUp.Audience = api.AudienceFleet, api.AudienceFleet
	return []api.CheckAnswer{no, up, builtin, signed, fleetNo, fleetUp}
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
		"empty":                           nil,
		"cut":                             good[:len(good)-1],
		"trailing byte":                   append(append([]byte(nil), good...), 0),
		"JSON":                            []byte(`{"ch":"production"}`),
		"audience 2":                      append([]byte{2}, good[1:]...),
		"version 2 payload (no audience)": good[1:],
	} {
		var a api.CheckAnswer
		if err := a.UnmarshalBinary(b); !errors.Is(err, api.ErrAnswerEncoding) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var sc api.SignedCheck
	wire, _ := api.SignedCheck{Payload: good, Signature: make([]byte, 64)}.MarshalBinary()
	for name, b := range map[string][]byte{
		"empty": nil, "magic only": []byte("PW\x03"), "no payload": append([]byte("PW\x03\x00"), make([]byte, 64)...),
		"version 2": append([]byte("PW\x02"), wire[3:]...),
	} {
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

// TestSignedMessageAudience: a device answer's message covers the device
// id and not the base; a fleet answer's the base and not the device id;
// the two never coincide.
func TestSignedMessageAudience(t *testing.T) {
	sub := api.CheckRequest{App: "com.example.app", DeviceID: "0f673663-459a-44c0-a7f5-000000000001", Platform: "android",
		NativeVersion: "1.0.0", Channel: "beta", Current: api.CurrentBundle{Version: "1.0.3", Manifest: manifest.Sum([]byte("c"))}}.Subject()
	payload := func(aud api.Audience) []byte {
		a := answers()[0]
		a.Audience = aud
		b, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dev, fleet := payload(api.AudienceDevice), payload(api.AudienceFleet)
	msg := func(s api.Subject, p []byte) string { return string(api.SignedMessage(s, p)) }
	if msg(sub, dev) == msg(sub, fleet) {
		t.Fatal("device and fleet messages are equal")
	}
	otherDevice := sub
	otherDevice.DeviceID = "0f673663-459a-44c0-a7f5-000000000002"
	if msg(otherDevice, dev) == msg(sub, dev) {
		t.Error("device message does not cover the device id")
	}
	if msg(otherDevice, fleet) != msg(sub, fleet) {
		t.Error("fleet message covers the device id")
	}
	for name, f := range map[string]func(*api.Subject){
		"app":              func(s *api.Subject) { s.App = "com.example.other" },
		"platform":         func(s *api.Subject) { s.Platform = "ios" },
		"native version":   func(s *api.Subject) { s.Base.NativeVersion = "2.0.0" },
		"channel":          func(s *api.Subject) { s.Base.Channel = "production" },
		"current version":  func(s *api.Subject) { s.Base.Current.Version = "1.0.4" },
		"current manifest": func(s *api.Subject) { s.Base.Current.Manifest = manifest.Sum([]byte("d")) },
		"emulator":         func(s *api.Subject) { s.Base.IsEmulator = true },
		"dev build":        func(s *api.Subject) { s.Base.IsDev = true },
	} {
		o := sub
		f(&o)
		if msg(o, fleet) == msg(sub, fleet) {
			t.Errorf("fleet message does not cover the %s", name)
		}
		if (name == "app" || name == "platform") != (msg(o, dev) != msg(sub, dev)) {
			t.Errorf("device message and the %s: covered %v", name, msg(o, dev) != msg(sub, dev))
		}
	}
}

// TestSubjectCoversTheRequest: every field of a check request is in the
// message a fleet answer is signed for, but the device id (device answers
// only) and the codecs (no answer depends on them). A new request field
// fails here until it is signed or said not to matter.
func TestSubjectCoversTheRequest(t *testing.T) {
	notSigned := map[string]bool{"Codecs": true}
	deviceOnly := map[string]bool{"DeviceID": true}
	payload, _ := answers()[4].MarshalBinary() // a fleet answer
	base := api.SignedMessage(api.CheckRequest{}.Subject(), payload)
	rt := reflect.TypeOf(api.CheckRequest{})
	for i := range rt.NumField() {
		name := rt.Field(i).Name
		var req api.CheckRequest
		f := reflect.ValueOf(&req).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.Append(f, reflect.ValueOf("x")))
		case reflect.Struct: // CurrentBundle
			f.Field(0).SetString("x")
			f.Field(1).Index(0).SetUint(1)
		default:
			t.Fatalf("field %s: kind %s", name, f.Kind())
		}
		signed := !bytes.Equal(api.SignedMessage(req.Subject(), payload), base)
		if want := !notSigned[name] && !deviceOnly[name]; signed != want {
			t.Errorf("request field %s: in a fleet answer's signed message %v, want %v", name, signed, want)
		}
	}
}
