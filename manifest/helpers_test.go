package manifest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
)

// codeOf is the Code of the *Error in err's chain, or "" when there is none.
func codeOf(err error) string {
	var me *Error
	if errors.As(err, &me) {
		return me.Code
	}
	return ""
}

// wantCode fails t unless err is an *Error with code (and, when path is not
// "", naming path).
func wantCode(t testing.TB, err error, code, path string) {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("got error %v (%T), want *Error %s", err, err, code)
	}
	if me.Code != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
	if path != "" && me.Path != path {
		t.Fatalf("got %v, want it to name %q", err, path)
	}
	if me.Reason == "" {
		t.Fatalf("got %v with no reason", err)
	}
}

// zf is one entry for buildZip.
type zf struct {
	name   string
	body   string
	mode   fs.FileMode // 0: 0644 regular file (0755 dir for names ending in /)
	method uint16      // zip.Deflate unless set with store
	store  bool
}

// buildZip writes files with archive/zip's own writer (data descriptors,
// Unix modes) and returns the archive.
func buildZip(t testing.TB, files ...zf) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		if f.store {
			h.Method = zip.Store
		}
		if f.method != 0 {
			h.Method = f.method
		}
		switch {
		case f.mode != 0:
			h.SetMode(f.mode)
		case len(f.name) > 0 && f.name[len(f.name)-1] == '/':
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		fw, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(fw, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openZipBytes(b []byte, lim Limits) (Source, error) {
	return OpenZip(context.Background(), bytes.NewReader(b), int64(len(b)), lim)
}

// rawEntry is one entry for rawZip, laid out exactly as given.
type rawEntry struct {
	name      string
	localName *string // local header name, when it differs
	data      []byte  // bytes as stored (compressed)
	method    uint16
	flags     uint16
	crc       uint32
	csize     uint64 // declared in both headers
	usize     uint64
	creator   uint16 // version made by; 0x0314 (Unix) unless set
	attrs     uint32 // external attributes; 0100644<<16 unless set
	extra     []byte // central directory extra field
	offset    *int64 // central directory offset, when it lies
	zip64     bool   // write sizes and offset as zip64 extras
	after     []byte // bytes after the data (data descriptor, junk)
}

// stored and deflated are honest entries.
func stored(name, body string) rawEntry {
	return rawEntry{name: name, data: []byte(body), method: zip.Store,
		crc: crc32.ChecksumIEEE([]byte(body)), csize: uint64(len(body)), usize: uint64(len(body))}
}

func deflated(t testing.TB, name string, body []byte) rawEntry {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(body)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return rawEntry{name: name, data: buf.Bytes(), method: zip.Deflate,
		crc: crc32.ChecksumIEEE(body), csize: uint64(buf.Len()), usize: uint64(len(body))}
}

// rawZip lays out a zip byte by byte so tests can break any rule.
type rawZip struct {
	prefix     []byte // before the first entry
	entries    []rawEntry
	beforeCD   []byte // between the last entry and the central directory
	records    *uint64
	comment    []byte
	suffix     []byte // after the end record
	zip64End   bool   // write a zip64 end record and locator
	cdSizeLies *uint32
}

func le(b []byte, vs ...any) []byte {
	for _, v := range vs {
		switch v := v.(type) {
		case uint16:
			b = binary.LittleEndian.AppendUint16(b, v)
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case uint64:
			b = binary.LittleEndian.AppendUint64(b, v)
		case int:
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		default:
			panic("le: bad type")
		}
	}
	return b
}

func (z rawZip) bytes() []byte {
	b := append([]byte(nil), z.prefix...)
	offs := make([]int64, len(z.entries))
	sz32 := func(e rawEntry, v uint64) uint32 {
		if e.zip64 {
			return max32
		}
		return uint32(v)
	}
	for i, e := range z.entries {
		offs[i] = int64(len(b))
		name := e.name
		if e.localName != nil {
			name = *e.localName
		}
		var extra []byte
		if e.zip64 {
			extra = le(extra, uint16(1), uint16(16), e.usize, e.csize)
		}
		b = le(b, uint32(zipLocalSig), uint16(20), e.flags, e.method, uint16(0), uint16(0x21),
			e.crc, sz32(e, e.csize), sz32(e, e.usize), len(name), len(extra))
		b = append(b, name...)
		b = append(b, extra...)
		b = append(b, e.data...)
		b = append(b, e.after...)
	}
	b = append(b, z.beforeCD...)
	cdOff := int64(len(b))
	for i, e := range z.entries {
		off := offs[i]
		if e.offset != nil {
			off = *e.offset
		}
		creator, attrs := e.creator, e.attrs
		if creator == 0 {
			creator = 0x0314
		}
		if attrs == 0 && creator>>8 == 3 {
			attrs = 0o100644 << 16
		}
		extra := append([]byte(nil), e.extra...)
		off32 := uint32(off)
		if e.zip64 {
			extra = le(extra, uint16(1), uint16(24), e.usize, e.csize, uint64(off))
			off32 = max32
		}
		b = le(b, uint32(zipCentralSig), creator, uint16(20), e.flags, e.method, uint16(0), uint16(0x21),
			e.crc, sz32(e, e.csize), sz32(e, e.usize), len(e.name), len(extra), 0, 0, 0, attrs, off32)
		b = append(b, e.name...)
		b = append(b, extra...)
	}
	cdSize := uint32(int64(len(b)) - cdOff)
	if z.cdSizeLies != nil {
		cdSize = *z.cdSizeLies
	}
	n := uint64(len(z.entries))
	if z.records != nil {
		n = *z.records
	}
	n16 := uint16(n)
	if z.zip64End {
		end64 := int64(len(b))
		b = le(b, uint32(zip64EndSig), uint64(44), uint16(45), uint16(45), uint32(0), uint32(0),
			n, n, uint64(cdSize), uint64(cdOff))
		b = le(b, uint32(zip64LocSig), uint32(0), uint64(end64), uint32(1))
		n16 = max16
	}
	b = le(b, uint32(zipEndSig), 0, 0, n16, n16, cdSize, uint32(cdOff), len(z.comment))
	b = append(b, z.comment...)
	return append(b, z.suffix...)
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// writeTree creates files (path -> body) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkSource re-reads every file of src and checks it against want
// (path -> body) and the manifest.
func checkSource(t testing.TB, src Source, want map[string]string) {
	t.Helper()
	m := src.Manifest()
	var paths []string
	for _, e := range m.Entries() {
		paths = append(paths, e.Path)
	}
	var wantPaths []string
	for p := range want {
		wantPaths = append(wantPaths, p)
	}
	sort.Strings(wantPaths)
	if !equalStrings(paths, wantPaths) {
		t.Fatalf("paths %q, want %q", paths, wantPaths)
	}
	for _, e := range m.Entries() {
		rc, err := src.Open(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.Path, err)
		}
		if string(b) != want[e.Path] {
			t.Fatalf("%s: read %q, want %q", e.Path, b, want[e.Path])
		}
		if Sum(b) != e.Digest || int64(len(b)) != e.Size {
			t.Fatalf("%s: entry %+v does not describe its bytes", e.Path, e)
		}
	}
}

// rereadAll reads every file of src back and checks it against its entry.
func rereadAll(src Source) error {
	for _, e := range src.Manifest().Entries() {
		rc, err := src.Open(e.Path)
		if err != nil {
			return err
		}
		d, n, err := SumReader(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
		if d != e.Digest || n != e.Size {
			return fmt.Errorf("%s: read %d bytes with digest %s, want %+v", e.Path, n, d, e)
		}
	}
	return nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
