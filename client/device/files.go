package device

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/patchwire/patchwire/manifest"
)

// verifyFile reports whether the regular file name (relative to DIR) has
// exactly size bytes with SHA-256 d. A missing file is (false, ErrNotExist).
func (s *state) verifyFile(name string, d manifest.Digest, size int64) (bool, error) {
	f, err := s.openRegular(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	got, n, err := manifest.SumReader(io.LimitReader(f, size+1))
	if err != nil {
		return false, err
	}
	if n != size || got != d {
		return false, fmt.Errorf("%w: %s", ErrDigest, name)
	}
	return true, nil
}

// readVerified reads a file that must have size bytes with SHA-256 d.
func (s *state) readVerified(name string, d manifest.Digest, size int64) ([]byte, error) {
	f, err := s.openRegular(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != size || manifest.Sum(b) != d {
		return nil, fmt.Errorf("%w: %s", ErrDigest, name)
	}
	return b, nil
}

// openRegular opens a regular file (no symbolic link at the end).
func (s *state) openRegular(name string) (*os.File, error) {
	fi, err := s.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("device: %s is not a regular file", name)
	}
	return s.root.Open(name)
}

// assemble builds DIR/bundles/<dirName>.tmp from verified sources (one per
// digest), checks it holds exactly target's files, makes it durable and
// renames it to DIR/bundles/<dirName>.
func (s *state) assemble(target *manifest.Manifest, sources map[manifest.Digest]string, dirName string) error {
	tmp := bundlePath(dirName + ".tmp")
	final := bundlePath(dirName)
	if err := s.root.RemoveAll(tmp); err != nil {
		return err
	}
	if err := s.root.RemoveAll(final); err != nil {
		return err
	}
	if err := s.root.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			s.root.RemoveAll(tmp)
		}
	}()
	dirs := map[string]bool{tmp: true}
	for _, e := range target.Entries() {
		src, found := sources[e.Digest]
		if !found {
			return fmt.Errorf("device: no source for %s", e.Path)
		}
		dst := tmp + "/" + e.Path
		if dir := path.Dir(dst); !dirs[dir] {
			if err := s.root.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("device: assemble %s: %w", e.Path, err)
			}
			for d := dir; d != tmp && !dirs[d]; d = path.Dir(d) {
				dirs[d] = true
			}
		}
		if err := s.place(src, dst, e); err != nil {
			return fmt.Errorf("device: assemble %s: %w", e.Path, err)
		}
	}
	// The folder must hold exactly the target's files.
	files := 0
	err := fs.WalkDir(s.root.FS(), tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("device: assemble: %s is not a regular file", p)
		}
		rel := strings.TrimPrefix(p, tmp+"/")
		e, ok := target.Lookup(rel)
		if !ok {
			return fmt.Errorf("device: assemble: %s is not in the target", rel)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() != e.Size {
			return fmt.Errorf("device: assemble: %s is %d bytes, want %d", rel, fi.Size(), e.Size)
		}
		files++
		return nil
	})
	if err != nil {
		return err
	}
	if files != target.Len() {
		return fmt.Errorf("device: assemble: %d files, want %d", files, target.Len())
	}
	for d := range dirs {
		if err := s.syncDir(d); err != nil {
			return err
		}
	}
	if err := s.root.Rename(tmp, final); err != nil {
		return err
	}
	ok = true
	return s.syncDir(bundlesDir)
}

// place puts src's bytes (already verified as e) at dst: a hard link when
// the file system allows one, else a verified, fsynced copy.
func (s *state) place(src, dst string, e manifest.Entry) error {
	if err := s.root.Link(src, dst); err == nil {
		return nil
	}
	in, err := s.openRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return s.copyInto(dst, in, e)
}

// copyInto writes r (which must yield e) to DIR/<dst>, fsynced.
func (s *state) copyInto(dst string, r io.Reader, e manifest.Entry) error {
	out, err := s.root.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h := manifest.NewHash()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, e.Size+1))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	var d manifest.Digest
	h.Sum(d[:0])
	if n != e.Size || d != e.Digest {
		return fmt.Errorf("%w: %s", ErrDigest, e.Path)
	}
	return nil
}
