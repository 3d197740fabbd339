package manifest

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// Zip record signatures and fixed lengths (APPNOTE.TXT 4.3).
const (
	zipLocalSig   = 0x04034b50
	zipCentralSig = 0x02014b50
	zipEndSig     = 0x06054b50
	zip64EndSig   = 0x06064b50
	zip64LocSig   = 0x07064b50
	zipDescSig    = 0x08074b50

	zipLocalLen   = 30
	zipCentralLen = 46
	zipEndLen     = 22
	zip64EndLen   = 56
	zip64LocLen   = 20
	zipMaxComment = 0xffff

	zipFlagEncrypted  = 0x0001
	zipFlagDescriptor = 0x0008
	zipFlagStrongEnc  = 0x0040
	zipFlagMaskedDir  = 0x2000

	zipExtraZip64       = 0x0001
	zipExtraUnicodePath = 0x7075

	// zipCentralBudget bounds the central directory: 4 KiB of name, extra
	// fields and comment per entry on average, plus 64 KiB. archive/zip
	// keeps it all in memory.
	zipCentralBudget = 4 << 10
	zipCentralSlack  = 64 << 10

	max16 = 0xffff
	max32 = 0xffffffff
)

// OpenZip validates the zip archive in r (size bytes) and returns it as a
// Source whose Open re-inflates an entry on demand; r must stay readable
// until the Source is closed, and OpenZip never closes it.
//
// Beyond the rules every Source obeys, the zip must be one a different
// reader could not read differently, so OpenZip refuses (CodeCorruptZip)
// anything but a plain single-disk archive: data before the first entry or
// after the end record, two end records, gaps or overlaps between entries
// (overlapping entries are how non-recursive zip bombs reach huge ratios),
// local headers that disagree with the central directory on name, method,
// flags, CRC or sizes, a second name in an Info-ZIP Unicode Path field,
// encryption, and compression methods other than stored and deflate. The
// central directory's entry count is read first and compared with Limits,
// so a lying count costs nothing.
//
// Every file entry is inflated in full while its bytes are hashed, counting
// the bytes actually produced: no more than the declared size plus one is
// ever read, and an entry whose bytes differ from its declared size or CRC-32
// is refused. Declared sizes over MaxFileBytes or, in all, MaxBundleBytes are
// refused before inflating anything (CodeTooLarge), as is an entry that
// would inflate more than MaxRatio times its compressed size once past
// RatioFloor bytes (CodeCompression). Folder entries are skipped, and a zip
// is never looked into: a .zip inside the bundle is just a file.
//
// When every file sits under one top-level folder ("dist/index.html",
// "dist/js/app.js"), that folder is removed from the paths ("index.html",
// "js/app.js"). Errors still name entries as the zip spells them.
func OpenZip(ctx context.Context, r io.ReaderAt, size int64, lim Limits) (Source, error) {
	return openZip(ctx, r, size, lim, nil)
}

// zipEntry is one central directory record as this package reads it.
type zipEntry struct {
	name         string // as in the zip
	path         string // bundle path, after flattening; files only
	kind         entryKind
	flags        uint16
	method       uint16
	creator      uint16
	attrs        uint32
	crc          uint32
	csize, usize uint64
	off          int64 // local header
	data         int64 // first data byte
	end          int64 // after the data and any data descriptor
	digest       Digest
}

type entryKind uint8

const (
	kindFile entryKind = iota
	kindDir
	kindSkipped
)

// zipEnd is what the end records say about the central directory.
type zipEnd struct {
	records uint64
	cdOff   int64
	cdSize  int64
}

type zipReader struct {
	ctx  context.Context
	r    *trackedReaderAt
	size int64
	lim  Limits
}

func corrupt(path, format string, args ...any) *Error {
	return errorf(CodeCorruptZip, path, format, args...)
}

