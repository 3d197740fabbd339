package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestOpenDir(t *testing.T) {
	files := map[string]string{
		"index.html":         "<html></html>",
		"js/app.js":          strings.Repeat("app();", 10000),
		"js/empty.js":        "",
		"a/b/c/d/e/deep.css": "body{}",
		".well-known/x.json": "{}",
		"._resource-fork":    "kept: only .DS_Store and __MACOSX are skipped",
		"nested.zip":         string(buildZip(t, zf{name: "inner.js", body: "x"})),
		"sp ace/ü n i.txt":   "unicode names are fine",
	}
	dir := t.TempDir()
	writeTree(t, dir, files)
	writeTree(t, dir, map[string]string{
		".DS_Store":             "finder",
		"js/.DS_Store":          "finder",
		"__MACOSX/._index.html": "fork",
		"a/__MACOSX/._deep.css": "fork",
	})
	os.MkdirAll(filepath.Join(dir, "empty", "folders"), 0o755)
	src, err := OpenDir(t.Context(), dir, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	checkSource(t, src, files)
	if _, err := src.Open("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(missing): %v", err)
	}
	if _, err := src.Open(".DS_Store"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(.DS_Store): %v", err)
	}
}

func TestOpenDirRefusals(t *testing.T) {
	small := DefaultLimits()
	small.MaxFiles, small.MaxFileBytes, small.MaxBundleBytes = 3, 10, 15
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		lim   Limits
		code  string
		path  string
	}{
		{"empty folder", func(t *testing.T, dir string) {}, DefaultLimits(), CodeEmptyBundle, ""},
		{"only litter", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{".DS_Store": "x", "__MACOSX/a": "y"})
		}, DefaultLimits(), CodeEmptyBundle, ""},
		{"symlink to a file", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x"})
			mustSymlink(t, "index.html", filepath.Join(dir, "link.html"))
		}, DefaultLimits(), CodeNotRegular, "link.html"},
		{"symlink out of the folder", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x"})
			mustSymlink(t, "/etc/passwd", filepath.Join(dir, "js", "passwd"))
		}, DefaultLimits(), CodeNotRegular, "js/passwd"},
		{"symlink to a folder", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"real/index.html": "x"})
			mustSymlink(t, "real", filepath.Join(dir, "alias"))
		}, DefaultLimits(), CodeNotRegular, "alias"},
		{"dangling symlink", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x"})
			mustSymlink(t, "nowhere", filepath.Join(dir, "gone"))
		}, DefaultLimits(), CodeNotRegular, "gone"},
		{"fifo", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x"})
			if err := mkfifo(filepath.Join(dir, "pipe")); err != nil {
				t.Skip(err)
			}
		}, DefaultLimits(), CodeNotRegular, "pipe"},
		{"socket", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x"})
			l, err := net.Listen("unix", filepath.Join(dir, "sock"))
			if err != nil {
				t.Skip(err)
			}
			t.Cleanup(func() { l.Close() })
		}, DefaultLimits(), CodeNotRegular, "sock"},
		{"device", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x"})
			if err := mknodNull(filepath.Join(dir, "null")); err != nil {
				t.Skip("mknod:", err) // needs CAP_MKNOD
			}
		}, DefaultLimits(), CodeNotRegular, "null"},
		{"setuid", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x", "run.sh": "#!/bin/sh"})
			if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755|fs.ModeSetuid); err != nil {
				t.Skip(err)
			}
		}, DefaultLimits(), CodeNotRegular, "run.sh"},
		{"case collision", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"app.js": "a", "APP.js": "b"})
		}, DefaultLimits(), CodeCaseCollision, "app.js"},
		{"NFC and NFD", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"caf\u00e9.js": "a", "cafe\u0301.js": "b"})
		}, DefaultLimits(), CodeCaseCollision, "caf\u00e9.js"},
		{"file and folder differ in case", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"Lib": "a", "lib/x.js": "b"})
		}, DefaultLimits(), CodeCaseCollision, "lib/x.js"},
		{"control character", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x", "a\x01b.js": "y"})
		}, DefaultLimits(), CodeUnsafePath, "a\x01b.js"},
		{"backslash", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x", `a\b.js`: "y"})
		}, DefaultLimits(), CodeUnsafePath, `a\b.js`},
		{"not UTF-8", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x", "caf\xe9.js": "y"})
		}, DefaultLimits(), CodeUnsafePath, "caf\xe9.js"},
		{"bad folder name, even empty", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"index.html": "x"})
			os.Mkdir(filepath.Join(dir, "a\x7f"), 0o755)
		}, DefaultLimits(), CodeUnsafePath, "a\x7f"},
		{"100 levels deep", func(t *testing.T, dir string) {
			mkdirDeep(t, dir, strings.Repeat("d/", 100)+"x.js")
		}, DefaultLimits(), CodeUnsafePath, strings.TrimSuffix(strings.Repeat("d/", 33), "/")},
		{"5000-byte path", func(t *testing.T, dir string) {
			mkdirDeep(t, dir, strings.Repeat(strings.Repeat("p", 200)+"/", 25)+"x.js")
		}, DefaultLimits(), CodeUnsafePath, ""},
		{"too many files", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"a": "", "b": "", "c": "", "d": ""})
		}, small, CodeTooManyFiles, "d"},
		{"too many folders", func(t *testing.T, dir string) {
			for _, d := range []string{"a", "b", "c", "d", "e", "f", "g"} {
				os.Mkdir(filepath.Join(dir, d), 0o755)
			}
		}, small, CodeTooManyFiles, ""},
		{"file too large", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"a": "0123456789x"})
		}, small, CodeTooLarge, "a"},
		{"bundle too large", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"a": "0123456789", "b": "0123456789"})
		}, small, CodeTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			src, err := OpenDir(t.Context(), dir, tc.lim)
			if err == nil {
				src.Close()
			}
			wantCode(t, err, tc.code, tc.path)
			t.Log(err)
		})
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlink:", err)
	}
}

