package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// OpenDir validates and hashes the build folder dir and returns it as a
// Source. The walk is confined to dir with os.Root and never follows a
// symbolic link; see the package's ingestion rules for what is refused and
// what is skipped. The folder stays open until the Source is closed.
//
// A file that changes size while it is hashed is an error (the build is
// still writing it); one that grows past the limits is refused at the limit.
func OpenDir(ctx context.Context, dir string, lim Limits) (Source, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("manifest: open folder: %w", err)
	}
	w := &dirWalker{ctx: ctx, root: root, lim: lim, b: budget{lim: lim}, buf: make([]byte, 256<<10)}
	m, err := w.walk()
	if err != nil {
		root.Close()
		return nil, err
	}
	return &dirSource{root: root, m: m}, nil
}

type dirWalker struct {
	ctx    context.Context
	root   *os.Root
	lim    Limits
	b      budget
	walked int // entries listed so far, bounded by maxEntries
	buf    []byte
}

// walk lists the folder depth first, in name order, and hashes every file.
func (w *dirWalker) walk() (*Manifest, error) {
	var es []Entry
	stack := []string{"."}
	for len(stack) > 0 {
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ents, err := w.readDir(dir)
		if err != nil {
			return nil, err
		}
		var subdirs []string
		for _, d := range ents {
			if err := w.ctx.Err(); err != nil {
				return nil, err
			}
			p := d.Name()
			if dir != "." {
				p = dir + "/" + p
			}
			isDir := d.IsDir()
			if skipped(p, isDir) {
				continue
			}
			if err := ValidatePath(p, w.lim); err != nil {
				return nil, err
			}
			switch {
			case isDir:
				subdirs = append(subdirs, p)
			case !d.Type().IsRegular():
				return nil, errorf(CodeNotRegular, p, "entry %s", describeMode(d.Type()))
			default:
				e, err := w.hashFile(p)
				if err != nil {
					return nil, err
				}
				es = append(es, e)
			}
		}
		for _, s := range slices.Backward(subdirs) {
			stack = append(stack, s)
		}
	}
	if len(es) == 0 {
		return nil, errorf(CodeEmptyBundle, "", "the folder holds no files")
	}
	return New(es, w.lim)
}

// readDir lists dir in name order, refusing once the walk has seen more
// than maxEntries entries, so a folder of a million files costs no more
// than the limit.
func (w *dirWalker) readDir(dir string) ([]fs.DirEntry, error) {
	f, err := w.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	var out []fs.DirEntry
	for {
		batch, err := f.ReadDir(1024)
		out = append(out, batch...)
		w.walked += len(batch)
		if w.walked > maxEntries(w.lim) {
			return nil, errorf(CodeTooManyFiles, "", "the folder holds more than %d files and folders; the limit is %d files", maxEntries(w.lim), w.lim.MaxFiles)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("manifest: read folder %q: %w", dir, err)
		}
		if err := w.ctx.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// hashFile reads and hashes the file at p, counting it against the limits.
func (w *dirWalker) hashFile(p string) (Entry, error) {
	if err := w.b.addFile(p); err != nil {
		return Entry{}, err
	}
	f, err := w.root.OpenFile(filepath.FromSlash(p), os.O_RDONLY|openFlags, 0)
	if err != nil {
		return Entry{}, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, fmt.Errorf("manifest: %w", err)
	}
	e, err := w.hashOpened(p, f, fi.Size(), fi.Mode())
	if err != nil {
		return Entry{}, err
	}
	return e, nil
}

// hashOpened hashes r, the file at p that stat said is size bytes of mode.
func (w *dirWalker) hashOpened(p string, r io.Reader, size int64, mode fs.FileMode) (Entry, error) {
	if !regularFile(mode) {
		return Entry{}, errorf(CodeNotRegular, p, "entry %s", describeMode(mode))
	}
	capBytes := w.b.fileCap()
	d, n, err := hashCapped(ctxReader{w.ctx, r}, capBytes, w.buf, nil)
	if err != nil {
		if w.ctx.Err() != nil {
			return Entry{}, w.ctx.Err()
		}
		return Entry{}, fmt.Errorf("manifest: read %q: %w", p, err)
	}
	if n > capBytes {
		return Entry{}, w.b.tooLarge(p)
	}
	if n != size {
		return Entry{}, fmt.Errorf("manifest: %q changed while it was read (%d bytes, then %d): is the build still writing it?", p, size, n)
	}
	w.b.bytes += n
	return Entry{Path: p, Digest: d, Size: n}, nil
}

// dirSource reads files back from the folder.
type dirSource struct {
	root *os.Root
	m    *Manifest
}

func (s *dirSource) Manifest() *Manifest { return s.m }

func (s *dirSource) Open(path string) (io.ReadCloser, error) {
	e, ok := s.m.Lookup(path)
	if !ok {
		return nil, notExist(path)
	}
	f, err := s.root.OpenFile(filepath.FromSlash(path), os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !regularFile(fi.Mode()) {
		err = errorf(CodeNotRegular, path, "entry %s (it was a regular file when the bundle was read)", describeMode(fi.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return newVerifyReader(f, f, e), nil
}

func (s *dirSource) Close() error { return s.root.Close() }