func openZip(ctx context.Context, r io.ReaderAt, size int64, lim Limits, closer io.Closer) (*zipSource, error) {
	if size < 0 {
		return nil, fmt.Errorf("manifest: negative zip size %d", size)
	}
	z := &zipReader{ctx: ctx, r: &trackedReaderAt{r: r}, size: size, lim: lim}
	end, err := z.readEnd()
	if err != nil {
		return nil, err
	}
	ents, err := z.readCentral(end)
	if err != nil {
		return nil, err
	}
	order, err := z.checkLayout(ents, end)
	if err != nil {
		return nil, err
	}
	zr, err := z.crossCheck(ents)
	if err != nil {
		return nil, err
	}
	prefix := flatten(ents)
	// Refuse on the declared sizes and paths before inflating a byte:
	// duplicates, collisions, sizes over the limits.
	es := bundleEntries(ents, prefix)
	if len(es) == 0 {
		return nil, errorf(CodeEmptyBundle, "", "the zip holds no files")
	}
	if _, err := New(es, lim); err != nil {
		return nil, unflattenError(err, prefix)
	}
	if err := z.inflateAll(zr, ents, order); err != nil {
		return nil, err
	}
	files := make(map[string]*zip.File, len(es))
	es = es[:0]
	for i := range ents {
		if e := &ents[i]; e.kind == kindFile {
			es = append(es, Entry{Path: e.path, Digest: e.digest, Size: int64(e.usize)})
			files[e.path] = zr.File[i]
		}
	}
	m, err := New(es, lim)
	if err != nil {
		return nil, unflattenError(err, prefix)
	}
	return &zipSource{m: m, files: files, closer: closer}, nil
}

// readAt reads len(b) bytes at off, which the caller has checked lie in the
// file; a short read means the reader is shorter than its stated size.
func (z *zipReader) readAt(b []byte, off int64, path, what string) error {
	if off < 0 || off > z.size || int64(len(b)) > z.size-off {
		return corrupt(path, "%s lies past the end of the file (truncated?)", what)
	}
	n, err := z.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corrupt(path, "the file ends inside %s (truncated)", what)
	}
	return fmt.Errorf("manifest: read zip: %w", err)
}

// readEnd finds and checks the end records.
func (z *zipReader) readEnd() (zipEnd, error) {
	var e zipEnd
	if z.size < zipEndLen {
		return e, corrupt("", "the file is only %d bytes long, too short to be a zip archive", z.size)
	}
	var head [4]byte
	if err := z.readAt(head[:], 0, "", "the first entry header"); err != nil {
		return e, err
	}
	if sig := le32(head[:]); sig != zipLocalSig && sig != zipEndSig {
		return e, corrupt("", "the file does not start with a zip entry header: it is not a zip archive, or data was put in front of it")
	}
	tailLen := min(z.size, zipEndLen+zipMaxComment)
	tail := make([]byte, tailLen)
	if err := z.readAt(tail, z.size-tailLen, "", "the end-of-archive record"); err != nil {
		return e, err
	}
	// The last signature is the one archive/zip and most readers take; it
	// must be a record whose comment ends exactly at the end of the file.
	p := -1
	for i := len(tail) - zipEndLen; i >= 0; i-- {
		if le32(tail[i:]) == zipEndSig {
			p = i
			break
		}
	}
	if p < 0 {
		return e, corrupt("", "the file has no end-of-archive record: it is truncated or not a zip archive")
	}
	b := tail[p:]
	endAbs := z.size - tailLen + int64(p)
	switch rest := len(b) - zipEndLen - int(le16(b[20:])); {
	case rest > 0:
		return e, corrupt("", "%d bytes of junk follow the end-of-archive record", rest)
	case rest < 0:
		return e, corrupt("", "the end-of-archive record's comment runs past the end of the file (truncated)")
	}
	if le16(b[4:]) != 0 || le16(b[6:]) != 0 || le16(b[8:]) != le16(b[10:]) {
		return e, corrupt("", "the archive spans several disks; only single-file zips are accepted")
	}
	records, cdSize, cdOff := uint64(le16(b[10:])), uint64(le32(b[12:])), uint64(le32(b[16:]))
	cdEnd := endAbs
	if endAbs >= zip64LocLen {
		var loc [zip64LocLen]byte
		if err := z.readAt(loc[:], endAbs-zip64LocLen, "", "the zip64 locator"); err != nil {
			return e, err
		}
		if le32(loc[:]) == zip64LocSig {
			if le32(loc[4:]) != 0 || le32(loc[16:]) != 1 {
				return e, corrupt("", "the archive spans several disks; only single-file zips are accepted")
			}
			locAbs := endAbs - zip64LocLen
			off64 := le64(loc[8:])
			if locAbs < zip64EndLen || off64 > uint64(locAbs-zip64EndLen) {
				return e, corrupt("", "the zip64 end record lies outside the archive")
			}
			var r [zip64EndLen]byte
			if err := z.readAt(r[:], int64(off64), "", "the zip64 end record"); err != nil {
				return e, err
			}
			if le32(r[:]) != zip64EndSig {
				return e, corrupt("", "the zip64 locator points at no zip64 end record")
			}
			if recLen := le64(r[4:]); recLen < zip64EndLen-12 || recLen != uint64(locAbs)-off64-12 {
				return e, corrupt("", "unexplained bytes sit between the zip64 end record and its locator")
			}
			if le32(r[16:]) != 0 || le32(r[20:]) != 0 || le64(r[24:]) != le64(r[32:]) {
				return e, corrupt("", "the archive spans several disks; only single-file zips are accepted")
			}
			r64, s64, o64 := le64(r[32:]), le64(r[40:]), le64(r[48:])
			if records != max16 && records != r64 || cdSize != max32 && cdSize != s64 || cdOff != max32 && cdOff != o64 {
				return e, corrupt("", "the zip64 and classic end records disagree about the central directory")
			}
			records, cdSize, cdOff, cdEnd = r64, s64, o64, int64(off64)
		}
	}
	if records > uint64(maxEntries(z.lim)) {
		return e, errorf(CodeTooManyFiles, "", "the zip lists %d entries; the limit is %d files (and as many folders)", records, z.lim.MaxFiles)
	}
	if cdOff > uint64(cdEnd) || cdSize > uint64(cdEnd) {
		return e, corrupt("", "the central directory lies outside the archive (truncated?)")
	}
	switch gap := int64(cdEnd) - int64(cdOff) - int64(cdSize); {
	case gap > 0:
		return e, corrupt("", "%d unexplained bytes sit between the central directory and the end-of-archive record (a second end record, or hidden data)", gap)
	case gap < 0:
		return e, corrupt("", "the central directory runs into the end-of-archive record")
	}
	if records > cdSize/zipCentralLen {
		return e, corrupt("", "the central directory is %d bytes, too small for the %d entries it claims", cdSize, records)
	}
	if hi, lo := bits.Mul64(records, zipCentralBudget); hi == 0 && lo < math.MaxUint64-zipCentralSlack && cdSize > lo+zipCentralSlack {
		return e, corrupt("", "the central directory is %d bytes, more than %d entries need (at most %d bytes of name, extra fields and comment each)", cdSize, records, zipCentralBudget)
	}
	return zipEnd{records: records, cdOff: int64(cdOff), cdSize: int64(cdSize)}, nil
}

