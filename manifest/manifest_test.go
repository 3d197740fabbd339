package manifest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func entry(path, body string) Entry {
	return Entry{Path: path, Digest: Sum([]byte(body)), Size: int64(len(body))}
}

func mustNew(t testing.TB, es ...Entry) *Manifest {
	t.Helper()
	m, err := New(es, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewSortsAndKeepsInput(t *testing.T) {
	in := []Entry{entry("b.js", "b"), entry("a/z.js", "z"), entry("A.js", "A"), entry("a.js", "a2")}
	_, err := New(in, DefaultLimits())
	wantCode(t, err, CodeCaseCollision, "a.js")
	in = in[:3]
	m, err := New(in, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range m.Entries() {
		got = append(got, e.Path)
	}
	if want := []string{"A.js", "a/z.js", "b.js"}; !equalStrings(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
	if in[0].Path != "b.js" {
		t.Fatal("New modified its input")
	}
	if m.Len() != 3 || m.TotalSize() != 3 {
		t.Fatalf("Len %d TotalSize %d", m.Len(), m.TotalSize())
	}
	if e, ok := m.Lookup("a/z.js"); !ok || e != in[1] {
		t.Fatalf("Lookup: %+v %v", e, ok)
	}
	if _, ok := m.Lookup("a"); ok {
		t.Fatal("Lookup found a prefix")
	}
}

func TestNewRefusals(t *testing.T) {
	lim := DefaultLimits()
	noFileLimit := Limits{MaxBundleBytes: 100}
	for _, tc := range []struct {
		name string
		es   []Entry
		lim  Limits
		code string
		path string
	}{
		{"unsafe", []Entry{entry("../a", "")}, lim, CodeUnsafePath, "../a"},
		{"duplicate", []Entry{entry("a", "1"), entry("a", "2")}, lim, CodeDuplicatePath, "a"},
		{"case", []Entry{entry("a", "1"), entry("A", "2")}, lim, CodeCaseCollision, "a"},
		{"long s", []Entry{entry("\u015b.js", "1"), entry("\u017f\u0301.js", "2")}, lim, CodeCaseCollision, ""},
		{"file is a folder", []Entry{entry("a", "1"), entry("a/b", "2")}, lim, CodeDuplicatePath, "a/b"},
		{"deep file is a folder", []Entry{entry("x/y", "1"), entry("x/y/z/w", "2")}, lim, CodeDuplicatePath, "x/y/z/w"},
		{"file is a folder, folded", []Entry{entry("x/Y", "1"), entry("x/y/z/w", "2")}, lim, CodeCaseCollision, "x/y/z/w"},
		{"negative size", []Entry{{Path: "a", Size: -1}}, lim, CodeBadManifest, "a"},
		{"file too large", []Entry{{Path: "a", Size: lim.MaxFileBytes + 1}}, lim, CodeTooLarge, "a"},
		{"bundle too large", []Entry{{Path: "a", Size: 60}, {Path: "b", Size: 60}}, noFileLimit, CodeTooLarge, ""},
		{"total would wrap", []Entry{{Path: "a", Size: 50}, {Path: "b", Size: math.MaxInt64}}, noFileLimit, CodeTooLarge, ""},
		{"too many", []Entry{entry("a", ""), entry("b", "")}, Limits{MaxFiles: 1}, CodeTooManyFiles, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.es, tc.lim)
			wantCode(t, err, tc.code, tc.path)
		})
	}
	// Folders may share a prefix with files; only exact components count.
	mustNew(t, entry("a", "1"), entry("ab/c", "2"), entry("a.d/e", "3"))
}

func TestEmptyManifest(t *testing.T) {
	var m *Manifest
	if m.Len() != 0 || m.TotalSize() != 0 || m.Entries() != nil || len(m.Digests()) != 0 {
		t.Fatal("nil manifest is not empty")
	}
	if _, ok := m.Lookup("a"); ok {
		t.Fatal("nil manifest finds a path")
	}
	if string(m.Encode()) != "patchwire-manifest/1\n" {
		t.Fatalf("encoding %q", m.Encode())
	}
	d, err := Decode(m.Encode(), DefaultLimits())
	if err != nil || d.Len() != 0 || d.Digest() != (&Manifest{}).Digest() {
		t.Fatalf("decode of the empty manifest: %v", err)
	}
}

func TestDigests(t *testing.T) {
	m := mustNew(t, entry("c", "same"), entry("a", "same"), entry("b", "other"))
	ds := m.Digests()
	if len(ds) != 2 || ds[0] != Sum([]byte("same")) || ds[1] != Sum([]byte("other")) {
		t.Fatalf("Digests = %v", ds)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := mustNew(t, entry("index.html", "<html>"), entry("js/app.js", "app"), entry("sp ace/é.txt", ""), entry("a", "x"))
	b := m.Encode()
	want := "patchwire-manifest/1\n" +
		Sum([]byte("x")).String() + " 1 a\n" +
		Sum([]byte("<html>")).String() + " 6 index.html\n" +
		Sum([]byte("app")).String() + " 3 js/app.js\n" +
		Sum(nil).String() + " 0 sp ace/é.txt\n"
	if string(b) != want {
		t.Fatalf("encoding\n%s\nwant\n%s", b, want)
	}
	d, err := Decode(b, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Encode()) != string(b) || d.Digest() != m.Digest() || d.Digest() != Sum(b) {
		t.Fatal("round trip changed the manifest")
	}
	// Random manifests.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		m := randomManifest(t, rng, 1+rng.IntN(200))
		d, err := Decode(m.Encode(), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Encode()) != string(m.Encode()) {
			t.Fatal("round trip changed the manifest")
		}
	}
}

func randomManifest(t testing.TB, rng *rand.Rand, n int) *Manifest {
	seen := map[string]bool{}
	var es []Entry
	for len(es) < n {
		depth := 1 + rng.IntN(3)
		var parts []string
		for range depth {
			parts = append(parts, fmt.Sprintf("d%d", rng.IntN(5)))
		}
		p := strings.Join(parts, "/") + fmt.Sprintf(".f%d", rng.IntN(1000))
		if seen[p] {
			continue
		}
		seen[p] = true
		es = append(es, entry(p, fmt.Sprint(rng.IntN(30))))
	}
	m, err := New(es, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeStrict(t *testing.T) {
	d := Sum([]byte("x")).String()
	e := Sum(nil).String()
	h := "patchwire-manifest/1\n"
	for _, tc := range []struct {
		name string
		in   string
		code string
	}{
		{"empty input", "", CodeBadManifest},
		{"no header", d + " 1 a\n", CodeBadManifest},
		{"other version", "patchwire-manifest/2\n" + d + " 1 a\n", CodeBadManifest},
		{"header without newline", "patchwire-manifest/1", CodeBadManifest},
		{"CRLF header", "patchwire-manifest/1\r\n", CodeBadManifest},
		{"no final newline", h + d + " 1 a", CodeBadManifest},
		{"blank line", h + d + " 1 a\n\n", CodeBadManifest},
		{"missing size", h + d + " a\n", CodeBadManifest},
		{"missing path", h + d + " 1\n", CodeBadManifest},
		{"empty path", h + d + " 1 \n", CodeUnsafePath},
		{"two spaces", h + d + "  1 a\n", CodeBadManifest},
		{"tab", h + d + "\t1 a\n", CodeBadManifest},
		{"upper-case digest", h + strings.ToUpper(d) + " 1 a\n", CodeBadManifest},
		{"short digest", h + d[:63] + " 1 a\n", CodeBadManifest},
		{"long digest", h + d + "0 1 a\n", CodeBadManifest},
		{"leading zero size", h + d + " 01 a\n", CodeBadManifest},
		{"plus size", h + d + " +1 a\n", CodeBadManifest},
		{"negative size", h + d + " -1 a\n", CodeBadManifest},
		{"minus zero", h + e + " -0 a\n", CodeBadManifest},
		{"size overflow", h + d + " 9223372036854775808 a\n", CodeBadManifest},
		{"hex size", h + d + " 0x1 a\n", CodeBadManifest},
		{"unsorted", h + d + " 1 b\n" + d + " 1 a\n", CodeBadManifest},
		{"duplicate", h + d + " 1 a\n" + d + " 1 a\n", CodeBadManifest},
		{"case collision", h + d + " 1 A\n" + d + " 1 a\n", CodeCaseCollision},
		{"file and folder", h + d + " 1 a\n" + d + " 1 a/b\n", CodeDuplicatePath},
		{"CR in path", h + d + " 1 a\r\n", CodeUnsafePath},
		{"unsafe path", h + d + " 1 ../a\n", CodeUnsafePath},
		{"absolute path", h + d + " 1 /a\n", CodeUnsafePath},
		{"NUL in path", h + d + " 1 a\x00\n", CodeUnsafePath},
		{"too large", h + d + " 268435457 a\n", CodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in), DefaultLimits())
			wantCode(t, err, tc.code, "")
		})
	}
	t.Run("too many lines", func(t *testing.T) {
		lim := DefaultLimits()
		lim.MaxFiles = 2
		_, err := Decode([]byte(h+strings.Repeat("\n", 3)), lim)
		wantCode(t, err, CodeTooManyFiles, "")
	})
}

func TestCompareApply(t *testing.T) {
	old := mustNew(t, entry("keep", "k"), entry("change", "1"), entry("gone", "g"), entry("resize", "r"))
	resized := entry("resize", "r")
	resized.Size = 5 // same digest, other size: a lying manifest, still a change
	new := mustNew(t, entry("keep", "k"), entry("change", "2"), entry("added", "a"), resized)
	d := Compare(old, new)
	if len(d.Added) != 1 || d.Added[0].Path != "added" ||
		len(d.Removed) != 1 || d.Removed[0].Path != "gone" ||
		len(d.Changed) != 2 || d.Changed[0].New.Path != "change" || d.Changed[1].New.Path != "resize" ||
		d.Unchanged != 1 {
		t.Fatalf("diff %+v", d)
	}
	got, err := d.Apply(old, DefaultLimits())
	if err != nil || got.Digest() != new.Digest() {
		t.Fatalf("Apply: %v\n%s", err, got.Encode())
	}
	if d := Compare(old, old); len(d.Added)+len(d.Removed)+len(d.Changed) != 0 || d.Unchanged != old.Len() {
		t.Fatalf("self diff %+v", d)
	}
	if d := Compare(nil, new); len(d.Added) != new.Len() {
		t.Fatalf("diff from nothing %+v", d)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		a, b := randomManifest(t, rng, rng.IntN(60)+1), randomManifest(t, rng, rng.IntN(60)+1)
		got, err := Compare(a, b).Apply(a, DefaultLimits())
		if err != nil || got.Digest() != b.Digest() {
			t.Fatalf("Compare/Apply round trip: %v", err)
		}
	}
}

func TestApplyRefusesAMismatchedBase(t *testing.T) {
	old := mustNew(t, entry("a", "1"), entry("b", "2"))
	other := mustNew(t, entry("a", "other"), entry("c", "3"))
	for name, d := range map[string]Diff{
		"removes a missing path":   {Removed: []Entry{entry("zzz", "1")}},
		"removes other bytes":      {Removed: []Entry{entry("a", "other")}},
		"changes other bytes":      {Changed: []Changed{{Old: entry("a", "other"), New: entry("a", "new")}}},
		"changes a missing path":   {Changed: []Changed{{Old: entry("zzz", "1"), New: entry("zzz", "2")}}},
		"renames while changing":   {Changed: []Changed{{Old: entry("a", "1"), New: entry("z", "1")}}},
		"adds an existing path":    {Added: []Entry{entry("a", "new")}},
		"diff made for other base": Compare(other, old),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := d.Apply(old, DefaultLimits())
			wantCode(t, err, CodeBadManifest, "")
		})
	}
	// Remove then add the same path is a valid (if roundabout) change.
	m, err := Diff{Removed: []Entry{entry("a", "1")}, Added: []Entry{entry("a", "9")}}.Apply(old, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := m.Lookup("a"); e != entry("a", "9") {
		t.Fatalf("got %+v", e)
	}
}

