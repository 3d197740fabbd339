package api

// The native device protocol, version 3 (server/native.go implements it;
// client/device is the reference device):
//
//  1. The device POSTs a CheckRequest to PathCheck.
//  2. The answer is a SignedCheck (binary, checkwire.go): the exact
//     payload bytes of a CheckAnswer and an ed25519 signature over
//     SignedMessage (context, the answer's audience, the request's
//     subject, payload). Its size does not depend on the bundle or on the
//     change: it names the target (version, manifest digest, file count,
//     size) and one step object (digest, size), or says why there is no
//     update. A device answer is signed for the device that asked; a
//     fleet answer (version 3), one no device-specific input decided, for
//     every device that sends the same request but for its id.
//  3. The device downloads the step, an ordinary object at /o/{sha256}
//     (immutable, shared by every device taking the same step, cacheable
//     by a CDN), checks its SHA-256 against the signed digest, and applies
//     it to the bundle it runs (package step: removed paths, copies, new
//     files rebuilt from one bundle patch inside the step or fetched whole
//     by digest). It hashes what it builds and installs only if the
//     result's manifest digest is the signed Target.Manifest.
//  4. On any failure of the step (missing, corrupt, or not arriving at the
//     target) the device falls back to the target manifest itself,
//     PathManifest (verified against Target.Manifest), and fetches the
//     objects it lacks whole. A bad step costs bytes, never correctness.
//
// Back to the built-in bundle: an Update whose Target.Version is "builtin",
// Target.Manifest the zero digest, and no Step.

