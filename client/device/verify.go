package device

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
)

// Errors a check answer is refused with. Every refusal wraps exactly one
// of them, so callers (and tests) can branch with errors.Is.
var (
	// ErrUnsigned: the answer carries no signature or no payload, or is
	// not a SignedCheck at all.
	ErrUnsigned = checksig.ErrUnsigned
	// ErrUnknownKey: the answer is signed by a key the device does not trust.
	ErrUnknownKey = checksig.ErrUnknownKey
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = checksig.ErrBadSignature
	// ErrWrongType: the signed payload is not a check answer (or is malformed).
	ErrWrongType = checksig.ErrWrongType
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

// MaxCheckBytes bounds the body of a check answer (checksig.MaxBytes).
const MaxCheckBytes = checksig.MaxBytes

// VerifyCheck parses body as an api.SignedCheck and verifies it with the
// trusted keys for the subject sub (this device's app, platform and id),
// as checksig.Parse and checksig.Verify do. It checks neither channel, nor
// freshness, nor sequence: see Binding.Check.
func VerifyCheck(body []byte, keys []ed25519.PublicKey, sub api.Subject) (*api.CheckAnswer, error) {
	sc, err := checksig.Parse(body)
	if err != nil {
		return nil, err
	}
	return checksig.Verify(sc, keys, sub)
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