// mkdirDeep creates p (slash-separated, last element a file) under dir one
// level at a time, so that no system call sees a path longer than PATH_MAX.
func mkdirDeep(t *testing.T, dir, p string) {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(p, "/")
	for _, c := range parts[:len(parts)-1] {
		if err := r.Mkdir(c, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := r.OpenRoot(c)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		r = next
	}
	defer r.Close()
	if err := r.WriteFile(parts[len(parts)-1], []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A file that grows while it is hashed is stopped at the limit; one that
// changes size under the limit is an error.
func TestDirFileChangesWhileRead(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxFileBytes = 1 << 20
	w := &dirWalker{ctx: context.Background(), lim: lim}
	buf := make([]byte, 4096)
	endless := &countingReader{r: zeroReader{}}
	_, err := w.hashOpened("grows.log", endless, 100, 0o644, buf)
	wantCode(t, err, CodeTooLarge, "grows.log")
	if endless.n > lim.MaxFileBytes+1 {
		t.Fatalf("read %d bytes, want at most the limit + 1", endless.n)
	}
	_, err = w.hashOpened("grew.js", strings.NewReader("0123456789"), 5, 0o644, buf)
	if err == nil || codeOf(err) != "" || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("got %v, want a changed-while-read error", err)
	}
	e, err := w.hashOpened("ok.js", strings.NewReader("0123456789"), 10, 0o644, buf)
	if err != nil || e.Size != 10 || e.Digest != Sum([]byte("0123456789")) {
		t.Fatalf("got %+v, %v", e, err)
	}
	_, err = w.hashOpened("pipe", strings.NewReader(""), 0, fs.ModeNamedPipe, buf)
	wantCode(t, err, CodeNotRegular, "pipe")
	// No file limit: the bundle limit stops it, counted on bytes read.
	lim = Limits{MaxBundleBytes: 1 << 20}
	w = &dirWalker{ctx: context.Background(), lim: lim}
	endless = &countingReader{r: zeroReader{}}
	_, err = w.hashOpened("grows.log", endless, 100, 0o644, buf)
	wantCode(t, err, CodeTooLarge, "")
	if endless.n > lim.MaxBundleBytes+int64(len(buf)) {
		t.Fatalf("read %d bytes, want at most the limit + one buffer", endless.n)
	}
}

// Files are hashed in parallel, but the first bad file in name order is the
// one named, every time.
func TestOpenDirFirstErrorWins(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 60 {
		body := "small"
		if i == 17 || i == 18 || i == 45 {
			body = strings.Repeat("x", 200)
		}
		files[fmt.Sprintf("f%02d", i)] = body
	}
	writeTree(t, dir, files)
	lim := DefaultLimits()
	lim.MaxFileBytes = 100
	for range 20 {
		_, err := OpenDir(t.Context(), dir, lim)
		wantCode(t, err, CodeTooLarge, "f17")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Files that change after the folder was read are caught by Open's reader.
func TestDirSourceChangedFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "0123456789", "a.js": "aaaa", "b.js": "bbbb", "c.js": "cccc"})
	src, err := OpenDir(t.Context(), dir, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	readBack := func(p string) error {
		rc, err := src.Open(p)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.ReadAll(rc)
		return err
	}
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("0123456789 and more"), 0o644)
	wantCode(t, readBack("index.html"), CodeDigestMismatch, "index.html")
	os.WriteFile(filepath.Join(dir, "a.js"), []byte("aa"), 0o644)
	wantCode(t, readBack("a.js"), CodeDigestMismatch, "a.js")
	os.WriteFile(filepath.Join(dir, "b.js"), []byte("BBBB"), 0o644)
	wantCode(t, readBack("b.js"), CodeDigestMismatch, "b.js")
	os.Remove(filepath.Join(dir, "c.js"))
	if runtime.GOOS != "windows" {
		if err := os.Symlink("index.html", filepath.Join(dir, "c.js")); err != nil {
			t.Skip(err)
		}
		if err := readBack("c.js"); codeOf(err) != CodeNotRegular && codeOf(err) != CodeDigestMismatch {
			t.Fatalf("c.js became a symlink: %v", err)
		}
	}
}

func TestOpenDirContext(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "1", "b": "2"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := OpenDir(ctx, dir, DefaultLimits()); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestOpenDirMissing(t *testing.T) {
	_, err := OpenDir(t.Context(), filepath.Join(t.TempDir(), "nope"), DefaultLimits())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o644)
	if _, err := OpenDir(t.Context(), f, DefaultLimits()); err == nil {
		t.Fatal("opened a file as a folder")
	}
}

func TestOpenPathFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe")
	if err := mkfifo(p); err != nil {
		t.Skip(err)
	}
	_, err := OpenPath(t.Context(), p, DefaultLimits())
	wantCode(t, err, CodeNotRegular, p)
}

