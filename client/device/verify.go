package device

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

// Errors a check answer is refused with. Every refusal wraps exactly one
// of them, so callers (and tests) can branch with errors.Is.
var (
	// ErrUnsigned: the answer carries no signature or no payload, or is
	// not a SignedCheck at all.
	ErrUnsigned = errors.New("device: check answer is not signed")
	// ErrUnknownKey: the answer is signed by a key the device does not trust.
	ErrUnknownKey = errors.New("device: check answer signed by an untrusted key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("device: check answer signature does not verify")
	// ErrWrongType: the signed payload is not a check answer (or is malformed).
	ErrWrongType = errors.New("device: signed payload is not a check answer")
	// ErrWrongBinding: the answer is for another app, channel, platform or device.
	ErrWrongBinding = errors.New("device: check answer is for another device")
	// ErrRollback: the answer's sequence is below the highest accepted one.
	ErrRollback = errors.New("device: check answer is older than one already accepted")
	// ErrExpired: the answer expired before the check started.
	ErrExpired = errors.New("device: check answer has expired")
	// ErrTooLarge: a response is larger than the device accepts.
	ErrTooLarge = errors.New("device: response too large")
	// ErrBadPlan: the update cannot be applied: a step that does not start
	// from the current bundle or does not rebuild the signed target, and
	// then a target manifest that is not the signed one, or an update
	// without a step.
	ErrBadPlan = errors.New("device: update does not apply to the current bundle")
	// ErrDigest: downloaded or rebuilt bytes do not have the declared size
	// and SHA-256.
	ErrDigest = errors.New("device: bytes do not match their digest")
	// ErrPreviouslyFailed: the target bundle already failed to start on
	// this device, so it is not installed again.
	ErrPreviouslyFailed = errors.New("device: target bundle failed to start before")
	// ErrNotSeeded: the state directory has no bundle yet; run Seed.
	ErrNotSeeded = errors.New("device: state directory not seeded")
)

// MaxCheckBytes bounds the body of a check answer. Answers of protocol 2
// are a few hundred bytes whatever the bundle.
const MaxCheckBytes = 64 << 10

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

// KeyID names a public key as SignedCheck.KeyID does: the first 16 hex
// characters of the SHA-256 of the key's 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])[:16]
}

// ParseSignedCheck decodes a check answer body (api.SignedCheck's binary
// form), bounded by MaxCheckBytes. It verifies nothing.
func ParseSignedCheck(body []byte) (api.SignedCheck, error) {
	var sc api.SignedCheck
	if len(body) > MaxCheckBytes {
		return sc, fmt.Errorf("%w: check answer of %d bytes", ErrTooLarge, len(body))
	}
	if err := sc.UnmarshalBinary(body); err != nil {
		return sc, fmt.Errorf("%w: %v", ErrUnsigned, err)
	}
	if len(sc.Payload) == 0 || len(sc.Signature) == 0 {
		return sc, fmt.Errorf("%w: no payload or no signature", ErrUnsigned)
	}
	return sc, nil
}

// VerifyCheck parses body as an api.SignedCheck, verifies its signature
// with the trusted keys for the subject sub (this device's app, platform
// and id: an answer made for another device does not verify) and only then
// decodes the payload, which must be a CheckAnswer holding exactly one of
// NoUpdate and Update, with Expires after IssuedAt; the subject is filled
// in. It checks neither channel, nor freshness, nor sequence: see
// Binding.Check.
func VerifyCheck(body []byte, keys []ed25519.PublicKey, sub api.Subject) (*api.CheckAnswer, error) {
	sc, err := ParseSignedCheck(body)
	if err != nil {
		return nil, err
	}
	return VerifySigned(sc, keys, sub)
}

// VerifySigned is VerifyCheck on an already decoded SignedCheck.
func VerifySigned(sc api.SignedCheck, keys []ed25519.PublicKey, sub api.Subject) (*api.CheckAnswer, error) {
	if len(sc.Payload) == 0 || len(sc.Signature) == 0 {
		return nil, fmt.Errorf("%w: no payload or no signature", ErrUnsigned)
	}
	if len(sc.Payload) > MaxCheckBytes {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrTooLarge, len(sc.Payload))
	}
	if len(sc.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadSignature, len(sc.Signature), ed25519.SignatureSize)
	}
	msg := api.SignedMessage(sub, sc.Payload)
	known, verified := false, false
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			continue
		}
		if sc.KeyID != "" && sc.KeyID != KeyID(k) {
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
	ans.App, ans.Platform, ans.DeviceID = sub.App, sub.Platform, sub.DeviceID
	if ans.Type != api.CheckAnswerType {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrWrongType, ans.Type, api.CheckAnswerType)
	}
	if (ans.NoUpdate == nil) == (ans.Update == nil) {
		return nil, fmt.Errorf("%w: want exactly one of no_update and update", ErrWrongType)
	}
	if !ans.Expires.After(ans.IssuedAt) {
		return nil, fmt.Errorf("%w: expires %s is not after issued_at %s", ErrWrongType, ans.Expires.Format(time.RFC3339), ans.IssuedAt.Format(time.RFC3339))
	}
	return &ans, nil
}

// Binding is what a verified answer must be about, and how fresh.
type Binding struct {
	App      string
	Channel  string // "" accepts the channel the server chose
	Platform string
	DeviceID string
	// Now is the one time the whole check is judged against.
	Now time.Time
	// Floors returns the highest sequence accepted before for an
	// (app, channel), looked up once the answer's channel is known; nil
	// skips the rollback check.
	Floors func(app, channel string) uint64
}

// Check refuses an answer bound to another app, channel, platform or
// device (ErrWrongBinding), expired at b.Now (ErrExpired), or with a
// sequence below the floor for its (app, channel) (ErrRollback). An equal
// sequence is accepted: the step must still start from the current bundle.
func (b Binding) Check(ans *api.CheckAnswer) error {
	switch {
	case ans.App != b.App:
		return fmt.Errorf("%w: app %q, want %q", ErrWrongBinding, ans.App, b.App)
	case b.Channel != "" && ans.Channel != b.Channel:
		return fmt.Errorf("%w: channel %q, want %q", ErrWrongBinding, ans.Channel, b.Channel)
	case ans.Channel == "":
		return fmt.Errorf("%w: no channel", ErrWrongBinding)
	case ans.Platform != b.Platform:
		return fmt.Errorf("%w: platform %q, want %q", ErrWrongBinding, ans.Platform, b.Platform)
	case ans.DeviceID != b.DeviceID:
		return fmt.Errorf("%w: device %q, want %q", ErrWrongBinding, ans.DeviceID, b.DeviceID)
	}
	if !b.Now.Before(ans.Expires) {
		return fmt.Errorf("%w: expired %s, now %s", ErrExpired, ans.Expires.UTC().Format(time.RFC3339), b.Now.UTC().Format(time.RFC3339))
	}
	if b.Floors != nil {
		if floor := b.Floors(ans.App, ans.Channel); ans.Sequence < floor {
			return fmt.Errorf("%w: sequence %d, already accepted %d for channel %q", ErrRollback, ans.Sequence, floor, ans.Channel)
		}
	}
	return nil
}