// readCentral reads and checks every central directory record, in order.
func (z *zipReader) readCentral(end zipEnd) ([]zipEntry, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(z.r, end.cdOff, end.cdSize), 64<<10)
	ents := make([]zipEntry, 0, min(end.records, 1024))
	var hdr [zipCentralLen]byte
	var buf []byte
	var read int64
	files := 0
	readFull := func(b []byte) error {
		n, err := io.ReadFull(br, b)
		read += int64(n)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			if z.r.failed() != nil {
				return fmt.Errorf("manifest: read zip: %w", z.r.failed())
			}
			return corrupt("", "the central directory ends inside entry %d of %d", len(ents)+1, end.records)
		}
		return fmt.Errorf("manifest: read zip: %w", err)
	}
	for i := uint64(0); i < end.records; i++ {
		if i%256 == 0 {
			if err := z.ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := readFull(hdr[:]); err != nil {
			return nil, err
		}
		if le32(hdr[:]) != zipCentralSig {
			return nil, corrupt("", "central directory entry %d of %d has a bad signature", i+1, end.records)
		}
		e := zipEntry{
			creator: le16(hdr[4:]),
			flags:   le16(hdr[8:]),
			method:  le16(hdr[10:]),
			crc:     le32(hdr[16:]),
			csize:   uint64(le32(hdr[20:])),
			usize:   uint64(le32(hdr[24:])),
			attrs:   le32(hdr[38:]),
		}
		nameLen, extraLen, commentLen := int(le16(hdr[28:])), int(le16(hdr[30:])), int(le16(hdr[32:]))
		diskStart := le16(hdr[34:])
		off := uint64(le32(hdr[42:]))
		if n := nameLen + extraLen + commentLen; cap(buf) < n {
			buf = make([]byte, n)
		}
		b := buf[:nameLen+extraLen+commentLen]
		if err := readFull(b); err != nil {
			return nil, err
		}
		e.name = string(b[:nameLen])
		// Zip64 extra fields, read exactly as archive/zip reads them.
		needU, needC, needO := e.usize == max32, e.csize == max32, off == max32
		for x := b[nameLen : nameLen+extraLen]; len(x) >= 4; {
			tag, n := le16(x), int(le16(x[2:]))
			x = x[4:]
			if len(x) < n {
				break
			}
			field := x[:n]
			x = x[n:]
			switch tag {
			case zipExtraZip64:
				for _, need := range []struct {
					on *bool
					v  *uint64
				}{{&needU, &e.usize}, {&needC, &e.csize}, {&needO, &off}} {
					if !*need.on {
						continue
					}
					*need.on = false
					if len(field) < 8 {
						return nil, corrupt(e.name, "the entry's zip64 extra field is too short")
					}
					*need.v = le64(field)
					field = field[8:]
				}
			case zipExtraUnicodePath:
				if len(field) >= 5 && field[0] == 1 && string(field[5:]) != e.name {
					return nil, corrupt(e.name, "the entry carries a second, different name %q in a Unicode Path field; readers disagree on which to use", field[5:])
				}
			}
		}
		if needC || needO {
			return nil, corrupt(e.name, "the entry's sizes or offset need a zip64 extra field it lacks")
		}
		if diskStart != 0 {
			return nil, corrupt(e.name, "the entry lies on another disk; only single-file zips are accepted")
		}
		if off > uint64(end.cdOff) {
			return nil, corrupt(e.name, "the entry starts past the central directory")
		}
		e.off = int64(off)
		if err := z.checkEntry(&e, &files); err != nil {
			return nil, err
		}
		ents = append(ents, e)
	}
	if rest := end.cdSize - read; rest != 0 {
		return nil, corrupt("", "%d unexplained bytes follow the last central directory entry", rest)
	}
	return ents, nil
}

