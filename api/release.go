package api

// Release keys: trust that stays in CI. A release key (ed25519, made by
// `patchwire key release create`, never sent to the server) signs a
// ReleaseStatement for each bundle it uploads: what CI built (app,
// version, target manifest digest, file count and size) and where it may
// run (platforms, native-version range). The server stores the statement
// and its signature with the bundle and hands them, unchanged, to devices
// inside every update answer (Update.Release); it cannot make one. A
// device that trusts release keys installs only a target whose statement
// verifies with one of them and matches what it rebuilds.
//
// Keys change by a KeyRotation signed with a key the device trusts: it
// adds release (and server) keys, revokes key ids, and may reset the
// device's sequence floors. The server keeps an app's rotations in order
// (PathReleaseKeys) and devices fetch them when an answer names a key
// they do not know yet.
//
// Both are binary, like the check answer, and signed over a context
// string and the payload, so a signature made for one never verifies as
// the other:
//
//	ReleaseStatement: str app | str version | manifest, 32 bytes | uvarint files | uvarint size |
//	                  uvarint n (≤ 8) | n × str platform | str native range | varint signed (Unix s)
//	KeyRotation:      str app | uvarint sequence | uvarint n (≤ 16) | n × release key, 32 bytes |
//	                  uvarint n (≤ 16) | n × server key, 32 bytes | uvarint n (≤ 64) | n × key id, 8 bytes |
//	                  uint8 reset floors (0 or 1) | varint signed (Unix s) | str reason
//	in an Update, after the step: 0x01 | str statement | signature, 64 bytes | key id, 8 bytes

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// Signature contexts of release statements and key rotations.
const (
	ReleaseContext  = "patchwire release statement v1\n"
	RotationContext = "patchwire release key rotation v1\n"
)

// PathReleaseKeys is the device route of an app's key rotations
// (GET, ReleaseKeyChain as JSON).
const PathReleaseKeys = "/v1/apps/{app}/release-keys"

// Bounds of release statements and rotations.
const (
	MaxReleasePlatforms = 8
	MaxRotationKeys     = 16
	MaxRotationRevokes  = 64
	// MaxRotations bounds an app's chain of rotations.
	MaxRotations = 64
	// MaxStatementBytes bounds an encoded statement or rotation.
	MaxStatementBytes = 4096
)

// ErrStatementEncoding reports bytes that are not a well-formed release
// statement or key rotation.
var ErrStatementEncoding = errors.New("release statement: malformed")

// errRotationEncoding is ErrStatementEncoding as a key rotation's decoder
// reports it: its message names a rotation, and errors.Is matches it with
// ErrStatementEncoding.
var errRotationEncoding error = rotationEncodingError{}

type rotationEncodingError struct{}

func (rotationEncodingError) Error() string        { return "key rotation: malformed" }
func (rotationEncodingError) Is(target error) bool { return target == ErrStatementEncoding }

// ReleaseStatement is what a release key signs about one bundle.
type ReleaseStatement struct {
	App      string
	Version  string
	Manifest manifest.Digest
	Files    int
	Size     int64
	// Platforms the bundle may run on (ios, android, electron); empty: any.
	Platforms []string
	// NativeRange is a semver constraint on the app-store build's version
	// (e.g. ">=1.2.0, <2.0.0"); "" is any.
	NativeRange string
	SignedAt    time.Time // whole seconds on the wire
}

// KeyRotation is a change of the keys an app's devices trust, signed by a
// release key they trust already.
type KeyRotation struct {
	App string
	// Sequence numbers an app's rotations 1, 2, 3, ...: a device applies
	// each once, in order.
	Sequence uint64
	// AddRelease are release keys (32 bytes each) trusted from now on.
	AddRelease [][]byte
	// AddServer are server keys (32 bytes each) check answers may be
	// signed with from now on.
	AddServer [][]byte
	// Revoke are key ids (16 hex characters, release or server keys)
	// refused from now on.
	Revoke []string
	// ResetFloors clears the device's sequence floors for the app (a server
	// restored from an older backup, or rebuilt).
	ResetFloors bool
	SignedAt    time.Time
	Reason      string
}