// Ingesting the folder gives each file's plain SHA-256.
func TestOpenDirDigests(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // larger than the read buffer
	os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644)
	src, err := OpenDir(t.Context(), dir, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e, ok := src.Manifest().Lookup("big.bin")
	if !ok || e.Digest != Sum(big) || e.Size != int64(len(big)) {
		t.Fatalf("got %+v", e)
	}
}

func TestSkipped(t *testing.T) {
	for _, tc := range []struct {
		p     string
		isDir bool
		want  bool
	}{
		{".DS_Store", false, true},
		{"a/b/.DS_Store", false, true},
		{".DS_Store", true, false},
		{".DS_Store/x", false, false},
		{"__MACOSX", true, true},
		{"a/__MACOSX", true, true},
		{"__MACOSX/a/._b", false, true},
		{"a/__MACOSX/b", false, true},
		{"__MACOSX", false, false},
		{"a/__MACOSX", false, false},
		{"__MACOSX.js", false, false},
		{"._index.html", false, false},
		{"Thumbs.db", false, false},
		{".ds_store", false, false},
	} {
		if got := skipped(tc.p, tc.isDir); got != tc.want {
			t.Errorf("skipped(%q, dir=%v) = %v, want %v", tc.p, tc.isDir, got, tc.want)
		}
	}
}