// checkEntry applies the rules that need only the central directory record.
func (z *zipReader) checkEntry(e *zipEntry, files *int) error {
	if e.flags&(zipFlagEncrypted|zipFlagStrongEnc|zipFlagMaskedDir) != 0 {
		return corrupt(e.name, "the entry is encrypted; encrypted zips are not accepted")
	}
	isDir := strings.HasSuffix(e.name, "/")
	p := strings.TrimSuffix(e.name, "/")
	// The first folder may still be flattened away: allow it one more
	// component and its bytes here; New checks the final paths.
	relaxed := z.lim
	if relaxed.MaxPathDepth > 0 {
		relaxed.MaxPathDepth++
	}
	if relaxed.MaxPathBytes > 0 {
		relaxed.MaxPathBytes += MaxComponentBytes + 1
	}
	if err := ValidatePath(p, relaxed); err != nil {
		return err
	}
	mode := zipEntryMode(e.creator, e.attrs)
	switch {
	case skipped(p, isDir):
		e.kind = kindSkipped
		return nil
	case isDir:
		e.kind = kindDir
		// Only the type matters: setgid and sticky folders are common and
		// harmless, since no folder is created from its mode.
		if m := mode & fs.ModeType &^ fs.ModeDir; m != 0 {
			return errorf(CodeNotRegular, e.name, "folder entry %s", describeMode(m))
		}
		if e.usize != 0 {
			return corrupt(e.name, "the folder entry holds %d bytes of data", e.usize)
		}
		return nil
	}
	e.kind = kindFile
	switch {
	case mode.IsDir():
		return errorf(CodeNotRegular, e.name, "entry is marked as a folder, but its name does not end in \"/\"")
	case !regularFile(mode):
		return errorf(CodeNotRegular, e.name, "entry %s", describeMode(mode))
	case e.method != zip.Store && e.method != zip.Deflate:
		return corrupt(e.name, "the entry uses compression method %d; only stored (0) and deflate (8) are accepted", e.method)
	case e.method == zip.Store && e.csize != e.usize:
		return corrupt(e.name, "the stored entry holds %d bytes but declares %d", e.csize, e.usize)
	case z.lim.MaxFileBytes > 0 && e.usize > uint64(z.lim.MaxFileBytes):
		return errorf(CodeTooLarge, e.name, "file declares %d bytes, more than the limit of %d", e.usize, z.lim.MaxFileBytes)
	case e.usize >= math.MaxInt64:
		return errorf(CodeTooLarge, e.name, "file declares %d bytes", e.usize)
	case ratioExceeded(e.usize, e.csize, z.lim):
		return errorf(CodeCompression, e.name, "entry would inflate %d bytes from %d, more than %d:1 (zip bomb?)", e.usize, e.csize, z.lim.MaxRatio)
	}
	*files++
	if z.lim.MaxFiles > 0 && *files > z.lim.MaxFiles {
		return errorf(CodeTooManyFiles, e.name, "the zip holds more than the limit of %d files", z.lim.MaxFiles)
	}
	return nil
}

