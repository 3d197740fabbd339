package checksig

// Release keys (api/release.go): what a release statement and a key
// rotation signature covers, how CI makes one and how the server (which
// checks an uploaded one is whole and about the bundle it commits) and the
// device (which trusts it only from its own keys) verify it.

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/patchwire/patchwire/api"
)

// Errors a release statement or key rotation is refused with; every
// refusal wraps exactly one.
var (
	// ErrReleaseUnsigned: an update without a release statement, for a
	// device that trusts release keys.
	ErrReleaseUnsigned = errors.New("bundle is not signed by a release key")
	// ErrReleaseUntrusted: signed by a key the verifier does not trust (or
	// has revoked).
	ErrReleaseUntrusted = errors.New("release statement signed by an untrusted release key")
	// ErrReleaseBadSignature: the signature does not verify.
	ErrReleaseBadSignature = errors.New("release statement signature does not verify")
	// ErrReleaseMalformed: the signed payload is not a well-formed
	// statement (or rotation) of the right kind.
	ErrReleaseMalformed = errors.New("release statement is malformed")
	// ErrReleaseMismatch: a verified statement about another app, version,
	// bundle or device than the one it comes with.
	ErrReleaseMismatch = errors.New("release statement does not match the update")
)

// GenerateReleaseKey makes a new ed25519 release key.
func GenerateReleaseKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
}

// EncodePrivateKey is key as a PEM "PRIVATE KEY" (PKCS #8) block, the form
// of the server's signing.key and of release key files.
func EncodePrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads an ed25519 key from a PEM "PRIVATE KEY" block;
// name (the file) prefixes its errors.
func ParsePrivateKey(name string, b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: want a PEM PRIVATE KEY block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an ed25519 key", name, k)
	}
	return priv, nil
}

// SignRelease encodes st and signs it with key.
func SignRelease(key ed25519.PrivateKey, st api.ReleaseStatement) (api.SignedStatement, error) {
	if err := ValidateNativeRange(st.NativeRange); err != nil {
		return api.SignedStatement{}, err
	}
	payload, err := st.MarshalBinary()
	if err != nil {
		return api.SignedStatement{}, err
	}
	return signStatement(key, api.ReleaseContext, payload)
}

// SignRotation encodes r and signs it with key.
func SignRotation(key ed25519.PrivateKey, r api.KeyRotation) (api.SignedStatement, error) {
	payload, err := r.MarshalBinary()
	if err != nil {
		return api.SignedStatement{}, err
	}
	return signStatement(key, api.RotationContext, payload)
}

func signStatement(key ed25519.PrivateKey, context string, payload []byte) (api.SignedStatement, error) {
	if len(key) != ed25519.PrivateKeySize {
		return api.SignedStatement{}, errors.New("release key: not an ed25519 private key")
	}
	pub := key.Public().(ed25519.PublicKey)
	return api.SignedStatement{
		Payload:   payload,
		Signature: ed25519.Sign(key, append([]byte(context), payload...)),
		KeyID:     KeyID(pub),
		PublicKey: pub,
	}, nil
}

// VerifyRelease checks s's signature with the trusted keys, and only then
// decodes the statement.
func VerifyRelease(s api.SignedStatement, keys []ed25519.PublicKey) (*api.ReleaseStatement, error) {
	if err := verifyStatement(s, api.ReleaseContext, keys); err != nil {
		return nil, err
	}
	var st api.ReleaseStatement
	if err := st.UnmarshalBinary(s.Payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReleaseMalformed, err)
	}
	return &st, nil
}

// VerifyRotation checks s's signature with the trusted keys, and only then
// decodes the rotation.
func VerifyRotation(s api.SignedStatement, keys []ed25519.PublicKey) (*api.KeyRotation, error) {
	if err := verifyStatement(s, api.RotationContext, keys); err != nil {
		return nil, err
	}
	var r api.KeyRotation
	if err := r.UnmarshalBinary(s.Payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReleaseMalformed, err)
	}
	return &r, nil
}