import (
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// EmptyManifest is the digest of the manifest with no files (hex of the
// SHA-256 of "patchwire-manifest/1\n"): the start of a step for a device
// whose bundle the server does not know.
const EmptyManifest = "2c39420d467a4cf1a9fb37f20b70d55cdc30b5a54ffa5981ea8e015a55a07a36"

// The native device protocol's path and signing constants.
const (
	PathCheck = "/v1/check"
	// PathDelta serves a patch by the digests it connects: per-file
	// patches by file digests, bundle patches by manifest digests. The URL
	// is immutable and device-independent, like /o/{sha256}. Protocol 2
	// carries bundle patches inside steps; the route stays for caches and
	// tools.
	PathDelta = "/d/{codec}/{from}/{to}"
	// CheckAnswerType is CheckAnswer.Type; a signature made for any other
	// purpose never verifies as a check answer.
	CheckAnswerType = "patchwire-check/3"
	// SignatureContext is prefixed to the payload before signing, so the
	// signing key signs nothing else that could be confused with an answer
	// (nor an answer of version 2, whose signed message had no audience).
	SignatureContext = "patchwire signed check answer v3\n"
)

// CurrentBundle is what the device runs now.
type CurrentBundle struct {
	Version  string          `json:"version"`  // a bundle version, or "builtin"
	Manifest manifest.Digest `json:"manifest"` // digest of its manifest (also for builtin, as seeded)
}

// CheckRequest is the body of POST /v1/check.
type CheckRequest struct {
	App           string        `json:"app_id"`
	DeviceID      string        `json:"device_id"`
	Platform      string        `json:"platform"`       // ios, android, electron
	NativeVersion string        `json:"native_version"` // the app store build's version
	Channel       string        `json:"channel,omitempty"`
	Current       CurrentBundle `json:"current"`
	Codecs        []string      `json:"codecs"` // patch codecs the device can apply, e.g. ["zstd-dict","bsdiff"]
	IsEmulator    bool          `json:"is_emulator,omitempty"`
	IsDev         bool          `json:"is_dev,omitempty"` // a debug/dev build (Capgo's is_prod=false)
}

// SignedCheck is the answer to POST /v1/check (CheckContentType, binary:
// MarshalBinary in checkwire.go): the payload, a CheckAnswer's binary
// form, exactly as signed, and an ed25519 signature over SignedMessage (the
// subject, what the answer is for out of the request, is signed but not
// sent).
type SignedCheck struct {
	Payload   []byte // CheckAnswer.MarshalBinary, exactly as signed
	Signature []byte // ed25519 over SignedMessage, 64 bytes
	KeyID     string // first 16 hex of SHA-256 of the public key; "" when not sent (devices then try every trusted key)
}

// Subject is whom an answer is for, out of the request exactly as sent:
// its app, platform and device id, and the rest of it (Base). Both sides
// put it in the signed message and the answer does not repeat it. Which
// part is signed is the answer's audience (SignedMessage): a device
// answer verifies only for the device that asked, a fleet answer for
// every device of the app and platform that sent the same Base.
type Subject struct {
	App      string
	Platform string
	DeviceID string
	Base     Base
}

// Base is everything of a check request that a fleet answer is signed
// for besides the app and platform: all the server decides on except the
// device id. The codecs are not in it: no answer depends on them (a step
// is the same object for every device).
type Base struct {
	NativeVersion string
	Channel       string
	Current       CurrentBundle
	IsEmulator    bool
	IsDev         bool
}

// Subject is the request's subject.
func (r CheckRequest) Subject() Subject {
	return Subject{App: r.App, Platform: r.Platform, DeviceID: r.DeviceID, Base: Base{
		NativeVersion: r.NativeVersion, Channel: r.Channel, Current: r.Current, IsEmulator: r.IsEmulator, IsDev: r.IsDev}}
}

// Audience is whom a check answer is signed for, the first byte of its
// payload (signed, so it cannot be changed without breaking the signature).
type Audience byte

// The audiences.
const (
	// AudienceDevice: the answer is for the device that asked (its app,
	// platform and device id are signed). Anything the device's identity
	// decided (a rollout draw, an override, a stored channel) is answered
	// so.
	AudienceDevice Audience = 0
	// AudienceFleet: the answer is what the server says to every device of
	// the app and platform sending the same Base (app, platform, an empty
	// device id and the Base are signed), so replaying it to another such
	// device tells it nothing the server would not.
	AudienceFleet Audience = 1
)

// SignedMessage is what a check answer's signature covers:
// SignatureContext, the audience (the payload's first byte), then the
// subject's app and platform, then for a device answer its device id, for
// a fleet answer an empty device id followed by the Base (native version,
// channel, current version, each as for the other strings, the current
// manifest's 32 bytes, and one byte of flags: 1 emulator, 2 dev build),
// then the payload. Every string is a uvarint length and its bytes.
func SignedMessage(sub Subject, payload []byte) []byte {
	aud := AudienceDevice
	if len(payload) > 0 && Audience(payload[0]) == AudienceFleet {
		aud = AudienceFleet
	}
	n := len(SignatureContext) + len(sub.App) + len(sub.Platform) + len(sub.DeviceID) + len(payload) + 16
	if aud == AudienceFleet {
		n += len(sub.Base.NativeVersion) + len(sub.Base.Channel) + len(sub.Base.Current.Version) + len(sub.Base.Current.Manifest) + 16
	}
	msg := make([]byte, 0, n)
	msg = append(msg, SignatureContext...)
	msg = append(msg, byte(aud))
	msg = appendStr(msg, sub.App)
	msg = appendStr(msg, sub.Platform)
	if aud == AudienceDevice {
		msg = appendStr(msg, sub.DeviceID)
		return append(msg, payload...)
	}
	b := sub.Base
	msg = appendStr(msg, "")
	msg = appendStr(msg, b.NativeVersion)
	msg = appendStr(msg, b.Channel)
	msg = appendStr(msg, b.Current.Version)
	msg = append(msg, b.Current.Manifest[:]...)
	var flags byte
	if b.IsEmulator {
		flags |= 1
	}
	if b.IsDev {
		flags |= 2
	}
	msg = append(msg, flags)
	return append(msg, payload...)
}

// CheckAnswer is the signed content: exactly one of NoUpdate and Update is
// set. Its wire form is binary (MarshalBinary, checkwire.go): neither the
// type (the signature context is the type) nor the subject (signed, not
// sent) travels, which keeps every answer under two hundred bytes. Type,
// App, Platform, DeviceID and Base are filled in by whoever verifies the
// signature (from the subject it verified with: for a fleet answer too
// DeviceID is the verifier's, the device that may act on it).
type CheckAnswer struct {
	Type     string   // CheckAnswerType
	Audience Audience // signed and sent: whom it is for
	App      string   // the subject's
	Channel  string
	Platform string    // the subject's
	DeviceID string    // the subject's
	Base     Base      // the subject's; signed for a fleet answer only
	Sequence uint64    // the channel's sequence: devices refuse lower ones
	IssuedAt time.Time // whole seconds on the wire
	Expires  time.Time
	NoUpdate *NoUpdate
	Update   *Update
}

// NoUpdate says why the device should keep what it runs (resolver codes).
type NoUpdate struct {
	Code    string `json:"code"`
	Message string `json:"msg"`
}

// Update names the bundle to run and the step that gets there.
type Update struct {
	Target TargetBundle
	// Step turns the device's bundle (or, when the server does not know
	// it, nothing) into Target; nil only for the built-in bundle.
	Step *StepRef
	// Release is the release key's statement about Target, as CI signed
	// it (release.go); nil for a bundle uploaded without a release key.
	Release *SignedStatement
}

// TargetBundle names the bundle an update arrives at.
type TargetBundle struct {
	Version  string
	Manifest manifest.Digest // what the device must rebuild, and PathManifest's key
	Files    int             // entries of the target manifest
	Size     int64           // sum of their sizes
}

// StepRef is the step object: GET /o/{Digest}, Size bytes. Its content
// (package step) says which manifest it starts from.
type StepRef struct {
	Digest manifest.Digest
	Size   int64
}