func TestValidatePath(t *testing.T) {
	lim := DefaultLimits()
	ok := []string{
		"a", "index.html", "a/b/c.js", ".well-known/x", "a..b", "..a", "a..", "...", "a b", "é/ü.js",
		"日本語.txt", "emoji-😀.png", "ab:c", strings.Repeat("x", 255), strings.Repeat("a/", 31) + "b",
		strings.Repeat(strings.Repeat("x", 200)+"/", 5) + strings.Repeat("y", 19), // 1024 bytes
	}
	for _, p := range ok {
		if err := ValidatePath(p, lim); err != nil {
			t.Errorf("ValidatePath(%.60q) = %v", p, err)
		}
	}
	bad := []string{
		"", "/", "/a", "a/", "a//b", ".", "..", "./a", "a/.", "a/./b", "../a", "a/../b", "a/..",
		`a\b`, `C:\a`, "C:a", "c:/a", "a\x00", "a\x01", "a\x1f", "a\x7f", "a\u0085", "a\u009f", "\t",
		"a\n", "a\r", "\xff", "a\xc3", "\xed\xa0\x80", // invalid UTF-8, lone surrogate
		"a\u202e", "a\u2066", "a\u200f", "a\u2028", "a\u2029", "\ufeffa",
		strings.Repeat("x", 256), strings.Repeat("a/", 32) + "b",
		strings.Repeat(strings.Repeat("x", 200)+"/", 5) + strings.Repeat("y", 20), // 1025 bytes
	}
	for _, p := range bad {
		wantCode(t, ValidatePath(p, lim), CodeUnsafePath, p)
	}
	// Zero limits mean no length or depth limit, but components stay bounded.
	if err := ValidatePath(strings.Repeat("a/", 100)+"b", Limits{}); err != nil {
		t.Error(err)
	}
	wantCode(t, ValidatePath(strings.Repeat("x", 256), Limits{}), CodeUnsafePath, "")
}

