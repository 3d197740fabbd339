package delta

import (
	"bytes"
	"errors"
	"fmt"
)

// Sentinel errors. Errors that depend on the input wrap one of them, so
// callers can branch with errors.Is; the others (a negative maxOut, a
// Choose verification failure) are bugs in the caller or in this package.
var (
	// ErrCorrupt reports a patch that is malformed, truncated, fails its
	// checksum or does not belong to the given old bytes.
	ErrCorrupt = errors.New("delta: corrupt patch")
	// ErrTooLarge reports inputs beyond what a codec handles (see the
	// package doc for each codec's limits). Callers should fall back to
	// another codec or to shipping the whole file.
	ErrTooLarge = errors.New("delta: input too large for codec")
	// ErrOutputLimit reports a patch whose output would exceed the maxOut
	// bound given to Apply.
	ErrOutputLimit = errors.New("delta: output exceeds limit")
)

// Codec is one binary diff format. Implementations are stateless values and
// safe for concurrent use.
type Codec interface {
	// Name is the stable wire name of the format, including its version
	// ("zstd-dict", "bsdiff"). A different encoding gets a different name.
	Name() string
	// Encode returns a patch that rebuilds new from old. It returns an
	// error wrapping ErrTooLarge when the pair exceeds the codec's limits.
	Encode(old, new []byte) ([]byte, error)
	// Apply rebuilds new from old and patch. It never returns more than
	// maxOut bytes (ErrOutputLimit instead), never panics, and bounds its
	// memory on hostile patches to about maxOut plus a small constant
	// beyond old and patch. Malformed patches give ErrCorrupt.
	Apply(old, patch []byte, maxOut int64) ([]byte, error)
}

// Wire names of the codecs in this package.
const (
	NameZstdDict = "zstd-dict"
	NameBsdiff   = "bsdiff"
)

// The codecs of this package. They are stateless; use them directly or
// through Lookup.
var (
	// ZstdDict is the "zstd-dict" codec: a standard zstd frame compressed
	// with old as a raw dictionary (dictionary ID 0), as zstd --patch-from.
	ZstdDict Codec = zstdDict{}
	// Bsdiff is the "bsdiff" codec: the classic BSDIFF40 format of
	// bsdiff 4.3, as written by bsdiff and read by bspatch.
	Bsdiff Codec = bsdiffCodec{}
)

// Lookup returns the codec with the given wire name.
func Lookup(name string) (Codec, bool) {
	switch name {
	case NameZstdDict:
		return ZstdDict, true
	case NameBsdiff:
		return Bsdiff, true
	}
	return nil, false
}

// All returns every codec of this package, preferred first. The slice is
// new on each call.
func All() []Codec {
	return []Codec{ZstdDict, Bsdiff}
}

// BsdiffChooseLimit is the largest len(old)+len(new) for which Choose runs
// the bsdiff codec. bsdiff sorts the suffixes of old in memory (about 9×
// len(old) bytes, plus about 2× len(new)) and its encode time grows faster
// than linearly, so above this Choose leaves it out. Bsdiff.Encode itself
// still accepts larger inputs.
const BsdiffChooseLimit = 16 << 20

// chooseLimiter is implemented by codecs that Choose should skip when
// len(old)+len(new) exceeds chooseLimit.
type chooseLimiter interface {
	chooseLimit() int64
}

// Result is the patch Choose picked.
type Result struct {
	// Codec is the wire name of the codec that made Patch.
	Codec string
	// Patch rebuilds new from old with that codec's Apply.
	Patch []byte
}

// Choose encodes new against old with each of codecs (All() when none are
// given), checks that each patch applies back to exactly new, and returns
// the smallest; on equal sizes the earlier codec wins.
//
// Codecs that report ErrTooLarge are skipped, and so is bsdiff when
// len(old)+len(new) > BsdiffChooseLimit. If every codec was skipped, Choose
// returns an error wrapping ErrTooLarge. Any other encode error, or a patch
// that does not round-trip, is returned as an error: it is a bug, not a
// property of the input.
//
// Choose runs the codecs one after the other, so peak memory is that of the
// hungriest codec, not their sum.
func Choose(old, new []byte, codecs ...Codec) (Result, error) {
	if len(codecs) == 0 {
		codecs = All()
	}
	total := int64(len(old)) + int64(len(new))
	var best Result
	found := false
	for _, c := range codecs {
		if l, ok := c.(chooseLimiter); ok && total > l.chooseLimit() {
			continue
		}
		patch, err := c.Encode(old, new)
		if errors.Is(err, ErrTooLarge) {
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("delta: choose: %s: %w", c.Name(), err)
		}
		got, err := c.Apply(old, patch, int64(len(new)))
		if err != nil {
			return Result{}, fmt.Errorf("delta: choose: %s: verify: %w", c.Name(), err)
		}
		if !bytes.Equal(got, new) {
			return Result{}, fmt.Errorf("delta: choose: %s: verify: patch does not reproduce new", c.Name())
		}
		if !found || len(patch) < len(best.Patch) {
			best = Result{Codec: c.Name(), Patch: patch}
			found = true
		}
	}
	if !found {
		return Result{}, fmt.Errorf("delta: choose: no codec accepts %d bytes: %w", total, ErrTooLarge)
	}
	return best, nil
}
