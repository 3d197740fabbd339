package delta

import (
	"bytes"
	stdbzip2 "compress/bzip2"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/dsnet/compress/bzip2"
)

// BSDIFF40 layout (bsdiff 4.3):
//
//	0   8  "BSDIFF40"
//	8   8  length of the bzip2 control block
//	16  8  length of the bzip2 diff block
//	24  8  length of new
//	32  .. bzip2 control block: triples (x, y, z) of offtin int64s
//	..  .. bzip2 diff block: bytes added to old
//	..  .. bzip2 extra block: bytes copied as they are
//
// For each triple, new gets x bytes of diff added byte-wise to old from
// oldpos, then y bytes of extra; oldpos then moves by x+z.

const (
	bsdiffMagic      = "BSDIFF40"
	bsdiffHeaderSize = 32

	// BsdiffMaxOld is the largest old the bsdiff encoder accepts: the
	// suffix array uses 32-bit positions.
	BsdiffMaxOld = math.MaxInt32 - 1
)

type bsdiffCodec struct{}

// Name implements Codec.
func (bsdiffCodec) Name() string { return NameBsdiff }

func (bsdiffCodec) chooseLimit() int64 { return BsdiffChooseLimit }

// Encode implements Codec with bsdiff 4.3's algorithm; the control, diff
// and extra data are exactly bsdiff's (the tests check this against Debian
// bsdiff), only the bzip2 compressor differs. It needs about 9×len(old) +
// 2×len(new) bytes of memory.
func (bsdiffCodec) Encode(old, new []byte) ([]byte, error) {
	if len(old) > BsdiffMaxOld {
		return nil, fmt.Errorf("delta: bsdiff: old is %d bytes, max %d: %w", len(old), BsdiffMaxOld, ErrTooLarge)
	}
	ctrl, diff, extra := bsdiffScan(old, new)

	var out bytes.Buffer
	out.Grow(bsdiffHeaderSize + len(ctrl)/4 + len(extra)/2 + 1024)
	out.Write(make([]byte, bsdiffHeaderSize))
	lens := [3]int{}
	for i, block := range [][]byte{ctrl, diff, extra} {
		before := out.Len()
		if err := bzip2Compress(&out, block); err != nil {
			return nil, fmt.Errorf("delta: bsdiff: %w", err)
		}
		lens[i] = out.Len() - before
	}
	patch := out.Bytes()
	copy(patch, bsdiffMagic)
	offtout(patch[8:], int64(lens[0]))
	offtout(patch[16:], int64(lens[1]))
	offtout(patch[24:], int64(len(new)))
	return patch, nil
}

func bzip2Compress(w io.Writer, data []byte) error {
	zw, err := bzip2.NewWriter(w, &bzip2.WriterConfig{Level: 9})
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	return zw.Close()
}

// offtout writes x as bsdiff's 8-byte sign-magnitude little-endian integer.
func offtout(buf []byte, x int64) {
	y := uint64(x)
	if x < 0 {
		y = uint64(-x)
	}
	binary.LittleEndian.PutUint64(buf, y)
	if x < 0 {
		buf[7] |= 0x80
	}
}

// offtin reads bsdiff's 8-byte sign-magnitude little-endian integer.
func offtin(buf []byte) int64 {
	y := int64(binary.LittleEndian.Uint64(buf) &^ (1 << 63))
	if buf[7]&0x80 != 0 {
		return -y
	}
	return y
}

