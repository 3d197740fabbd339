package manifest

import (
	"bytes"
	"context"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
)

// Source is a validated bundle whose files can be read back by path. Its
// methods are safe for concurrent use.
//
// OpenDir, OpenZip and OpenPath make one from a build folder or a zip. Both
// forms obey the same rules:
//
//   - every path passes ValidatePath; duplicates, case-fold or Unicode
//     collisions and a file that is also a folder are refused (see New);
//   - only regular files are taken: symbolic links (never followed),
//     devices, named pipes, sockets and setuid or setgid files are refused;
//   - files and bytes are counted against Limits on the bytes actually read
//     or inflated: a size a zip declares can make a refusal come earlier,
//     never let more through;
//   - Finder litter is dropped silently: files named ".DS_Store" and
//     folders named "__MACOSX" (at any depth). Nothing else is skipped:
//     "Thumbs.db", "._x" files and hidden files are bundle files like any;
//   - a bundle with no files is refused (CodeEmptyBundle).
//
// Each refusal is an *Error naming the entry when there is one; other errors
// (I/O, a cancelled ctx) are returned as they come. Memory stays flat: files are hashed as a
// stream, never held whole.
type Source interface {
	// Manifest is the validated manifest; it has at least one file.
	Manifest() *Manifest
	// Open returns the bytes of the file at path, a path of Manifest. The
	// reader checks them again while they are read: instead of io.EOF it
	// returns an *Error (CodeDigestMismatch) if they are not the entry's size
	// and digest, as happens when the file changed since it was ingested.
	// Close the reader before the Source.
	Open(path string) (io.ReadCloser, error)
	// Close releases the folder or file behind the Source.
	Close() error
}

// IndexPath is the file a web bundle starts from; CheckIndex wants it at the
// bundle root.
const IndexPath = "index.html"

// OpenPath opens a bundle by what path is: a folder (OpenDir) or a zip file
// (OpenZip; the extension does not matter). A symbolic link given as path
// itself is followed; links inside the bundle are not.
func OpenPath(ctx context.Context, path string, lim Limits) (Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if fi.IsDir() {
		return OpenDir(ctx, path, lim)
	}
	if !fi.Mode().IsRegular() {
		return nil, errorf(CodeNotRegular, path, "is neither a folder nor a zip file: it %s", describeMode(fi.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	fi, err = f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errorf(CodeNotRegular, path, "is neither a folder nor a zip file: it %s", describeMode(fi.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	src, err := openZip(ctx, f, fi.Size(), lim, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// CheckIndex refuses (CodeNoIndex) a manifest without "index.html" at its
// root: a web view would have nothing to start. When an index.html sits one
// folder down, the message says so, since that is the usual mistake.
func CheckIndex(m *Manifest) error {
	if _, ok := m.Lookup(IndexPath); ok {
		return nil
	}
	best := ""
	for _, e := range m.Entries() {
		if strings.HasSuffix(e.Path, "/"+IndexPath) &&
			(best == "" || strings.Count(e.Path, "/") < strings.Count(best, "/")) {
			best = e.Path
		}
	}
	if best != "" {
		return errorf(CodeNoIndex, IndexPath, "the bundle has no index.html at its root, but has %q: upload the folder that holds it, or skip this check with --no-index-check", best)
	}
	return errorf(CodeNoIndex, IndexPath, "the bundle has no index.html at its root, where a web view starts; skip this check with --no-index-check if that is intended")
}

// skipped reports whether the entry at path p is Finder litter that
// ingestion drops without a word: a file named ".DS_Store", or a folder
// named "__MACOSX" and everything in it. A folder named ".DS_Store" or a
// file named "__MACOSX" is kept.
func skipped(p string, isDir bool) bool {
	dirs := p
	if !isDir {
		i := strings.LastIndexByte(p, '/')
		if p[i+1:] == ".DS_Store" {
			return true
		}
		if i < 0 {
			return false
		}
		dirs = p[:i]
	}
	for c := range strings.SplitSeq(dirs, "/") {
		if c == "__MACOSX" {
			return true
		}
	}
	return false
}

// maxEntries bounds the entries, folders and skipped ones included, that
// ingestion looks at before refusing: twice MaxFiles, so that a bundle of
// MaxFiles files in as many folders still passes.
func maxEntries(lim Limits) int {
	if lim.MaxFiles <= 0 {
		return math.MaxInt
	}
	if lim.MaxFiles > math.MaxInt/2 {
		return math.MaxInt
	}
	return 2 * lim.MaxFiles
}

// hashCapped hashes r, reading at most max+1 bytes (max < MaxInt64), so n >
// max says r holds more than max. Bytes also go to extra when it is not nil.
func hashCapped(r io.Reader, max int64, buf []byte, extra io.Writer) (Digest, int64, error) {
	h := NewHash()
	var w io.Writer = h
	if extra != nil {
		w = io.MultiWriter(h, extra)
	}
	n, err := io.CopyBuffer(w, io.LimitReader(r, max+1), buf)
	var d Digest
	h.Sum(d[:0])
	return d, n, err
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// describeMode says, after "it", what a non-regular mode is.
func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "is a symbolic link (bundles hold regular files only; copy the target in instead)"
	case m&fs.ModeNamedPipe != 0:
		return "is a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "is a socket"
	case m&fs.ModeCharDevice != 0:
		return "is a character device"
	case m&fs.ModeDevice != 0:
		return "is a block device"
	case m&fs.ModeDir != 0:
		return "is a folder"
	case m&fs.ModeSetuid != 0:
		return "has the setuid bit set"
	case m&fs.ModeSetgid != 0:
		return "has the setgid bit set"
	case m&fs.ModeIrregular != 0:
		return "has a file type this reader does not know"
	}
	return "is not a regular file"
}

// regularFile reports whether m is a plain regular file: no special type,
// no setuid or setgid bit.
func regularFile(m fs.FileMode) bool {
	return m.IsRegular() && m&(fs.ModeSetuid|fs.ModeSetgid) == 0
}

// verifyReader yields an entry's bytes and checks their size and digest.
type verifyReader struct {
	r   io.Reader // bounded to e.Size+1 bytes
	c   io.Closer
	e   Entry
	h   hash.Hash
	n   int64
	err error // sticky
}

func newVerifyReader(r io.Reader, c io.Closer, e Entry) *verifyReader {
	return &verifyReader{r: io.LimitReader(r, e.Size+1), c: c, e: e, h: NewHash()}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if int64(n) > v.e.Size-v.n {
		n = int(v.e.Size - v.n)
		err = errorf(CodeDigestMismatch, v.e.Path, "file now holds more than the %d bytes it held when the bundle was read", v.e.Size)
	}
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		var d Digest
		v.h.Sum(d[:0])
		switch {
		case v.n != v.e.Size:
			err = errorf(CodeDigestMismatch, v.e.Path, "file now holds %d bytes, not the %d it held when the bundle was read", v.n, v.e.Size)
		case d != v.e.Digest:
			err = errorf(CodeDigestMismatch, v.e.Path, "file's bytes changed since the bundle was read (sha256 %s, want %s)", d, v.e.Digest)
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.c.Close() }

// notExist is Open's answer for a path the manifest does not hold.
func notExist(path string) error {
	return &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
}

// ReadEntry returns the bytes of entry e of src, read through Open and so
// checked against e's size and digest: a file that changed since src was
// opened is an *Error with CodeDigestMismatch.
func ReadEntry(src Source, e Entry) ([]byte, error) {
	rc, err := src.Open(e.Path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, e.Size+1))
	if _, err := buf.ReadFrom(rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
