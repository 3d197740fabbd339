package manifest

import (
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzLimits keep every fuzz input cheap: a bomb stops at 1 MiB.
var fuzzLimits = Limits{
	MaxFiles:       16,
	MaxBundleBytes: 1 << 20,
	MaxFileBytes:   256 << 10,
	MaxPathBytes:   256,
	MaxPathDepth:   8,
	MaxRatio:       50,
	RatioFloor:     4 << 10,
}

// FuzzOpenZip: any bytes either are refused with an *Error or give a
// manifest whose every file reads back byte-exactly and hashes to its
// digest (security bar §7 case 33).
func FuzzOpenZip(f *testing.F) {
	f.Add(buildZip(f, zf{name: "index.html", body: "<html>"}, zf{name: "js/app.js", body: strings.Repeat("app();", 100)}))
	f.Add(buildZip(f, zf{name: "dist/"}, zf{name: "dist/index.html", body: "i", store: true}, zf{name: "dist/e"}))
	f.Add(buildZip(f, zf{name: "a", body: "1"}, zf{name: "A", body: "2"}))
	f.Add(buildZip(f, zf{name: "link", mode: 0o777 | os.ModeSymlink}))
	f.Add(buildZip(f, zf{name: "__MACOSX/._a", body: "m"}, zf{name: "a", body: "x"}))
	f.Add(buildZip(f))
	f.Add(rawZip{entries: []rawEntry{stored("a", "x"), deflated(f, "b", []byte("yyyyyyyy"))}}.bytes())
	z64 := rawZip{entries: []rawEntry{stored("a", "x"), deflated(f, "b", []byte("yy"))}, zip64End: true}
	z64.entries[1].zip64 = true
	f.Add(z64.bytes())
	bomb := deflated(f, "zeros", make([]byte, 1<<20))
	f.Add(rawZip{entries: []rawEntry{bomb}}.bytes())
	bomb.usize = 10
	f.Add(rawZip{entries: []rawEntry{bomb}}.bytes())
	fixtures, _ := filepath.Glob("../testdata/zips/*.zip")
	for _, p := range fixtures {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := openZipBytes(b, fuzzLimits)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || me.Code == "" || me.Reason == "" {
				t.Fatalf("refusal is not an *Error: %v (%T)", err, err)
			}
			return
		}
		defer src.Close()
		m := src.Manifest()
		if m.Len() == 0 || m.Len() > fuzzLimits.MaxFiles || m.TotalSize() > fuzzLimits.MaxBundleBytes {
			t.Fatalf("accepted a manifest outside the limits: %d files, %d bytes", m.Len(), m.TotalSize())
		}
		if _, err := Decode(m.Encode(), fuzzLimits); err != nil {
			t.Fatalf("accepted manifest does not decode: %v", err)
		}
		for _, e := range m.Entries() {
			rc, err := src.Open(e.Path)
			if err != nil {
				t.Fatalf("Open(%q): %v", e.Path, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read %q: %v", e.Path, err)
			}
			if int64(len(got)) != e.Size || Sum(got) != e.Digest {
				t.Fatalf("%q reads back as %d bytes that do not match %+v", e.Path, len(got), e)
			}
		}
	})
}

// FuzzDecode: Decode never panics, and what it accepts re-encodes to the
// very same bytes (one manifest, one encoding).
func FuzzDecode(f *testing.F) {
	d := Sum([]byte("x")).String()
	h := "patchwire-manifest/1\n"
	f.Add([]byte(h))
	f.Add([]byte(h + d + " 1 a\n"))
	f.Add([]byte(h + d + " 1 a\n" + d + " 1 a/b\n"))
	f.Add([]byte(h + d + " 01 a\n"))
	f.Add([]byte(h + d + " 1 A\n" + d + " 1 a\n"))
	f.Add([]byte(h + strings.ToUpper(d) + " 1 a\n"))
	f.Add([]byte(h + d + " 1 caf\u00e9\n" + d + " 1 cafe\u0301\n"))
	f.Add(mustNew(f, entry("index.html", "<html>"), entry("js/app.js", "app"), entry("sp ace/é", "")).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, DefaultLimits())
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("refusal is not an *Error: %v", err)
			}
			return
		}
		if got := m.Encode(); string(got) != string(b) {
			t.Fatalf("Decode accepted %q but encodes it as %q", b, got)
		}
		if m.Digest() != Sum(b) {
			t.Fatal("digest is not the hash of the encoding")
		}
	})
}

// FuzzValidatePath: an accepted path is local, clean, UTF-8 without
// controls or backslashes, within the limits; and FoldPath keeps every '/'
// where it was, which New relies on to find a file that is also a folder.
func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{
		"a", "a/b", "../a", "/a", `C:\a`, "a\x00", "a//b", "./a", "caf\u00e9", "cafe\u0301", "\u017f\u0301/x",
		"a/\u0301b", "\u0130/i", "ß/SS", "a\u202e", strings.Repeat("a/", 40),
	} {
		f.Add(s)
	}
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, p string) {
		folded := FoldPath(p)
		if strings.Count(folded, "/") != strings.Count(p, "/") {
			t.Fatalf("FoldPath(%q) = %q moves slashes", p, folded)
		}
		if err := ValidatePath(p, lim); err != nil {
			var me *Error
			if !errors.As(err, &me) || me.Code != CodeUnsafePath || me.Path != p {
				t.Fatalf("refusal %v", err)
			}
			return
		}
		parts := strings.Split(p, "/")
		fparts := strings.Split(folded, "/")
		for i := range parts {
			if got, want := FoldPath(strings.Join(parts[:i+1], "/")), strings.Join(fparts[:i+1], "/"); got != want {
				t.Fatalf("FoldPath of a prefix of %q is %q, not the prefix %q of %q", p, got, want, folded)
			}
		}
		switch {
		case !utf8.ValidString(p):
			t.Fatal("accepted invalid UTF-8")
		case path.Clean(p) != p || !filepath.IsLocal(p) || strings.HasPrefix(p, "/"):
			t.Fatal("accepted a path that is not clean and local")
		case strings.ContainsAny(p, "\\\x00"):
			t.Fatal("accepted a backslash or NUL")
		case len(p) > lim.MaxPathBytes || len(parts) > lim.MaxPathDepth:
			t.Fatal("accepted a path over the limits")
		}
		for _, r := range p {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("accepted control character %U", r)
			}
		}
		for _, c := range parts {
			if c == "" || c == "." || c == ".." || len(c) > MaxComponentBytes {
				t.Fatalf("accepted component %q", c)
			}
		}
	})
}
