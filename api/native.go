package api

// Notes from the server side (server/native.go, which implements this
// protocol), for device implementers:
//
//   - Unknown current bundle. When the device's Current.Manifest is not the
//     manifest of any bundle of the app, the server cannot know its files:
//     Plan.From is then the digest of the empty manifest (EmptyManifest,
//     the SHA-256 of "patchwire-manifest/1\n"), and the plan rebuilds the
//     target from nothing: every target file is in Fetches, nothing in
//     Removed, Copies, FilePatches or BundlePatch. Accept a plan whose From
//     is either the current manifest or EmptyManifest.
//   - Back to the built-in bundle. When the channel sends devices back to
//     the bundle shipped in the app, the answer is a Plan whose
//     Target.Version is "builtin", Target.Manifest the zero digest, with no
//     changes and DownloadBytes 0.
//   - Whole objects' sizes in DownloadBytes are the objects' stored sizes,
//     what /o/{sha256} sends with Content-Encoding: zstd to a client that
//     sends Accept-Encoding: zstd (else the raw size, Entry.Size).
//   - Patch URLs (PathDelta) serve the patch bytes as is (no
//     Content-Encoding), with a strong ETag of the patch's SHA-256, one Range
//     and Cache-Control immutable, like /o/{sha256}.

import (
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// EmptyManifest is the digest of the manifest with no files (hex of the
// SHA-256 of "patchwire-manifest/1\n"): Plan.From of a plan that starts
// from nothing.
const EmptyManifest = "2c39420d467a4cf1a9fb37f20b70d55cdc30b5a54ffa5981ea8e015a55a07a36"

// The native device protocol: POST PathCheck with a CheckRequest; the
// answer is a SignedCheck whose Payload, once its signature verifies,
// decodes to a CheckAnswer. Devices act on nothing before verifying.
const (
	PathCheck = "/v1/check"
	// PathDelta serves a patch by the digests it connects: per-file
	// patches by file digests, bundle patches by manifest digests. The URL
	// is immutable and device-independent, like /o/{sha256}.
	PathDelta = "/d/{codec}/{from}/{to}"
	// CheckAnswerType is CheckAnswer.Type; a signature made for any other
	// purpose never verifies as a check answer.
	CheckAnswerType = "patchwire-check/v1"
	// SignatureContext is prefixed to the payload before signing, so the
	// signing key signs nothing else that could be confused with an answer.
	SignatureContext = "patchwire signed check answer v1\n"
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

// SignedCheck is the answer to POST /v1/check: the exact payload bytes and
// an ed25519 signature over SignatureContext+Payload.
type SignedCheck struct {
	Payload   []byte `json:"payload"`   // JSON of a CheckAnswer (base64 on the wire)
	Signature []byte `json:"signature"` // ed25519, 64 bytes (base64 on the wire)
	KeyID     string `json:"key_id"`    // first 16 hex of SHA-256 of the public key
}

// CheckAnswer is the signed content: either NoUpdate or Plan is set.
type CheckAnswer struct {
	Type     string    `json:"type"` // CheckAnswerType
	App      string    `json:"app_id"`
	Channel  string    `json:"channel"`
	Platform string    `json:"platform"`
	DeviceID string    `json:"device_id"`
	Sequence uint64    `json:"sequence"` // the channel's sequence: devices refuse lower ones
	IssuedAt time.Time `json:"issued_at"`
	Expires  time.Time `json:"expires"`
	NoUpdate *NoUpdate `json:"no_update,omitempty"`
	Plan     *Plan     `json:"plan,omitempty"`
}

// NoUpdate says why the device should keep what it runs (resolver codes).
type NoUpdate struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Plan turns the device's current bundle (From) into the target. It lists
// only what changes: every path of From not named here is kept as is. The
// device rebuilds the target manifest from From's plus these changes and
// must find Target.Manifest before it installs anything.
type Plan struct {
	From   manifest.Digest `json:"from"` // the manifest the plan starts from
	Target TargetBundle    `json:"target"`
	// Removed paths of From absent from the target.
	Removed []string `json:"removed,omitempty"`
	// Copies are target files whose bytes the device already has under
	// another path of From.
	Copies []Copy `json:"copies,omitempty"`
	// Fetches are target files downloaded whole.
	Fetches []Fetch `json:"fetches,omitempty"`
	// FilePatches are target files rebuilt from one file of From.
	FilePatches []FilePatch `json:"file_patches,omitempty"`
	// BundlePatch, when set, rebuilds several target files at once.
	BundlePatch *BundlePatch `json:"bundle_patch,omitempty"`
	// DownloadBytes is what the device downloads in all (response bodies).
	DownloadBytes int64 `json:"download_bytes"`
}

// TargetBundle names the bundle the plan arrives at.
type TargetBundle struct {
	Version  string          `json:"version"`
	Manifest manifest.Digest `json:"manifest"`
	Files    int             `json:"files"`
	Size     int64           `json:"size"`
}

// Copy: write the bytes of From's file Source at target path Entry.Path.
type Copy struct {
	Entry  manifest.Entry `json:"entry"`
	Source string         `json:"source"`
}

// Fetch: download Entry whole from URL (an /o/{sha256} object).
type Fetch struct {
	Entry manifest.Entry `json:"entry"`
	URL   string         `json:"url"`
}

// PatchObject is a downloadable patch: where, how big, and its digest.
type PatchObject struct {
	Codec  string          `json:"codec"`
	URL    string          `json:"url"`
	Digest manifest.Digest `json:"sha256"`
	Size   int64           `json:"size"`
}

// FilePatch: apply Patch to From's file Base to get Entry.
type FilePatch struct {
	Entry manifest.Entry `json:"entry"`
	Base  string         `json:"base"` // path in From
	Patch PatchObject    `json:"patch"`
}

// BundlePatch rebuilds Entries, in this order, as one stream: the device
// lays out its current bundle (From) with manifest.DictionaryOrder(From,
// Bases) — each distinct file once, the files that are no base in path
// order, then the bases in the order given — concatenates those files as
// the codec's dictionary ("old"), applies Patch, and splits the output by
// the entries' sizes. Bases are paths of From (the old files the new ones
// line up with), so the plan grows with the change, not with the bundle.
type BundlePatch struct {
	Bases   []string         `json:"bases,omitempty"`
	Entries []manifest.Entry `json:"entries"`
	Patch   PatchObject      `json:"patch"`
}
