package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// OpenDir validates and hashes the build folder dir and returns it as a
// Source. The walk is confined to dir with os.Root and never follows a
// symbolic link; see Source for what is refused and what is skipped. The
// folder stays open until the Source is closed.
//
// The folder is listed and every name and file type checked first, in name
// order, so the first bad entry is the one named; only then are the files
// hashed, several at a time. A file that changes size while it is hashed is
// an error (the build is still writing it); files are counted against
// MaxFileBytes and MaxBundleBytes on the bytes read, so one that grows past
// a limit is refused at the limit.
func OpenDir(ctx context.Context, dir string, lim Limits) (Source, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("manifest: open folder: %w", err)
	}
	w := &dirWalker{ctx: ctx, root: root, lim: lim}
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
	walked int          // entries listed so far, bounded by maxEntries
	used   atomic.Int64 // bytes hashed so far, bounded by MaxBundleBytes
}

// hashWorkers bounds how many files are hashed at once.
const hashWorkers = 8

func (w *dirWalker) walk() (*Manifest, error) {
	paths, err := w.list()
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errorf(CodeEmptyBundle, "", "the folder holds no files")
	}
	es, err := w.hashAll(paths)
	if err != nil {
		return nil, err
	}
	return New(es, w.lim)
}

// list walks the folder depth first, in name order, and returns the paths
// of its files, each checked: a safe name, a regular file, within MaxFiles.
func (w *dirWalker) list() ([]string, error) {
	var files []string
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
			case w.lim.MaxFiles > 0 && len(files) >= w.lim.MaxFiles:
				return nil, errorf(CodeTooManyFiles, p, "the bundle has more than the limit of %d files", w.lim.MaxFiles)
			default:
				files = append(files, p)
			}
		}
		for _, s := range slices.Backward(subdirs) {
			stack = append(stack, s)
		}
	}
	return files, nil
}

// readDir lists dir in name order, refusing once the walk has seen more
// than maxEntries entries, so a folder of a million files costs no more
// than the limit.
func (w *dirWalker) readDir(dir string) ([]fs.DirEntry, error) {
	if err := w.ctx.Err(); err != nil {
		return nil, err
	}
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

// hashAll hashes the files with a few workers. When files fail, the error of
// the first in list order is returned, as if they were hashed one by one:
// after a failure no later file is started, and earlier ones all finish.
func (w *dirWalker) hashAll(paths []string) ([]Entry, error) {
	es := make([]Entry, len(paths))
	errs := make([]error, len(paths))
	var next, stop atomic.Int64
	stop.Store(int64(len(paths)))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), hashWorkers, len(paths)) {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for {
				i := next.Add(1) - 1
				if i >= stop.Load() {
					return
				}
				e, err := w.hashFile(paths[i], buf)
				if err != nil {
					errs[i] = err
					for s := stop.Load(); i < s && !stop.CompareAndSwap(s, i); s = stop.Load() {
					}
					continue
				}
				es[i] = e
			}
		})
	}
	wg.Wait()
	if err := w.ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return es, nil
}

// hashFile reads and hashes the file at p.
func (w *dirWalker) hashFile(p string, buf []byte) (Entry, error) {
	f, err := w.root.OpenFile(filepath.FromSlash(p), os.O_RDONLY|openFlags, 0)
	if err != nil {
		return Entry{}, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, fmt.Errorf("manifest: %w", err)
	}
	return w.hashOpened(p, f, fi.Size(), fi.Mode(), buf)
}

// errBundleFull stops a read once the bundle holds more than MaxBundleBytes.
var errBundleFull = errors.New("bundle over MaxBundleBytes")

// bundleReader counts the bytes it reads in used, shared by every file.
type bundleReader struct {
	ctx  context.Context
	r    io.Reader
	used *atomic.Int64
	max  int64 // MaxBundleBytes, or 0
}

func (b bundleReader) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.r.Read(p)
	if b.used.Add(int64(n)) > b.max && b.max > 0 {
		return n, errBundleFull
	}
	return n, err
}

// hashOpened hashes r, the file at p that stat said is size bytes of mode.
func (w *dirWalker) hashOpened(p string, r io.Reader, size int64, mode fs.FileMode, buf []byte) (Entry, error) {
	if !regularFile(mode) {
		return Entry{}, errorf(CodeNotRegular, p, "entry %s", describeMode(mode))
	}
	capBytes := int64(math.MaxInt64 - 1)
	if w.lim.MaxFileBytes > 0 {
		capBytes = w.lim.MaxFileBytes
	}
	d, n, err := hashCapped(bundleReader{w.ctx, r, &w.used, w.lim.MaxBundleBytes}, capBytes, buf, nil)
	switch {
	case errors.Is(err, errBundleFull):
		return Entry{}, errorf(CodeTooLarge, "", "the bundle is more than the limit of %d bytes", w.lim.MaxBundleBytes)
	case err != nil && w.ctx.Err() != nil:
		return Entry{}, w.ctx.Err()
	case err != nil:
		return Entry{}, fmt.Errorf("manifest: read %q: %w", p, err)
	case n > capBytes:
		return Entry{}, errorf(CodeTooLarge, p, "file is more than the limit of %d bytes", w.lim.MaxFileBytes)
	case n != size:
		return Entry{}, fmt.Errorf("manifest: %q changed while it was read (%d bytes, then %d): is the build still writing it?", p, size, n)
	}
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