// bsdiffScan is bsdiff 4.3's main loop: it finds approximate matches of new
// in old through the suffix array and returns the raw control, diff and
// extra blocks.
func bsdiffScan(old, new []byte) (ctrl, diff, extra []byte) {
	I := suffixArray(old)
	oldLen, newLen := len(old), len(new)
	diff = make([]byte, 0, newLen)
	extra = make([]byte, 0, newLen/8)
	var entry [24]byte

	var scan, length, pos, lastscan, lastpos, lastoffset int
	for scan < newLen {
		oldscore := 0
		scan += length
		scsc := scan
		for ; scan < newLen; scan++ {
			pos, length = bsdiffSearch(I, old, new[scan:])
			for ; scsc < scan+length; scsc++ {
				if scsc+lastoffset < oldLen && old[scsc+lastoffset] == new[scsc] {
					oldscore++
				}
			}
			if (length == oldscore && length != 0) || length > oldscore+8 {
				break
			}
			if scan+lastoffset < oldLen && old[scan+lastoffset] == new[scan] {
				oldscore--
			}
		}
		if length == oldscore && scan != newLen {
			continue
		}

		// Extend the previous match forward and this one backward,
		// keeping the extensions where more than half the bytes agree.
		var s, sf, lenf int
		for i := 0; lastscan+i < scan && lastpos+i < oldLen; {
			if old[lastpos+i] == new[lastscan+i] {
				s++
			}
			i++
			if s*2-i > sf*2-lenf {
				sf, lenf = s, i
			}
		}
		lenb := 0
		if scan < newLen {
			s, sb := 0, 0
			for i := 1; scan >= lastscan+i && pos >= i; i++ {
				if old[pos-i] == new[scan-i] {
					s++
				}
				if s*2-i > sb*2-lenb {
					sb, lenb = s, i
				}
			}
		}
		if lastscan+lenf > scan-lenb {
			overlap := (lastscan + lenf) - (scan - lenb)
			s, ss, lens := 0, 0, 0
			for i := 0; i < overlap; i++ {
				if new[lastscan+lenf-overlap+i] == old[lastpos+lenf-overlap+i] {
					s++
				}
				if new[scan-lenb+i] == old[pos-lenb+i] {
					s--
				}
				if s > ss {
					ss, lens = s, i+1
				}
			}
			lenf += lens - overlap
			lenb -= lens
		}

		for i := 0; i < lenf; i++ {
			diff = append(diff, new[lastscan+i]-old[lastpos+i])
		}
		extra = append(extra, new[lastscan+lenf:scan-lenb]...)

		offtout(entry[0:], int64(lenf))
		offtout(entry[8:], int64((scan-lenb)-(lastscan+lenf)))
		offtout(entry[16:], int64((pos-lenb)-(lastpos+lenf)))
		ctrl = append(ctrl, entry[:]...)

		lastscan = scan - lenb
		lastpos = pos - lenb
		lastoffset = pos - scan
	}
	return ctrl, diff, extra
}

// bsdiffSearch finds the suffix of old sharing the longest prefix with new
// by binary search over the suffix array I, as bsdiff's search().
func bsdiffSearch(I []int32, old, new []byte) (pos, n int) {
	st, en := 0, len(old)
	for en-st >= 2 {
		x := st + (en-st)/2
		o := old[I[x]:]
		m := min(len(o), len(new))
		if bytes.Compare(o[:m], new[:m]) < 0 {
			st = x
		} else {
			en = x
		}
	}
	x := matchLen(old[I[st]:], new)
	y := matchLen(old[I[en]:], new)
	if x > y {
		return int(I[st]), x
	}
	return int(I[en]), y
}

// matchLen returns the length of the common prefix of a and b.
func matchLen(a, b []byte) int {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + trailingZeroBytes(x)
		}
	}
	for ; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func trailingZeroBytes(x uint64) int {
	n := 0
	for x&0xff == 0 {
		x >>= 8
		n++
	}
	return n
}