// ratioExceeded reports whether inflating csize bytes to usize passes
// lim.MaxRatio with usize past lim.RatioFloor.
func ratioExceeded(usize, csize uint64, lim Limits) bool {
	if lim.MaxRatio <= 0 || usize <= uint64(max(lim.RatioFloor, 0)) {
		return false
	}
	hi, lo := bits.Mul64(uint64(lim.MaxRatio), csize)
	return hi == 0 && usize > lo
}

// zipEntryMode maps an entry's creator and external attributes to a file
// mode, as archive/zip does, but marks unknown Unix file types irregular
// instead of regular.
func zipEntryMode(creator uint16, attrs uint32) fs.FileMode {
	var mode fs.FileMode
	switch creator >> 8 {
	case 3, 19: // Unix, macOS
		u := attrs >> 16
		switch u & 0xf000 {
		case 0, 0x8000:
		case 0x4000:
			mode |= fs.ModeDir
		case 0xa000:
			mode |= fs.ModeSymlink
		case 0x2000:
			mode |= fs.ModeDevice | fs.ModeCharDevice
		case 0x6000:
			mode |= fs.ModeDevice
		case 0x1000:
			mode |= fs.ModeNamedPipe
		case 0xc000:
			mode |= fs.ModeSocket
		default:
			mode |= fs.ModeIrregular
		}
		if u&0x800 != 0 {
			mode |= fs.ModeSetuid
		}
		if u&0x400 != 0 {
			mode |= fs.ModeSetgid
		}
	case 0, 11, 14: // MS-DOS (FAT), NTFS, VFAT
		if attrs&0x10 != 0 {
			mode |= fs.ModeDir
		}
	}
	return mode
}

// checkLayout reads every local header and checks that the entries tile the
// file from offset 0 to the central directory: no gap, no overlap, each
// local header agreeing with its central record. It returns the entry
// indexes in file order.
func (z *zipReader) checkLayout(ents []zipEntry, end zipEnd) ([]int, error) {
	order := make([]int, len(ents))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case ents[a].off < ents[b].off:
			return -1
		case ents[a].off > ents[b].off:
			return 1
		}
		return 0
	})
	var pos int64
	var lh [zipLocalLen]byte
	var name []byte
	for k, i := range order {
		if k%256 == 0 {
			if err := z.ctx.Err(); err != nil {
				return nil, err
			}
		}
		e := &ents[i]
		switch {
		case e.off < pos:
			return nil, corrupt(e.name, "the entry overlaps the entry before it in the file (overlapping entries are a zip bomb technique)")
		case e.off > pos:
			return nil, corrupt(e.name, "%d unexplained bytes sit before this entry", e.off-pos)
		case end.cdOff-e.off < zipLocalLen:
			return nil, corrupt(e.name, "the entry's header runs into the central directory")
		}
		if err := z.readAt(lh[:], e.off, e.name, "the entry's header"); err != nil {
			return nil, err
		}
		if le32(lh[:]) != zipLocalSig {
			return nil, corrupt(e.name, "no entry header where the central directory says the entry starts")
		}
		flags, method, crc := le16(lh[6:]), le16(lh[8:]), le32(lh[14:])
		csize, usize := le32(lh[18:]), le32(lh[22:])
		nameLen, extraLen := int64(le16(lh[26:])), int64(le16(lh[28:]))
		e.data = e.off + zipLocalLen + nameLen + extraLen
		if e.data > end.cdOff {
			return nil, corrupt(e.name, "the entry's header runs into the central directory")
		}
		name = slices.Grow(name[:0], int(nameLen))[:nameLen]
		if err := z.readAt(name, e.off+zipLocalLen, e.name, "the entry's header"); err != nil {
			return nil, err
		}
		if string(name) != e.name {
			return nil, corrupt(e.name, "the entry's local header names it %q; readers disagree on its name", name)
		}
		if method != e.method {
			return nil, corrupt(e.name, "the local header and the central directory disagree on the compression method")
		}
		if (flags^e.flags)&(zipFlagEncrypted|zipFlagDescriptor) != 0 {
			return nil, corrupt(e.name, "the local header and the central directory disagree on the entry's flags")
		}
		if flags&zipFlagDescriptor == 0 {
			if crc != e.crc {
				return nil, corrupt(e.name, "the local header and the central directory disagree on the CRC-32")
			}
			if csize != max32 && uint64(csize) != e.csize || usize != max32 && uint64(usize) != e.usize {
				return nil, corrupt(e.name, "the local header and the central directory disagree on the entry's sizes")
			}
		}
		if e.csize > uint64(end.cdOff-e.data) {
			return nil, corrupt(e.name, "the entry's data runs into the central directory")
		}
		e.end = e.data + int64(e.csize)
		if flags&zipFlagDescriptor != 0 {
			n, err := z.descriptorLen(e, end.cdOff)
			if err != nil {
				return nil, err
			}
			e.end += n
		}
		pos = e.end
	}
	if pos != end.cdOff {
		return nil, corrupt("", "%d unexplained bytes sit between the last entry and the central directory", end.cdOff-pos)
	}
	return order, nil
}

