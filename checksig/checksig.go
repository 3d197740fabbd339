// Package checksig is the one implementation of what a native check answer
// signature covers and how it is made and verified: the server signs with
// it (server/native) and the reference device verifies with it
// (client/device), so the two sides cannot drift apart. It earns its own
// package because both sides import it and the device must not import the
// server; it depends on api only.
//
// An answer is an api.SignedCheck: the answer's binary encoding as the
// payload, an ed25519 signature over api.SignedMessage(subject, payload),
// and the key id of the signing key. The subject signed is the answer's
// audience's: for a device answer the request's app, platform and device
// id, so it does not verify for another device; for a fleet answer the
// app, platform, an empty device id and the rest of the request (api.Base),
// so it verifies for every device that sent the same request but for its
// id, and for no other.
package checksig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchwire/patchwire/api"
)

// Errors Verify refuses an answer with; every refusal wraps exactly one.
var (
	// ErrUnsigned: no signature or no payload, or not a SignedCheck.
	ErrUnsigned = errors.New("check answer is not signed")
	// ErrUnknownKey: signed by a key the verifier does not trust.
	ErrUnknownKey = errors.New("check answer signed by an untrusted key")
	// ErrBadSignature: the signature does not verify (or is not an
	// ed25519 signature at all). Nothing in the payload was read.
	ErrBadSignature = errors.New("check answer signature does not verify")
	// ErrWrongType: the signed payload is not a check answer (another
	// type, unknown members, neither or both of NoUpdate and Update, an
	// expiry not after its issue time).
	ErrWrongType = errors.New("signed payload is not a check answer")
	// ErrTooLarge: the answer is larger than MaxBytes.
	ErrTooLarge = errors.New("check answer too large")
)

// MaxBytes bounds a signed answer (and its payload). Answers of protocol 3
// are a few hundred bytes whatever the bundle.
const MaxBytes = 64 << 10

// KeyID names a public key as api.SignedCheck.KeyID does: the first 16 hex
// characters of the SHA-256 of its 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])[:16]
}

// PublicKeyBase64 is the public key as `patchwire key signing --public`
// prints it and ParsePublicKey reads it: standard base64 of its 32 bytes.
func PublicKeyBase64(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads an ed25519 public key: 32 bytes in standard or URL
// base64 (padded or not), or a PEM "PUBLIC KEY" block.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		b, _ := pem.Decode([]byte(s))
		if b == nil {
			return nil, errors.New("public key: bad PEM")
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key: %T is not ed25519", k)
		}
		return pub, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
			}
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, errors.New("public key: want base64 of 32 bytes or a PEM PUBLIC KEY block")
}

// Subject is the subject an answer is signed for, as its audience says:
// its app, platform and device id (a device answer), or its app, platform
// and base with no device id (a fleet answer).
func Subject(a api.CheckAnswer) api.Subject {
	if a.Audience == api.AudienceFleet {
		return api.Subject{App: a.App, Platform: a.Platform, Base: a.Base}
	}
	return api.Subject{App: a.App, Platform: a.Platform, DeviceID: a.DeviceID}
}

// Signer signs check answers with one key, its id computed once.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner is the signer of key, which must be an ed25519 private key.
func NewSigner(key ed25519.PrivateKey) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("signing key: not an ed25519 private key")
	}
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}, nil
}

// Public is the public half of the signer's key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID is the id of the signer's key.
func (s *Signer) KeyID() string { return s.id }

// Sign encodes answer as the payload and signs it for the answer's subject
// (Subject: its audience decides which).
func (s *Signer) Sign(answer api.CheckAnswer) (api.SignedCheck, error) {
	payload, err := answer.MarshalBinary()
	if err != nil {
		return api.SignedCheck{}, err
	}
	return api.SignedCheck{
		Payload:   payload,
		Signature: ed25519.Sign(s.key, api.SignedMessage(Subject(answer), payload)),
		KeyID:     s.id,
	}, nil
}

// Sign is NewSigner(key).Sign(answer), for one answer.
func Sign(key ed25519.PrivateKey, answer api.CheckAnswer) (api.SignedCheck, error) {
	s, err := NewSigner(key)
	if err != nil {
		return api.SignedCheck{}, err
	}
	return s.Sign(answer)
}

// Parse decodes a check answer body (api.SignedCheck's binary form),
// bounded by MaxBytes. It verifies nothing.
func Parse(body []byte) (api.SignedCheck, error) {
	var sc api.SignedCheck
	if len(body) > MaxBytes {
		return sc, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(body))
	}
	if err := sc.UnmarshalBinary(body); err != nil {
		return sc, fmt.Errorf("%w: %v", ErrUnsigned, err)
	}
	if len(sc.Payload) == 0 || len(sc.Signature) == 0 {
		return sc, fmt.Errorf("%w: no payload or no signature", ErrUnsigned)
	}
	return sc, nil
}

// Verify checks sc's signature with the trusted keys for the subject sub
// (the verifier's app, platform and device id, and the base it sent:
// api.CheckRequest.Subject) and only then decodes the payload strictly: a
// CheckAnswer holding exactly one of NoUpdate and Update, with Expires
// after IssuedAt; the subject is filled in (for a fleet answer too, the
// device id being the verifier's). The payload's first byte, its audience,
// chooses which part of sub the signature must cover (api.SignedMessage);
// it is signed, so changing it breaks the signature. Channel, freshness
// and sequence are the device's to judge (client/device Binding).
func Verify(sc api.SignedCheck, keys []ed25519.PublicKey, sub api.Subject) (*api.CheckAnswer, error) {
	if len(sc.Payload) == 0 || len(sc.Signature) == 0 {
		return nil, fmt.Errorf("%w: no payload or no signature", ErrUnsigned)
	}
	if len(sc.Payload) > MaxBytes {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrTooLarge, len(sc.Payload))
	}
	if len(sc.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadSignature, len(sc.Signature), ed25519.SignatureSize)
	}
	msg := api.SignedMessage(sub, sc.Payload)
	known, verified := false, false
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize || sc.KeyID != "" && sc.KeyID != KeyID(k) {
			continue
		}
		known = true
		if ed25519.Verify(k, msg, sc.Signature) {
			verified = true
			break
		}
	}
	switch {
	case !known:
		return nil, fmt.Errorf("%w: key id %q", ErrUnknownKey, sc.KeyID)
	case !verified:
		return nil, fmt.Errorf("%w (key id %q)", ErrBadSignature, sc.KeyID)
	}
	var ans api.CheckAnswer
	if err := ans.UnmarshalBinary(sc.Payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongType, err)
	}
	ans.App, ans.Platform, ans.DeviceID, ans.Base = sub.App, sub.Platform, sub.DeviceID, sub.Base
	if ans.Type != api.CheckAnswerType {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrWrongType, ans.Type, api.CheckAnswerType)
	}
	if (ans.NoUpdate == nil) == (ans.Update == nil) {
		return nil, fmt.Errorf("%w: want exactly one of no_update and update", ErrWrongType)
	}
	if !ans.Expires.After(ans.IssuedAt) {
		return nil, fmt.Errorf("%w: expires %s is not after issued_at %s", ErrWrongType,
			ans.Expires.Format(time.RFC3339), ans.IssuedAt.Format(time.RFC3339))
	}
	return &ans, nil
}
