package manifest

import (
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	sha256 "github.com/minio/sha256-simd"
)

// DigestSize is the length in bytes of a Digest.
const DigestSize = 32

// Digest is the SHA-256 of a file's raw bytes, the name of every object.
type Digest [DigestSize]byte

// String returns the digest as 64 lowercase hexadecimal characters.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero digest (no digest).
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText encodes d as 64 lowercase hex characters.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses the form MarshalText produces and nothing else.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// ParseDigest accepts exactly 64 lowercase hexadecimal characters. Anything
// else (upper case, other lengths, prefixes) is an error, so one object has
// exactly one name.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*DigestSize {
		return d, fmt.Errorf("digest must be 64 lowercase hex characters, got %d characters", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return d, fmt.Errorf("digest must be 64 lowercase hex characters, found %q at %d", c, i)
		}
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	return d, nil
}

// Sum returns the digest of b.
func Sum(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// NewHash returns a SHA-256 hash.Hash (SIMD-accelerated where the CPU allows).
func NewHash() hash.Hash { return sha256.New() }

// SumReader hashes everything r yields and returns the digest and byte count.
func SumReader(r io.Reader) (Digest, int64, error) {
	h := NewHash()
	n, err := io.Copy(h, r)
	if err != nil {
		return Digest{}, n, err
	}
	var d Digest
	h.Sum(d[:0])
	return d, n, nil
}
