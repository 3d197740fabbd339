package delta

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"
)

const (
	// ZstdMaxPair is the largest len(old)+len(new) the zstd-dict encoder
	// accepts: the encoder can only reach back one window, and the window
	// is at most zstd.MaxWindowSize (512 MiB).
	ZstdMaxPair = zstd.MaxWindowSize

	// ZstdMaxApplyWindow is the largest frame window the zstd-dict Apply
	// accepts (2 GiB, zstd --long=31). Apply decodes in memory, so the
	// window costs no memory; it is only a sanity bound. Frames written by
	// `zstd --patch-from` on pairs up to about 1 GiB fit.
	ZstdMaxApplyWindow = 1 << 31

	// zstdLongWindow: frames whose window is larger need --long=N (or
	// --memory) for the zstd CLI to decode them.
	zstdLongWindow = 128 << 20

	// zstdOverAlloc is spare capacity given to the decoder past the
	// expected output, so its fast paths stay enabled.
	zstdOverAlloc = 64

	// zstdPoolMaxWindow: encoders for windows up to this size are kept in
	// a sync.Pool (see zstdEncode); a pooled encoder holds about 70 MB of
	// tables plus a history buffer of about the window.
	zstdPoolMaxWindow = 64 << 20
)

type zstdDict struct{}

// Name implements Codec.
func (zstdDict) Name() string { return NameZstdDict }

// zstdWindow returns the encoder window for a pair: the next power of two
// ≥ len(old)+len(new), at least zstd.MinWindowSize.
func zstdWindow(oldLen, newLen int) (int, error) {
	total := int64(oldLen) + int64(newLen)
	if total > ZstdMaxPair {
		return 0, fmt.Errorf("delta: zstd-dict: old+new is %d bytes, max %d: %w", total, int64(ZstdMaxPair), ErrTooLarge)
	}
	if total <= zstd.MinWindowSize {
		return zstd.MinWindowSize, nil
	}
	return 1 << bits.Len64(uint64(total-1)), nil
}

// ZstdCLILong returns the --long=N argument with which the zstd command
// line tool decodes a zstd-dict patch for a pair of these sizes, or 0 when
// none is needed: `zstd -d --long=N --patch-from=OLD`. The CLI refuses
// frame windows over 128 MiB without it. N is the encoder's window, an
// upper bound on the frame's (a larger --long on decode is harmless).
func ZstdCLILong(oldLen, newLen int) int {
	w, err := zstdWindow(oldLen, newLen)
	if err != nil || w <= zstdLongWindow {
		return 0
	}
	return bits.Len(uint(w)) - 1
}

// Encoder reuse. SpeedBestCompression tables are about 70 MB and every
// encode with a new dictionary rebuilds and copies them: ~10 ms, which
// dominates encodes of small files. EncodeAll cannot reuse an encoder
// cheaply (changing its dictionary also rebuilds the tables of its
// streaming half, doubling time and memory), but a streaming encode whose
// input fits in one block goes through the same single-frame path as
// EncodeAll (content size, single segment, checksum) with one table build.
// So: new smaller than a block → pooled encoder, streaming Write+Close;
// larger → a fresh encoder and EncodeAll, where setup is small next to the
// encode itself.
const (
	zstdBlockSize = 128 << 10 // zstd's maximum block size, klauspost's default
)

// zstdEncPools holds *zstd.Encoder by log2(window), for windows up to
// zstdPoolMaxWindow (the window cannot change on reset).
var zstdEncPools [bits.UintSize]sync.Pool

func newZstdEncoder(window int, old []byte) (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBestCompression),
		zstd.WithWindowSize(window),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderDictRaw(0, old),
		zstd.WithZeroFrames(true),
	)
}

// Encode implements Codec. The patch is one zstd frame with a content size
// and a checksum; old is used as a raw dictionary with ID 0.
func (zstdDict) Encode(old, new []byte) ([]byte, error) {
	return zstdEncode(old, new, true)
}

