package api

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// The binary wire form of the native check answer. Every answer of a
// check costs its signature (64 bytes), two digests for an update (32
// each) and a few dozen bytes more, whatever the bundle:
//
//	SignedCheck: magic "PW\x03" | uint8 n (0 or 8) | key id, n bytes | signature, 64 bytes | payload
//	payload:     audience (0x00 device, 0x01 fleet) | str channel | uvarint sequence |
//	             varint issued (Unix s) | uvarint expires-issued (s) |
//	             0x00 | str code | str message                                   (no update)
//	             0x01 | str version | manifest, 32 bytes | uvarint files | uvarint size |
//	                    0x00 (no step: the built-in bundle) | 0x01 | step digest, 32 bytes | uvarint step size |
//	                    [release statement, release.go: only for a bundle uploaded with a release key]
//	str:         uvarint length | bytes
//
// Decoding is strict: no trailing bytes, every length bounded, no other
// audience. Version 3 added the audience (and signs it, SignedMessage): a
// version 2 body ("PW\x02") is refused, never read as one of version 3.

// CheckContentType is the Content-Type of a SignedCheck body.
const CheckContentType = "application/vnd.patchwire.check"

// checkMagic opens a SignedCheck body; its last byte is the version.
const checkMagic = "PW\x03"

// maxAnswerString bounds one string of an answer (names are bounded far
// lower by the server; a message is a sentence).
const maxAnswerString = 4096

// ErrAnswerEncoding reports bytes that are not a well-formed check answer.
var ErrAnswerEncoding = errors.New("check answer: malformed")

// MarshalBinary encodes the signed envelope.
func (sc SignedCheck) MarshalBinary() ([]byte, error) {
	var id []byte
	if sc.KeyID != "" {
		var err error
		if id, err = hex.DecodeString(sc.KeyID); err != nil || len(id) != 8 {
			return nil, fmt.Errorf("check answer: key id %q: want 16 hex characters", sc.KeyID)
		}
	}
	if len(sc.Signature) != 64 {
		return nil, fmt.Errorf("check answer: signature of %d bytes", len(sc.Signature))
	}
	out := make([]byte, 0, len(checkMagic)+1+len(id)+64+len(sc.Payload))
	out = append(out, checkMagic...)
	out = append(out, byte(len(id)))
	out = append(out, id...)
	out = append(out, sc.Signature...)
	return append(out, sc.Payload...), nil
}

// UnmarshalBinary decodes the envelope; it verifies nothing.
func (sc *SignedCheck) UnmarshalBinary(b []byte) error {
	if len(b) < len(checkMagic)+1 || string(b[:len(checkMagic)]) != checkMagic {
		return fmt.Errorf("%w: not a signed check answer", ErrAnswerEncoding)
	}
	b = b[len(checkMagic):]
	n := int(b[0])
	b = b[1:]
	if (n != 0 && n != 8) || len(b) < n+64 {
		return fmt.Errorf("%w: truncated envelope", ErrAnswerEncoding)
	}
	*sc = SignedCheck{}
	if n > 0 {
		sc.KeyID = hex.EncodeToString(b[:n])
	}
	sc.Signature = append([]byte(nil), b[n:n+64]...)
	sc.Payload = append([]byte(nil), b[n+64:]...)
	if len(sc.Payload) == 0 {
		return fmt.Errorf("%w: no payload", ErrAnswerEncoding)
	}
	return nil
}