// descriptorLen finds the data descriptor after e's data, in any of its
// four forms (with or without signature, 32- or 64-bit sizes), and returns
// its length. It must repeat the central directory's CRC and sizes.
func (z *zipReader) descriptorLen(e *zipEntry, limit int64) (int64, error) {
	var b [24]byte
	n := min(int64(len(b)), limit-e.end)
	if n < 12 {
		return 0, corrupt(e.name, "the entry's data descriptor is missing")
	}
	if err := z.readAt(b[:n], e.end, e.name, "the entry's data descriptor"); err != nil {
		return 0, err
	}
	match := func(sig, wide bool) bool {
		x := b[:n]
		if sig {
			if le32(x) != zipDescSig {
				return false
			}
			x = x[4:]
		}
		if wide {
			return len(x) >= 20 && le32(x) == e.crc && le64(x[4:]) == e.csize && le64(x[12:]) == e.usize
		}
		return len(x) >= 12 && le32(x) == e.crc && uint64(le32(x[4:])) == e.csize && uint64(le32(x[8:])) == e.usize
	}
	switch {
	case match(true, false):
		return 16, nil
	case match(true, true):
		return 24, nil
	case match(false, false):
		return 12, nil
	case match(false, true):
		return 20, nil
	}
	return 0, corrupt(e.name, "the entry's data descriptor does not repeat its CRC-32 and sizes")
}

// crossCheck opens the zip with archive/zip, which later inflates the
// entries, and requires it to see exactly the entries checked here.
func (z *zipReader) crossCheck(ents []zipEntry) (*zip.Reader, error) {
	zr, err := zip.NewReader(z.r, z.size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are checked here
		if z.r.failed() != nil {
			return nil, fmt.Errorf("manifest: read zip: %w", z.r.failed())
		}
		return nil, corrupt("", "archive/zip cannot read the archive: %v", err)
	}
	if len(zr.File) != len(ents) {
		return nil, corrupt("", "zip readers disagree on the number of entries (%d and %d)", len(zr.File), len(ents))
	}
	for i, f := range zr.File {
		e := &ents[i]
		if f.Name != e.name || f.Flags != e.flags || f.Method != e.method || f.CRC32 != e.crc ||
			f.CompressedSize64 != e.csize || f.UncompressedSize64 != e.usize ||
			f.CreatorVersion != e.creator || f.ExternalAttrs != e.attrs {
			return nil, corrupt(e.name, "zip readers disagree about this entry")
		}
		if e.kind != kindFile {
			continue
		}
		if off, err := f.DataOffset(); err != nil || off != e.data {
			return nil, corrupt(e.name, "zip readers disagree on where this entry's data starts")
		}
	}
	return zr, nil
}

// flatten returns the top-level folder every file sits in, or "" when the
// files do not all share one.
func flatten(ents []zipEntry) string {
	prefix, seen := "", false
	for i := range ents {
		e := &ents[i]
		if e.kind != kindFile {
			continue
		}
		top, _, ok := strings.Cut(e.name, "/")
		if !ok || seen && top != prefix {
			return ""
		}
		prefix, seen = top, true
	}
	return prefix
}