// zstdEncode encodes new; pool allows a pooled encoder for small inputs
// (benchmarks compare both).
func zstdEncode(old, new []byte, pool bool) ([]byte, error) {
	window, err := zstdWindow(len(old), len(new))
	if err != nil {
		return nil, err
	}
	if pool && len(new) > 0 && len(new) < zstdBlockSize && window <= zstdPoolMaxWindow {
		p := &zstdEncPools[bits.Len(uint(window))]
		enc, _ := p.Get().(*zstd.Encoder)
		if enc == nil {
			if enc, err = newZstdEncoder(window, old); err != nil {
				return nil, fmt.Errorf("delta: zstd-dict: %w", err)
			}
		}
		var buf bytes.Buffer
		buf.Grow(len(new)/2 + 64)
		if err := enc.ResetWithOptions(&buf, zstd.WithEncoderDictRaw(0, old)); err != nil {
			return nil, fmt.Errorf("delta: zstd-dict: %w", err)
		}
		if _, err := enc.Write(new); err != nil {
			return nil, fmt.Errorf("delta: zstd-dict: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("delta: zstd-dict: %w", err)
		}
		p.Put(enc)
		return buf.Bytes(), nil
	}
	enc, err := newZstdEncoder(window, old)
	if err != nil {
		return nil, fmt.Errorf("delta: zstd-dict: %w", err)
	}
	return enc.EncodeAll(new, nil), nil
}

// Apply implements Codec. It accepts any standard zstd frames (one or more,
// skippable frames included) whose dictionary ID is 0 or absent, with old as
// the raw dictionary, as written by Encode or by `zstd --patch-from=OLD`.
func (zstdDict) Apply(old, patch []byte, maxOut int64) ([]byte, error) {
	if maxOut < 0 {
		return nil, fmt.Errorf("delta: zstd-dict: negative maxOut %d", maxOut)
	}
	if len(old) > ZstdMaxApplyWindow {
		return nil, fmt.Errorf("delta: zstd-dict: old is %d bytes: %w", len(old), ErrTooLarge)
	}
	var h zstd.Header
	if err := h.Decode(patch); err != nil {
		return nil, fmt.Errorf("%w: zstd-dict: %w", ErrCorrupt, err)
	}
	if !h.Skippable && h.DictionaryID != 0 {
		return nil, fmt.Errorf("%w: zstd-dict: frame wants dictionary %d", ErrCorrupt, h.DictionaryID)
	}
	if !h.Skippable && h.WindowSize > ZstdMaxApplyWindow {
		return nil, fmt.Errorf("%w: zstd-dict: window %d > %d", ErrCorrupt, h.WindowSize, ZstdMaxApplyWindow)
	}

	// The decoder caps output at cap(dst) (WithDecodeAllCapLimit). Start
	// with the declared content size, or a guess, and grow geometrically
	// up to maxOut when the guess (or a later frame) does not fit: a
	// hostile patch costs at most about twice its output in memory, and
	// a few decodes.
	limit := uint64(maxOut)
	var size uint64
	switch {
	case h.HasFCS:
		if h.FrameContentSize > limit {
			return nil, fmt.Errorf("delta: zstd-dict: frame declares %d bytes, limit %d: %w", h.FrameContentSize, maxOut, ErrOutputLimit)
		}
		size = h.FrameContentSize
	default:
		size = min(limit, max(64<<10, 4*uint64(len(patch))))
	}

	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderDictRaw(0, old),
		zstd.WithDecoderMaxWindow(ZstdMaxApplyWindow),
		// The decoder also bounds the window by this, so it cannot be
		// maxOut: a patch-from frame's window covers old as well. Output
		// is bounded by cap(dst) instead.
		zstd.WithDecoderMaxMemory(max(limit, ZstdMaxApplyWindow)),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderLowmem(true),
	)
	if err != nil {
		return nil, fmt.Errorf("delta: zstd-dict: %w", err)
	}
	defer dec.Close()
	for {
		out, err := dec.DecodeAll(patch, make([]byte, 0, size+zstdOverAlloc))
		switch {
		case errors.Is(err, zstd.ErrDecoderSizeExceeded):
			if size >= limit {
				return nil, fmt.Errorf("delta: zstd-dict: output over %d bytes: %w", maxOut, ErrOutputLimit)
			}
			size = min(limit, max(2*size, 64<<10))
			continue
		case err != nil:
			return nil, fmt.Errorf("%w: zstd-dict: %w", ErrCorrupt, err)
		case uint64(len(out)) > limit:
			return nil, fmt.Errorf("delta: zstd-dict: output over %d bytes: %w", maxOut, ErrOutputLimit)
		}
		return out, nil
	}
}
