package api_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

func statement() api.ReleaseStatement {
	return api.ReleaseStatement{App: "com.example.app", Version: "1.4.2", Manifest: manifest.Sum([]byte("m")), Files: 3000,
		Size: 12 << 20, Platforms: []string{"ios", "android"}, NativeRange: ">=1.2.0, <2.0.0", SignedAt: time.Unix(1_800_000_000, 0).UTC()}
}

func statementBytes() []byte {
	b, err := statement().MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func rotationValue() api.KeyRotation {
	return api.KeyRotation{App: "com.example.app", Sequence: 2, AddRelease: [][]byte{make([]byte, 32)},
		AddServer: [][]byte{append(make([]byte, 31), 1)}, Revoke: []string{"0123456789abcdef"}, ResetFloors: true,
		SignedAt: time.Unix(1_800_000_000, 0).UTC(), Reason: "CI moved"}
}

// TestReleaseWireRoundTrip: statements and rotations decode to themselves;
// cut, padded or oversized ones are refused with ErrStatementEncoding.
func TestReleaseWireRoundTrip(t *testing.T) {
	st := statement()
	var gotSt api.ReleaseStatement
	if err := gotSt.UnmarshalBinary(statementBytes()); err != nil || !reflect.DeepEqual(gotSt, st) {
		t.Fatalf("statement round trip: %+v, %v", gotSt, err)
	}
	rb, err := rotationValue().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var gotRot api.KeyRotation
	if err := gotRot.UnmarshalBinary(rb); err != nil || !reflect.DeepEqual(gotRot, rotationValue()) {
		t.Fatalf("rotation round trip: %+v, %v", gotRot, err)
	}
	good := statementBytes()
	for name, b := range map[string][]byte{
		"empty":         nil,
		"cut":           good[:len(good)-1],
		"trailing byte": append(append([]byte(nil), good...), 0),
		"too large":     make([]byte, api.MaxStatementBytes+1),
	} {
		var s api.ReleaseStatement
		if err := s.UnmarshalBinary(b); !errors.Is(err, api.ErrStatementEncoding) {
			t.Errorf("statement %s: %v", name, err)
		}
		var r api.KeyRotation
		if err := r.UnmarshalBinary(b); !errors.Is(err, api.ErrStatementEncoding) || !strings.HasPrefix(err.Error(), "key rotation: malformed") {
			t.Errorf("rotation %s: %v, want a malformed key rotation", name, err)
		}
	}
	bad := rotationValue()
	bad.Revoke = []string{"not hex"}
	if _, err := bad.MarshalBinary(); err == nil {
		t.Error("rotation with a malformed key id encodes")
	}
}

// FuzzReleaseStatement: no input panics the statement and rotation
// decoders, and what decodes encodes back to the same value.
func FuzzReleaseStatement(f *testing.F) {
	f.Add(statementBytes())
	rb, _ := rotationValue().MarshalBinary()
	f.Add(rb)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s api.ReleaseStatement
		if s.UnmarshalBinary(b) == nil {
			back, err := s.MarshalBinary()
			var again api.ReleaseStatement
			if err != nil || again.UnmarshalBinary(back) != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("statement does not round-trip: %v", err)
			}
		}
		var r api.KeyRotation
		if r.UnmarshalBinary(b) == nil {
			back, err := r.MarshalBinary()
			var again api.KeyRotation
			if err != nil || again.UnmarshalBinary(back) != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("rotation does not round-trip: %v", err)
			}
		}
	})
}