func TestFoldPath(t *testing.T) {
	for _, tc := range [][2]string{
		{"App.JS", "app.js"},
		{"caf\u00e9", "cafe\u0301"},
		{"Stra\u00dfe", "strasse"},
		{"\u212bngstr\u00f6m", "\u00e5ngstro\u0308m"},
		{"\u015b", "\u017f\u0301"}, // long s with acute folds to ś
		{"\u1e9e", "ss"},           // capital sharp s
	} {
		if FoldPath(tc[0]) != FoldPath(tc[1]) {
			t.Errorf("FoldPath(%q) = %q, FoldPath(%q) = %q: want equal", tc[0], FoldPath(tc[0]), tc[1], FoldPath(tc[1]))
		}
	}
	for _, tc := range [][2]string{{"a.js", "b.js"}, {"i", "\u0131"}, {"a/b", "a\u2215b"}} {
		if FoldPath(tc[0]) == FoldPath(tc[1]) {
			t.Errorf("FoldPath(%q) == FoldPath(%q)", tc[0], tc[1])
		}
	}
}

func TestParseDigest(t *testing.T) {
	d := Sum([]byte("abc"))
	s := d.String()
	if s != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Sum(abc) = %s", s)
	}
	if p, err := ParseDigest(s); err != nil || p != d {
		t.Fatalf("ParseDigest(%s) = %v, %v", s, p, err)
	}
	for _, in := range []string{
		"", s[:63], s + "0", strings.ToUpper(s), s[:62] + "AD", s[:63] + "g", " " + s[1:], s[:63] + "\n",
		"0x" + s[2:], strings.Repeat("z", 64), s[:32], "+" + s[1:],
	} {
		if _, err := ParseDigest(in); err == nil {
			t.Errorf("ParseDigest(%q) accepted", in)
		}
	}
	var back Digest
	text, _ := d.MarshalText()
	if err := back.UnmarshalText(text); err != nil || back != d {
		t.Fatalf("text round trip: %v", err)
	}
	if err := back.UnmarshalText([]byte(strings.ToUpper(s))); err == nil {
		t.Fatal("UnmarshalText accepted upper case")
	}
	if !(Digest{}).IsZero() || d.IsZero() {
		t.Fatal("IsZero")
	}
	sr, n, err := SumReader(strings.NewReader("abc"))
	if err != nil || n != 3 || sr != d {
		t.Fatalf("SumReader = %v %d %v", sr, n, err)
	}
	h := NewHash()
	h.Write([]byte("abc"))
	if string(h.Sum(nil)) != string(d[:]) {
		t.Fatal("NewHash disagrees with Sum")
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Code: CodeUnsafePath, Path: "a\x00", Reason: "path contains a NUL byte"}
	if got := e.Error(); got != `unsafe_path: "a\x00": path contains a NUL byte` {
		t.Fatalf("got %s", got)
	}
	e = &Error{Code: CodeEmptyBundle, Reason: "no files"}
	if got := e.Error(); got != "empty_bundle: no files" {
		t.Fatalf("got %s", got)
	}
}