// UploadedKey is the key an uploaded statement says signed it (its
// PublicKey), checked against its KeyID: the server verifies uploads with
// it, so what it stores is whole. That says nothing about whether any
// device trusts the key.
func UploadedKey(s api.SignedStatement) ([]ed25519.PublicKey, error) {
	if len(s.PublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public_key must be 32 bytes", ErrReleaseMalformed)
	}
	pub := ed25519.PublicKey(s.PublicKey)
	if s.KeyID != KeyID(pub) {
		return nil, fmt.Errorf("%w: key_id %q is not the public key's (%s)", ErrReleaseMalformed, s.KeyID, KeyID(pub))
	}
	return []ed25519.PublicKey{pub}, nil
}

func verifyStatement(s api.SignedStatement, context string, keys []ed25519.PublicKey) error {
	if len(s.Payload) == 0 || len(s.Signature) == 0 {
		return ErrReleaseUnsigned
	}
	if len(s.Payload) > api.MaxStatementBytes || len(s.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: %d-byte payload, %d-byte signature", ErrReleaseMalformed, len(s.Payload), len(s.Signature))
	}
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize && KeyID(k) == s.KeyID {
			if ed25519.Verify(k, append([]byte(context), s.Payload...), s.Signature) {
				return nil
			}
			return fmt.Errorf("%w (key id %s)", ErrReleaseBadSignature, s.KeyID)
		}
	}
	return fmt.Errorf("%w: key id %q", ErrReleaseUntrusted, s.KeyID)
}

// ValidateNativeRange accepts "" or a semver constraint.
func ValidateNativeRange(r string) error {
	if r == "" {
		return nil
	}
	if len(r) > 256 {
		return fmt.Errorf("native range is %d bytes, at most 256", len(r))
	}
	if _, err := semver.NewConstraint(r); err != nil {
		return fmt.Errorf("native range %q: %v", r, err)
	}
	return nil
}

// ReleaseFor is what a statement must match: the bundle it comes with, and
// the device that installs it ("" platform or native version: not checked,
// as on the server).
type ReleaseFor struct {
	Target        api.TargetBundle
	App           string
	Platform      string
	NativeVersion string
}

// Match refuses (ErrReleaseMismatch) a statement about another app,
// version or bundle than want's, or one that does not claim want's
// platform and native version.
func Match(st *api.ReleaseStatement, want ReleaseFor) error {
	t := want.Target
	switch {
	case st.App != want.App:
		return fmt.Errorf("%w: signed for app %q, not %q", ErrReleaseMismatch, st.App, want.App)
	case st.Version != t.Version:
		return fmt.Errorf("%w: signed for version %q, the update is %q", ErrReleaseMismatch, st.Version, t.Version)
	case st.Manifest != t.Manifest || st.Files != t.Files || st.Size != t.Size:
		return fmt.Errorf("%w: signed for manifest %s (%d files, %d bytes), the update is %s (%d files, %d bytes)",
			ErrReleaseMismatch, st.Manifest, st.Files, st.Size, t.Manifest, t.Files, t.Size)
	}
	if want.Platform != "" && len(st.Platforms) > 0 && !slices.Contains(st.Platforms, want.Platform) {
		return fmt.Errorf("%w: signed for %s, this device is %s", ErrReleaseMismatch, strings.Join(st.Platforms, ","), want.Platform)
	}
	if want.NativeVersion != "" && st.NativeRange != "" {
		c, err := semver.NewConstraint(st.NativeRange)
		if err != nil {
			return fmt.Errorf("%w: native range %q: %v", ErrReleaseMalformed, st.NativeRange, err)
		}
		v, err := semver.NewVersion(want.NativeVersion)
		if err != nil || !c.Check(v) {
			return fmt.Errorf("%w: signed for native versions %s, this build is %s", ErrReleaseMismatch, st.NativeRange, want.NativeVersion)
		}
	}
	return nil
}

// DescribeRotation says what a rotation does, in one line.
func DescribeRotation(r api.KeyRotation) string {
	var parts []string
	for _, k := range r.AddRelease {
		parts = append(parts, "trust release key "+KeyID(k)+" ("+base64.StdEncoding.EncodeToString(k)+")")
	}
	for _, k := range r.AddServer {
		parts = append(parts, "trust server key "+KeyID(k))
	}
	for _, id := range r.Revoke {
		parts = append(parts, "revoke "+id)
	}
	if r.ResetFloors {
		parts = append(parts, "reset sequence floors")
	}
	s := strings.Join(parts, ", ")
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	return s
}