// bundleEntries sets each file's bundle path and returns them with their
// declared sizes.
func bundleEntries(ents []zipEntry, prefix string) []Entry {
	var es []Entry
	for i := range ents {
		e := &ents[i]
		if e.kind != kindFile {
			continue
		}
		e.path = e.name
		if prefix != "" {
			e.path = e.name[len(prefix)+1:]
		}
		es = append(es, Entry{Path: e.path, Size: int64(e.usize)})
	}
	return es
}

// unflattenError makes an *Error name the entry as the zip spells it.
func unflattenError(err error, prefix string) error {
	var me *Error
	if prefix == "" || !errors.As(err, &me) || me.Path == "" {
		return err
	}
	c := *me
	c.Path = prefix + "/" + me.Path
	return &c
}

// inflateAll inflates and hashes every file, in file order.
func (z *zipReader) inflateAll(zr *zip.Reader, ents []zipEntry, order []int) error {
	buf := make([]byte, 64<<10)
	crc := crc32.NewIEEE()
	var total int64
	for _, i := range order {
		e := &ents[i]
		if e.kind != kindFile {
			continue
		}
		if err := z.ctx.Err(); err != nil {
			return err
		}
		rc, err := zr.File[i].Open()
		if err != nil {
			return z.inflateError(e, err)
		}
		crc.Reset()
		d, n, err := hashCapped(ctxReader{z.ctx, rc}, int64(e.usize), buf, crc)
		rc.Close()
		switch {
		case err != nil:
			return z.inflateError(e, err)
		case n > int64(e.usize):
			return corrupt(e.name, "the entry inflates to more than the %d bytes its header declares", e.usize)
		case n < int64(e.usize):
			return corrupt(e.name, "the entry inflates to %d bytes, fewer than the %d its header declares", n, e.usize)
		case crc.Sum32() != e.crc:
			return corrupt(e.name, "CRC-32 mismatch: the entry's bytes are damaged")
		}
		total += n
		if z.lim.MaxBundleBytes > 0 && total > z.lim.MaxBundleBytes {
			return errorf(CodeTooLarge, e.name, "the bundle is more than the limit of %d bytes with this file", z.lim.MaxBundleBytes)
		}
		e.digest = d
	}
	return nil
}

// inflateError tells a damaged entry from a failing reader or a cancelled ctx.
func (z *zipReader) inflateError(e *zipEntry, err error) error {
	if cerr := z.ctx.Err(); cerr != nil {
		return cerr
	}
	if rerr := z.r.failed(); rerr != nil {
		return fmt.Errorf("manifest: read zip: %w", rerr)
	}
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return corrupt(e.name, "CRC-32 mismatch: the entry's bytes are damaged")
	case errors.Is(err, zip.ErrFormat):
		return corrupt(e.name, "the entry inflates to more than the %d bytes its header declares", e.usize)
	case errors.Is(err, zip.ErrAlgorithm):
		return corrupt(e.name, "the entry uses compression method %d; only stored (0) and deflate (8) are accepted", e.method)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return corrupt(e.name, "the entry's data ends early: it inflates to fewer bytes than declared, or the zip is truncated")
	}
	return corrupt(e.name, "the entry's compressed data is damaged: %v", err)
}

// zipSource reads files back from the zip.
type zipSource struct {
	m      *Manifest
	files  map[string]*zip.File
	closer io.Closer // nil when the caller owns the reader
}

func (s *zipSource) Manifest() *Manifest { return s.m }

func (s *zipSource) Open(path string) (io.ReadCloser, error) {
	e, ok := s.m.Lookup(path)
	if !ok {
		return nil, notExist(path)
	}
	rc, err := s.files[path].Open()
	if err != nil {
		return nil, fmt.Errorf("manifest: open %q in zip: %w", path, err)
	}
	return newVerifyReader(rc, rc, e), nil
}

func (s *zipSource) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// trackedReaderAt remembers the first error of r other than io.EOF, so a
// failing disk is not reported as a corrupt zip.
type trackedReaderAt struct {
	r   io.ReaderAt
	mu  sync.Mutex
	err error
}

func (t *trackedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
	return n, err
}

func (t *trackedReaderAt) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
