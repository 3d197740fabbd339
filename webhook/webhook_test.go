package webhook_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/webhook"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"ev_1","type":"bundle.uploaded"}`)
	good := webhook.SignatureHeader("whsec_a", now, body)
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"valid", "whsec_a", good, body, now, nil},
		{"valid within tolerance", "whsec_a", good, body, now.Add(4 * time.Minute), nil},
		{"extra members ignored", "whsec_a", good + ",v0=zz", body, now, nil},
		{"second v1 (rotation)", "whsec_a", "t=1800000000,v1=" + strings.Repeat("00", 32) + ",v1=" + webhook.Sign("whsec_a", now.Unix(), body), body, now, nil},
		{"wrong secret", "whsec_b", good, body, now, webhook.ErrMismatch},
		{"body changed", "whsec_a", good, append([]byte(" "), body...), now, webhook.ErrMismatch},
		{"timestamp changed", "whsec_a", strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, now, webhook.ErrMismatch},
		{"replayed late", "whsec_a", good, body, now.Add(6 * time.Minute), webhook.ErrTimestamp},
		{"from the future", "whsec_a", good, body, now.Add(-6 * time.Minute), webhook.ErrTimestamp},
		{"empty", "whsec_a", "", body, now, webhook.ErrMalformed},
		{"no t", "whsec_a", "v1=" + webhook.Sign("whsec_a", now.Unix(), body), body, now, webhook.ErrMalformed},
		{"no v1", "whsec_a", "t=1800000000", body, now, webhook.ErrMalformed},
		{"two t", "whsec_a", "t=1,t=2,v1=" + strings.Repeat("00", 32), body, now, webhook.ErrMalformed},
		{"short v1", "whsec_a", "t=1800000000,v1=abcd", body, now, webhook.ErrMalformed},
		{"signed t", "whsec_a", "t=+1800000000,v1=" + strings.Repeat("00", 32), body, now, webhook.ErrMalformed},
		{"no equals", "whsec_a", "t1800000000", body, now, webhook.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := webhook.VerifyAt(tc.secret, tc.header, tc.body, 5*time.Minute, tc.at)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("VerifyAt = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestVerifySeveralSignatures: a header signed with several secrets (a
// rotation's overlap) verifies for a receiver holding any one of them,
// and for no other.
func TestVerifySeveralSignatures(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"ev_2","type":"channel.changed"}`)
	zero := strings.Repeat("00", 32)
	tests := []struct {
		name    string
		signers []string // secrets the header is signed with, in order
		extra   string   // appended to the header
		secret  string   // the receiver's
		want    error
	}{
		{"new of two", []string{"whsec_new", "whsec_old"}, "", "whsec_new", nil},
		{"old of two", []string{"whsec_new", "whsec_old"}, "", "whsec_old", nil},
		{"neither of two", []string{"whsec_new", "whsec_old"}, "", "whsec_other", webhook.ErrMismatch},
		{"one of one", []string{"whsec_new"}, "", "whsec_new", nil},
		{"old after expiry", []string{"whsec_new"}, "", "whsec_old", webhook.ErrMismatch},
		{"match after a stranger", []string{"whsec_new", "whsec_old"}, ",v1=" + zero, "whsec_old", nil},
		{"three v1, last matches", []string{"whsec_a", "whsec_b", "whsec_c"}, "", "whsec_c", nil},
		{"one malformed v1 spoils all", []string{"whsec_new", "whsec_old"}, ",v1=zz", "whsec_new", webhook.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := webhook.SignatureHeaderAll(tc.signers, now, body) + tc.extra
			if got := strings.Count(h, "v1="); got != len(tc.signers)+strings.Count(tc.extra, "v1=") {
				t.Fatalf("header %q has %d v1 members", h, got)
			}
			err := webhook.VerifyAt(tc.secret, h, body, 5*time.Minute, now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("VerifyAt(%s, %q) = %v, want %v", tc.secret, h, err, tc.want)
			}
		})
	}
	if a, b := webhook.SignatureHeader("whsec_a", now, body), webhook.SignatureHeaderAll([]string{"whsec_a"}, now, body); a != b {
		t.Errorf("SignatureHeader %q != SignatureHeaderAll of one %q", a, b)
	}
}

// FuzzParseSignature feeds outside bytes to the header parser and the
// verifier: no panic, and whatever parses re-verifies consistently.
func FuzzParseSignature(f *testing.F) {
	body := []byte(`{"id":"ev_1"}`)
	f.Add(webhook.SignatureHeader("s", time.Unix(1, 0), body))
	f.Add("t=1,v1=00")
	f.Add(",,=,t=,v1=")
	f.Add("t=99999999999999999999,v1=" + strings.Repeat("ab", 32))
	f.Add(webhook.SignatureHeaderAll([]string{"s", "old"}, time.Unix(2, 0), body))
	f.Fuzz(func(t *testing.T, header string) {
		ts, sigs, err := webhook.ParseSignature(header)
		if err != nil {
			if !errors.Is(err, webhook.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if ts < 0 || len(sigs) == 0 {
			t.Fatalf("parsed t=%d with %d signatures", ts, len(sigs))
		}
		if err := webhook.VerifyAt("s", header, body, 0, time.Unix(ts, 0)); err != nil && !errors.Is(err, webhook.ErrMismatch) {
			t.Fatalf("verify of a parsed header: %v", err)
		}
	})
}
