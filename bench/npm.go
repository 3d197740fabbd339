package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/patchwire/patchwire/manifest"
)

// NPMSpec names a series of npm releases: `NAME@V1,V2,...`, optionally a
// folder of the package to use as the bundle.
type NPMSpec struct {
	Name     string
	Versions []string
	Subdir   string // e.g. "dist/ionic"; "" is the whole package
}

// ParseNPMSpec reads `NAME@V1,V2,...` (NAME may be scoped: @scope/name).
func ParseNPMSpec(s, subdir string) (NPMSpec, error) {
	at := strings.LastIndex(s, "@")
	if at <= 0 {
		return NPMSpec{}, fmt.Errorf("bench: npm series %q: want NAME@V1,V2,...", s)
	}
	sp := NPMSpec{Name: s[:at], Subdir: strings.Trim(subdir, "/")}
	for _, v := range strings.Split(s[at+1:], ",") {
		if v = strings.TrimSpace(v); v != "" {
			sp.Versions = append(sp.Versions, v)
		}
	}
	if len(sp.Versions) < 2 {
		return NPMSpec{}, fmt.Errorf("bench: npm series %q: want at least 2 versions", s)
	}
	return sp, nil
}

// Label is the series' name in reports: the package, and the folder.
func (sp NPMSpec) Label() string {
	if sp.Subdir == "" {
		return sp.Name
	}
	return sp.Name + ":" + sp.Subdir
}

// tgzName is the file name `npm pack` gives NAME@V.
func tgzName(name, version string) string {
	n := strings.ReplaceAll(strings.TrimPrefix(name, "@"), "/", "-")
	return n + "-" + version + ".tgz"
}

// FetchNPM returns the series sp: each release's tarball is fetched into
// cacheDir with `npm pack NAME@V --pack-destination cacheDir` unless it is
// there already, extracted (once) beside it with every path validated,
// and sp.Subdir of the package loaded as the version.
func FetchNPM(ctx context.Context, cacheDir string, sp NPMSpec, logf func(string, ...any)) (*Series, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	s := &Series{Name: sp.Label()}
	for _, v := range sp.Versions {
		tgz := filepath.Join(cacheDir, tgzName(sp.Name, v))
		if _, err := os.Stat(tgz); err != nil {
			logf("npm pack %s@%s", sp.Name, v)
			if err := npmPack(ctx, cacheDir, sp.Name, v, tgz); err != nil {
				return nil, err
			}
		}
		dir := strings.TrimSuffix(tgz, ".tgz")
		if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
			if err := os.RemoveAll(dir); err != nil {
				return nil, err
			}
			if err := ExtractTGZ(tgz, dir); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
				return nil, err
			}
		}
		root := filepath.Join(dir, "package")
		if sp.Subdir != "" {
			root = filepath.Join(root, filepath.FromSlash(sp.Subdir))
		}
		ver, err := LoadVersion(ctx, v, root)
		if err != nil {
			return nil, err
		}
		s.Versions = append(s.Versions, ver)
	}
	return s, nil
}

// npmPack fetches NAME@V with `npm pack` into a fresh folder inside
// cacheDir and renames the tarball to tgz, so an interrupted or failed pack
// never leaves a partial tarball that a later run would take as cached.
// npm's notices (stderr) are kept for the error message only; its stdout
// (the file name) is discarded. (issue 8: the old code set cmd.Stdout and
// then called CombinedOutput, which always fails with "exec: Stdout already
// set" when the tarball is not cached.)
func npmPack(ctx context.Context, cacheDir, name, version, tgz string) error {
	tmp, err := os.MkdirTemp(cacheDir, ".pack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	abs, err := filepath.Abs(tmp)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "npm", "pack", name+"@"+version, "--pack-destination", abs)
	cmd.Dir = abs // never a project folder whose package.json or .npmrc would change what npm does
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: npm pack %s@%s: %v: %s", name, version, err, tail(stderr.Bytes(), 2048))
	}
	made := filepath.Join(abs, filepath.Base(tgz))
	if _, err := os.Stat(made); err != nil {
		return fmt.Errorf("bench: npm pack %s@%s made no %s", name, version, filepath.Base(tgz))
	}
	return os.Rename(made, tgz)
}

// tail is the last n bytes of b (npm's error is at the end of its output).
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// maxTGZBytes bounds what one tarball may extract to.
const maxTGZBytes = 1 << 30

// ExtractTGZ extracts the regular files of a gzipped tar into dir (created),
// refusing paths that manifest.ValidatePath refuses; folders are created
// as needed and every other kind of entry (links, devices) is skipped.
func ExtractTGZ(tgz, dir string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", tgz, err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	lim := manifest.DefaultLimits()
	var total int64
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bench: %s: %w", tgz, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(h.Name, "./")
		if err := manifest.ValidatePath(name, lim); err != nil {
			return fmt.Errorf("bench: %s: %w", tgz, err)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", tgz, err)
		}
		n, err := io.Copy(out, io.LimitReader(tr, maxTGZBytes-total+1))
		total += n
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if total > maxTGZBytes {
			return fmt.Errorf("bench: %s extracts to more than %d bytes", tgz, maxTGZBytes)
		}
	}
}