// MarshalBinary encodes the payload. Type and the subject do not travel.
func (a CheckAnswer) MarshalBinary() ([]byte, error) {
	if (a.NoUpdate == nil) == (a.Update == nil) {
		return nil, errors.New("check answer: want exactly one of NoUpdate and Update")
	}
	ttl := a.Expires.Unix() - a.IssuedAt.Unix()
	if ttl < 0 {
		return nil, errors.New("check answer: expires before it is issued")
	}
	if a.Audience != AudienceDevice && a.Audience != AudienceFleet {
		return nil, fmt.Errorf("check answer: audience %d", a.Audience)
	}
	b := make([]byte, 1, 160) // an update answer's size, without a release statement
	b[0] = byte(a.Audience)
	b = appendStr(b, a.Channel)
	b = binary.AppendUvarint(b, a.Sequence)
	b = binary.AppendVarint(b, a.IssuedAt.Unix())
	b = binary.AppendUvarint(b, uint64(ttl))
	if no := a.NoUpdate; no != nil {
		b = append(b, 0)
		b = appendStr(b, no.Code)
		return appendStr(b, no.Message), nil
	}
	t := a.Update.Target
	if t.Files < 0 || t.Size < 0 {
		return nil, errors.New("check answer: negative target size")
	}
	b = append(b, 1)
	b = appendStr(b, t.Version)
	b = append(b, t.Manifest[:]...)
	b = binary.AppendUvarint(b, uint64(t.Files))
	b = binary.AppendUvarint(b, uint64(t.Size))
	if st := a.Update.Step; st != nil {
		if st.Size < 0 {
			return nil, errors.New("check answer: negative step size")
		}
		b = append(b, 1)
		b = append(b, st.Digest[:]...)
		b = binary.AppendUvarint(b, uint64(st.Size))
	} else {
		b = append(b, 0)
	}
	if a.Update.Release != nil {
		return appendRelease(b, a.Update.Release)
	}
	return b, nil
}

// UnmarshalBinary decodes a payload strictly. Type is set to
// CheckAnswerType; the subject is the verifier's to fill in.
func (a *CheckAnswer) UnmarshalBinary(b []byte) error {
	r := wireReader{b: b}
	out := CheckAnswer{Type: CheckAnswerType, Audience: Audience(r.byte())}
	if r.err == nil && out.Audience != AudienceDevice && out.Audience != AudienceFleet {
		r.fail("audience")
	}
	out.Channel = r.str()
	out.Sequence = r.uvarint()
	iat := r.varint()
	ttl := r.uvarint()
	if r.err == nil && (iat < -1<<40 || iat > 1<<40 || ttl > 1<<40) {
		r.err = fmt.Errorf("%w: times out of range", ErrAnswerEncoding)
	}
	out.IssuedAt = time.Unix(iat, 0).UTC()
	out.Expires = time.Unix(iat+int64(ttl), 0).UTC()
	switch r.byte() {
	case 0:
		out.NoUpdate = &NoUpdate{Code: r.str(), Message: r.str()}
	case 1:
		u := &Update{Target: TargetBundle{Version: r.str()}}
		copy(u.Target.Manifest[:], r.take(manifest.DigestSize))
		u.Target.Files = int(r.bounded(math.MaxInt32))
		u.Target.Size = int64(r.bounded(math.MaxInt64 / 2))
		switch r.byte() {
		case 0:
		case 1:
			u.Step = &StepRef{}
			copy(u.Step.Digest[:], r.take(manifest.DigestSize))
			u.Step.Size = int64(r.bounded(math.MaxInt64 / 2))
		default:
			r.fail("step flag")
		}
		u.Release = r.release()
		out.Update = u
	default:
		r.fail("kind")
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes after the answer", ErrAnswerEncoding, len(r.b))
	}
	if r.err != nil {
		return r.err
	}
	*a = out
	return nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// wireReader reads the payload, keeping the first error.
type wireReader struct {
	b   []byte
	err error
	bad error // what fail wraps; ErrAnswerEncoding when nil
}

func (r *wireReader) fail(what string) {
	if r.err == nil {
		bad := r.bad
		if bad == nil {
			bad = ErrAnswerEncoding
		}
		r.err = fmt.Errorf("%w: bad or truncated %s", bad, what)
	}
}

func (r *wireReader) uvarint() uint64 { return readNumber(r, binary.Uvarint) }

func (r *wireReader) varint() int64 { return readNumber(r, binary.Varint) }

// readNumber reads one varint with decode (binary.Uvarint or Varint).
func readNumber[T uint64 | int64](r *wireReader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) bounded(max uint64) uint64 {
	v := r.uvarint()
	if r.err == nil && v > max {
		r.fail("number")
	}
	return min(v, max)
}

func (r *wireReader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.fail("field")
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *wireReader) byte() byte { return r.take(1)[0] }

func (r *wireReader) str() string {
	n := r.bounded(maxAnswerString)
	if r.err != nil {
		return ""
	}
	return string(r.take(int(n)))
}