// Apply implements Codec, with the semantics of bspatch: diff bytes whose
// old position falls outside old are copied unchanged (bspatch adds nothing
// there). It checks every length and position, and allocates output only as
// decompressed data arrives. Unlike bspatch it also requires each of the
// three bzip2 streams to end, intact, right after the data it used, and
// nothing to follow the extra stream.
func (bsdiffCodec) Apply(old, patch []byte, maxOut int64) ([]byte, error) {
	if maxOut < 0 {
		return nil, fmt.Errorf("delta: bsdiff: negative maxOut %d", maxOut)
	}
	if len(patch) < bsdiffHeaderSize || string(patch[:8]) != bsdiffMagic {
		return nil, fmt.Errorf("%w: bsdiff: bad header", ErrCorrupt)
	}
	ctrlLen, diffLen, newSize := offtin(patch[8:]), offtin(patch[16:]), offtin(patch[24:])
	body := int64(len(patch) - bsdiffHeaderSize)
	if ctrlLen < 0 || diffLen < 0 || newSize < 0 || ctrlLen > body || diffLen > body-ctrlLen {
		return nil, fmt.Errorf("%w: bsdiff: bad header lengths", ErrCorrupt)
	}
	if newSize > maxOut {
		return nil, fmt.Errorf("delta: bsdiff: new is %d bytes, limit %d: %w", newSize, maxOut, ErrOutputLimit)
	}
	if newSize > math.MaxInt {
		return nil, fmt.Errorf("delta: bsdiff: new is %d bytes: %w", newSize, ErrTooLarge)
	}
	rest := patch[bsdiffHeaderSize:]
	ctrlR := stdbzip2.NewReader(bytes.NewReader(rest[:ctrlLen]))
	diffR := stdbzip2.NewReader(bytes.NewReader(rest[ctrlLen : ctrlLen+diffLen]))
	extraR := stdbzip2.NewReader(bytes.NewReader(rest[ctrlLen+diffLen:]))

	size := int(newSize)
	out := make([]byte, 0, min(size, 1<<20))
	oldLen := int64(len(old))
	var oldpos int64
	var entry [24]byte
	// bsdiff writes about one entry per match, at most about one per two
	// bytes of new, but entries may make no progress (x = y = 0). Bound
	// them so that a compressed run of empty entries cannot spin.
	maxEntries := 2*min(newSize, math.MaxInt64/4) + 1024
	for entries := int64(0); len(out) < size; entries++ {
		if entries >= maxEntries {
			return nil, fmt.Errorf("%w: bsdiff: over %d control entries", ErrCorrupt, maxEntries)
		}
		if _, err := io.ReadFull(ctrlR, entry[:]); err != nil {
			return nil, fmt.Errorf("%w: bsdiff: control block: %w", ErrCorrupt, err)
		}
		x, y, z := offtin(entry[0:]), offtin(entry[8:]), offtin(entry[16:])
		remain := int64(size - len(out))
		if x < 0 || y < 0 || x > remain || y > remain-x {
			return nil, fmt.Errorf("%w: bsdiff: control entry (%d, %d, %d) runs past new size %d", ErrCorrupt, x, y, z, newSize)
		}

		// Diff: x bytes added to old[oldpos:oldpos+x], where in range.
		start := len(out)
		var err error
		if out, err = readAppend(out, diffR, int(x), size); err != nil {
			return nil, fmt.Errorf("%w: bsdiff: diff block: %w", ErrCorrupt, err)
		}
		lo, hi := max(oldpos, 0), min(oldpos+x, oldLen)
		if lo < hi {
			dst := out[start+int(lo-oldpos):]
			for i, b := range old[lo:hi] {
				dst[i] += b
			}
		}

		// Extra: y bytes as they are.
		if out, err = readAppend(out, extraR, int(y), size); err != nil {
			return nil, fmt.Errorf("%w: bsdiff: extra block: %w", ErrCorrupt, err)
		}

		// |oldpos| stays below 2^61 and x bytes were just read into memory,
		// so only z can overflow the sum.
		if z > math.MaxInt64/4 || z < -math.MaxInt64/4 {
			return nil, fmt.Errorf("%w: bsdiff: control entry seeks by %d", ErrCorrupt, z)
		}
		oldpos += x + z
		if oldpos > math.MaxInt64/4 || oldpos < -math.MaxInt64/4 {
			return nil, fmt.Errorf("%w: bsdiff: old position %d out of range", ErrCorrupt, oldpos)
		}
	}

	// bspatch stops reading here. Reading each stream to its end as well
	// checks the bzip2 block and stream CRCs, so a damaged patch is an
	// error rather than a wrong new; bsdiff never writes more than the
	// entries and bytes used.
	for _, s := range []struct {
		name string
		r    io.Reader
	}{{"control", ctrlR}, {"diff", diffR}, {"extra", extraR}} {
		var one [1]byte
		switch _, err := io.ReadFull(s.r, one[:]); err {
		case io.EOF:
		case nil:
			return nil, fmt.Errorf("%w: bsdiff: %s block has unused data", ErrCorrupt, s.name)
		default:
			return nil, fmt.Errorf("%w: bsdiff: %s block: %w", ErrCorrupt, s.name, err)
		}
	}
	return out, nil
}

// readAppend appends exactly n bytes from r to buf, growing buf's capacity
// geometrically but never past limit.
func readAppend(buf []byte, r io.Reader, n, limit int) ([]byte, error) {
	need := len(buf) + n
	for len(buf) < need {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(limit, max(2*cap(buf), 4096)))
			copy(grown, buf)
			buf = grown
		}
		chunk := min(need, cap(buf))
		got, err := io.ReadFull(r, buf[len(buf):chunk])
		buf = buf[:len(buf)+got]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}