// SignedStatement is an encoded ReleaseStatement or KeyRotation and a
// release key's ed25519 signature over its context and the payload.
type SignedStatement struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"signature"`
	KeyID     string `json:"key_id"`
	// PublicKey is the signing key, sent on upload so the server can check
	// the signature is whole; devices never use it (they verify with the
	// keys they trust) and answers do not carry it.
	PublicKey []byte `json:"public_key,omitempty"`
}

// ReleaseKeyChain is an app's key rotations in sequence order
// (PathReleaseKeys and GET /api/v1/apps/{app}/release-keys).
type ReleaseKeyChain struct {
	App       string            `json:"app_id"`
	Rotations []SignedStatement `json:"rotations"`
}

// MarshalBinary encodes the statement.
func (s ReleaseStatement) MarshalBinary() ([]byte, error) {
	if s.Files < 0 || s.Size < 0 {
		return nil, errors.New("release statement: negative size")
	}
	if len(s.Platforms) > MaxReleasePlatforms {
		return nil, fmt.Errorf("release statement: %d platforms, at most %d", len(s.Platforms), MaxReleasePlatforms)
	}
	var b []byte
	b = appendStr(b, s.App)
	b = appendStr(b, s.Version)
	b = append(b, s.Manifest[:]...)
	b = binary.AppendUvarint(b, uint64(s.Files))
	b = binary.AppendUvarint(b, uint64(s.Size))
	b = binary.AppendUvarint(b, uint64(len(s.Platforms)))
	for _, p := range s.Platforms {
		b = appendStr(b, p)
	}
	b = appendStr(b, s.NativeRange)
	b = binary.AppendVarint(b, s.SignedAt.Unix())
	return checkStatementSize(b)
}

// UnmarshalBinary decodes a statement strictly.
func (s *ReleaseStatement) UnmarshalBinary(b []byte) error {
	if len(b) > MaxStatementBytes {
		return fmt.Errorf("%w: %d bytes", ErrStatementEncoding, len(b))
	}
	r := wireReader{b: b, bad: ErrStatementEncoding}
	out := ReleaseStatement{App: r.str(), Version: r.str()}
	copy(out.Manifest[:], r.take(manifest.DigestSize))
	out.Files = int(r.bounded(math.MaxInt32))
	out.Size = int64(r.bounded(math.MaxInt64 / 2))
	n := r.bounded(MaxReleasePlatforms)
	for i := uint64(0); i < n && r.err == nil; i++ {
		out.Platforms = append(out.Platforms, r.str())
	}
	out.NativeRange = r.str()
	out.SignedAt = r.time()
	if err := r.end(); err != nil {
		return err
	}
	*s = out
	return nil
}

// MarshalBinary encodes the rotation.
func (k KeyRotation) MarshalBinary() ([]byte, error) {
	if len(k.AddRelease) > MaxRotationKeys || len(k.AddServer) > MaxRotationKeys || len(k.Revoke) > MaxRotationRevokes {
		return nil, fmt.Errorf("key rotation: at most %d keys of each kind and %d revocations", MaxRotationKeys, MaxRotationRevokes)
	}
	var b []byte
	b = appendStr(b, k.App)
	b = binary.AppendUvarint(b, k.Sequence)
	for _, keys := range [][][]byte{k.AddRelease, k.AddServer} {
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, key := range keys {
			if len(key) != 32 {
				return nil, fmt.Errorf("key rotation: a key of %d bytes, want 32", len(key))
			}
			b = append(b, key...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(k.Revoke)))
	for _, id := range k.Revoke {
		raw, err := hex.DecodeString(id)
		if err != nil || len(raw) != 8 {
			return nil, fmt.Errorf("key rotation: key id %q: want 16 hex characters", id)
		}
		b = append(b, raw...)
	}
	reset := byte(0)
	if k.ResetFloors {
		reset = 1
	}
	b = append(b, reset)
	b = binary.AppendVarint(b, k.SignedAt.Unix())
	b = appendStr(b, k.Reason)
	return checkStatementSize(b)
}

// UnmarshalBinary decodes a rotation strictly.
func (k *KeyRotation) UnmarshalBinary(b []byte) error {
	if len(b) > MaxStatementBytes {
		return fmt.Errorf("%w: %d bytes", errRotationEncoding, len(b))
	}
	r := wireReader{b: b, bad: errRotationEncoding}
	out := KeyRotation{App: r.str(), Sequence: r.uvarint()}
	for _, dst := range []*[][]byte{&out.AddRelease, &out.AddServer} {
		n := r.bounded(MaxRotationKeys)
		for i := uint64(0); i < n && r.err == nil; i++ {
			*dst = append(*dst, append([]byte(nil), r.take(32)...))
		}
	}
	n := r.bounded(MaxRotationRevokes)
	for i := uint64(0); i < n && r.err == nil; i++ {
		out.Revoke = append(out.Revoke, hex.EncodeToString(r.take(8)))
	}
	switch r.byte() {
	case 0:
	case 1:
		out.ResetFloors = true
	default:
		r.fail("reset flag")
	}
	out.SignedAt = r.time()
	out.Reason = r.str()
	if err := r.end(); err != nil {
		return err
	}
	*k = out
	return nil
}

// appendRelease appends an Update's release trailer.
func appendRelease(b []byte, s *SignedStatement) ([]byte, error) {
	id, err := hex.DecodeString(s.KeyID)
	if err != nil || len(id) != 8 {
		return nil, fmt.Errorf("check answer: release key id %q: want 16 hex characters", s.KeyID)
	}
	if len(s.Signature) != 64 || len(s.Payload) == 0 || len(s.Payload) > MaxStatementBytes {
		return nil, errors.New("check answer: malformed release statement")
	}
	b = append(b, 1)
	b = appendStr(b, string(s.Payload))
	b = append(b, s.Signature...)
	return append(b, id...), nil
}

// readRelease reads an Update's release trailer when bytes are left.
func (r *wireReader) release() *SignedStatement {
	if r.err != nil || len(r.b) == 0 {
		return nil
	}
	if r.byte() != 1 {
		r.fail("release flag")
		return nil
	}
	s := &SignedStatement{Payload: []byte(r.str())}
	s.Signature = append([]byte(nil), r.take(64)...)
	s.KeyID = hex.EncodeToString(r.take(8))
	if r.err == nil && len(s.Payload) == 0 {
		r.fail("release statement")
	}
	return s
}

func checkStatementSize(b []byte) ([]byte, error) {
	if len(b) > MaxStatementBytes {
		return nil, fmt.Errorf("release statement: %d bytes, at most %d", len(b), MaxStatementBytes)
	}
	return b, nil
}

// time reads a varint of Unix seconds, bounded.
func (r *wireReader) time() time.Time {
	s := r.varint()
	if r.err == nil && (s < -1<<40 || s > 1<<40) {
		r.fail("time")
	}
	return time.Unix(s, 0).UTC()
}

// end fails when bytes are left, and returns the first error.
func (r *wireReader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes after the end", r.bad, len(r.b))
	}
	return r.err
}
