package manifest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Security bar §7 case 1 and 6: names that must never become paths.
func TestOpenZipUnsafeNames(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 99)+"/", 50) + "x.js" // 5004 bytes
	deep := strings.Repeat("a/", 100) + "x.js"                       // 101 components
	for _, name := range []string{
		"../a", "/a", `C:\a`, "C:/a", `a\..\b`, "a/../../b", "a\x00b", "..", "./a", "a/./b", "a//b", "",
		"\xff\xfe.js",         // not UTF-8
		"caf\xe9.js",          // Latin-1, not UTF-8
		"a\x01b.js",           // C0 control
		"a\x7fb.js",           // DEL
		"a\u0085b.js",         // C1 control (NEL)
		"a\nb.js",             // newline would split a manifest line
		"evil\u202egnp.js",    // right-to-left override
		"__MACOSX/../../evil", // litter is validated before it is skipped
		long, deep,
		strings.Repeat("x", 256) + ".js", // component longer than 255 bytes
	} {
		t.Run(fmt.Sprintf("%.40q", name), func(t *testing.T) {
			b := buildZip(t, zf{name: "index.html", body: "ok"}, zf{name: name, body: "bad"}, zf{name: "../second", body: "bad"})
			_, err := openZipBytes(b, DefaultLimits())
			wantCode(t, err, CodeUnsafePath, name)
		})
	}
}

// Security bar §7 case 2: entries that are not regular files.
func TestOpenZipNotRegular(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode fs.FileMode
	}{
		{"link.js", fs.ModeSymlink | 0o777},
		{"dev", fs.ModeDevice | 0o644},
		{"tty", fs.ModeDevice | fs.ModeCharDevice | 0o644},
		{"fifo", fs.ModeNamedPipe | 0o644},
		{"sock", fs.ModeSocket | 0o644},
		{"suid.js", fs.ModeSetuid | 0o755},
		{"sgid.js", fs.ModeSetgid | 0o755},
		{"dirlike.js", fs.ModeDir | 0o755}, // folder mode, file name
		{"linkdir/", fs.ModeSymlink | 0o777},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := buildZip(t, zf{name: "index.html", body: "ok"}, zf{name: tc.name, body: "", mode: tc.mode})
			_, err := openZipBytes(b, DefaultLimits())
			wantCode(t, err, CodeNotRegular, tc.name)
		})
	}
	t.Run("setgid and sticky folders, sticky file", func(t *testing.T) {
		b := buildZip(t, zf{name: "d/", mode: fs.ModeDir | fs.ModeSetgid | 0o775}, zf{name: "t/", mode: fs.ModeDir | fs.ModeSticky | 0o777},
			zf{name: "d/x.js", body: "x", mode: fs.ModeSticky | 0o644})
		src, err := openZipBytes(b, DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		checkSource(t, src, map[string]string{"x.js": "x"})
	})
	raw := func(creator uint16, attrs uint32) []byte {
		e := stored("x.js", "x")
		e.creator, e.attrs = creator, attrs
		return rawZip{entries: []rawEntry{stored("index.html", "ok"), e}}.bytes()
	}
	t.Run("unknown unix type", func(t *testing.T) {
		_, err := openZipBytes(raw(0x0314, 0o070644<<16), DefaultLimits())
		wantCode(t, err, CodeNotRegular, "x.js")
	})
	t.Run("msdos folder attribute", func(t *testing.T) {
		_, err := openZipBytes(raw(0x0014, 0x10), DefaultLimits())
		wantCode(t, err, CodeNotRegular, "x.js")
	})
	for _, tc := range []struct {
		name    string
		creator uint16
		attrs   uint32
	}{
		{"msdos archive bit", 0x0014, 0x20},
		{"ntfs read-only", 0x0b14, 0x01},
		{"unix without type bits", 0x0314, 0o644 << 16},
		{"no attributes", 0x0314, 0},
	} {
		t.Run("ok "+tc.name, func(t *testing.T) {
			src, err := openZipBytes(raw(tc.creator, tc.attrs), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			checkSource(t, src, map[string]string{"index.html": "ok", "x.js": "x"})
		})
	}
}

// Security bar §7 case 3: names that collide.
func TestOpenZipCollisions(t *testing.T) {
	for _, tc := range []struct {
		names []string
		code  string
		path  string
	}{
		{[]string{"app.js", "app.js"}, CodeDuplicatePath, "app.js"},
		{[]string{"app.js", "APP.js"}, CodeCaseCollision, "app.js"}, // sorted: "APP.js" < "app.js"
		{[]string{"caf\u00e9.js", "cafe\u0301.js"}, CodeCaseCollision, "caf\u00e9.js"},
		{[]string{"Stra\u00dfe.js", "STRASSE.js"}, CodeCaseCollision, "Stra\u00dfe.js"},
		{[]string{"\u212bngstrom.js", "\u00e5ngstrom.js"}, CodeCaseCollision, "\u212bngstrom.js"},
		{[]string{"a", "a/b.js"}, CodeDuplicatePath, "a/b.js"},
		{[]string{"A", "a/b.js"}, CodeCaseCollision, "a/b.js"},
		{[]string{"dist/x.js", "dist/X.js"}, CodeCaseCollision, "dist/x.js"}, // named as in the zip
	} {
		t.Run(strings.Join(tc.names, ","), func(t *testing.T) {
			var files []zf
			for _, n := range tc.names {
				files = append(files, zf{name: n, body: n})
			}
			_, err := openZipBytes(buildZip(t, files...), DefaultLimits())
			wantCode(t, err, tc.code, tc.path)
		})
	}
}

// zeroDeflate returns a raw deflate stream of mib MiB of zeros: one
// compressed MiB repeated, so that 10 GiB are made in milliseconds and fit
// in about 10 MB. Every copy refers back only to zeros, so the stream is
// valid at any length.
func zeroDeflate(t testing.TB, mib int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	w.Write(zeros)
	w.Flush()
	first := buf.Len()
	w.Write(zeros)
	w.Flush()
	second := buf.Len()
	w.Close()
	b := buf.Bytes()
	head, mid, tail := b[:first], b[first:second], b[second:]
	out := make([]byte, 0, len(head)+len(mid)*(mib-1)+len(tail))
	out = append(out, head...)
	for i := 1; i < mib; i++ {
		out = append(out, mid...)
	}
	return append(out, tail...)
}

func TestZeroDeflate(t *testing.T) {
	n, err := io.Copy(io.Discard, flate.NewReader(bytes.NewReader(zeroDeflate(t, 5))))
	if err != nil || n != 5<<20 {
		t.Fatalf("inflated %d bytes, %v; want 5 MiB", n, err)
	}
}

// Security bar §7 case 4: zip bombs stop at the limit, quickly, having read
// little.
func TestOpenZipBombs(t *testing.T) {
	tenGiB := zeroDeflate(t, 10<<10)
	oneGiB := zeroDeflate(t, 1<<10)
	bomb := func(name string, data []byte, declared uint64) rawEntry {
		return rawEntry{name: name, data: data, method: zip.Deflate, crc: 0xdeadbeef,
			csize: uint64(len(data)), usize: declared, zip64: declared >= max32}
	}
	noRatio := Limits{MaxFiles: 10, MaxBundleBytes: 64 << 20, MaxFileBytes: 64 << 20, MaxPathBytes: 1024, MaxPathDepth: 32}
	for _, tc := range []struct {
		name    string
		zip     []byte
		lim     Limits
		code    string
		maxRead int64 // bytes OpenZip may read from the archive
	}{
		{"10 GiB of zeros, honest header",
			rawZip{entries: []rawEntry{bomb("zeros.bin", tenGiB, 10<<30)}}.bytes(),
			DefaultLimits(), CodeTooLarge, 1 << 20},
		{"10 GiB of zeros, header claims 1 KiB",
			rawZip{entries: []rawEntry{bomb("zeros.bin", tenGiB, 1<<10)}}.bytes(),
			DefaultLimits(), CodeCorruptZip, 1 << 20},
		{"1 GiB of zeros, header claims 1 KiB",
			rawZip{entries: []rawEntry{bomb("zeros.bin", oneGiB, 1<<10)}}.bytes(),
			DefaultLimits(), CodeCorruptZip, 1 << 20},
		{"10 GiB of zeros, header claims 48 MiB within the limits, no ratio limit",
			rawZip{entries: []rawEntry{bomb("zeros.bin", tenGiB, 48<<20)}}.bytes(),
			noRatio, CodeCorruptZip, 2 << 20},
		{"200 MiB of zeros, honest header, over the ratio",
			rawZip{entries: []rawEntry{bomb("zeros.bin", zeroDeflate(t, 200), 200<<20)}}.bytes(),
			DefaultLimits(), CodeCompression, 1 << 20},
		{"many honest entries over MaxBundleBytes",
			rawZip{entries: []rawEntry{
				bomb("a.bin", zeroDeflate(t, 40), 40<<20), bomb("b.bin", zeroDeflate(t, 40), 40<<20)}}.bytes(),
			noRatio, CodeTooLarge, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &countingReaderAt{r: bytes.NewReader(tc.zip)}
			start := time.Now()
			_, err := OpenZip(context.Background(), r, int64(len(tc.zip)), tc.lim)
			wantCode(t, err, tc.code, "")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused after %v, want < 5s", d)
			}
			if n := r.n.Load(); n > tc.maxRead {
				t.Errorf("read %d bytes of a %d-byte zip before refusing, want <= %d", n, len(tc.zip), tc.maxRead)
			}
			t.Logf("%v", err)
		})
	}
}

// Fifield's non-recursive bomb makes entries share bytes; here entry b's
// header and data sit inside entry a's stored data, and c points at a's
// header.
func TestOpenZipOverlappingEntries(t *testing.T) {
	inner := rawZip{entries: []rawEntry{stored("b.txt", "kernel")}}.bytes()
	innerLocal := inner[:zipLocalLen+len("b.txt")+len("kernel")]
	a := stored("a.txt", string(innerLocal))
	bOff := int64(zipLocalLen + len("a.txt"))
	b := stored("b.txt", "kernel")
	b.offset = &bOff
	quoted := rawZip{entries: []rawEntry{a, b}}.bytes()
	// Drop b's own copy so that only the quoted one is referenced.
	quoted = dropLocal(t, quoted, 1)
	wantZero := int64(0)
	c := stored("c.txt", string(innerLocal))
	c.offset = &wantZero
	sameHeader := rawZip{entries: []rawEntry{a, c}}.bytes()
	for name, z := range map[string][]byte{"quoted": quoted, "same header": sameHeader} {
		t.Run(name, func(t *testing.T) {
			_, err := openZipBytes(z, DefaultLimits())
			wantCode(t, err, CodeCorruptZip, "")
			t.Log(err)
		})
	}
}

// dropLocal removes the local header and data of entry i from a rawZip
// image whose entries are stored, fixing up the offsets that follow. It
// only supports dropping the last entry's local copy.
func dropLocal(t testing.TB, z []byte, i int) []byte {
	t.Helper()
	// Parse the end record to find the central directory.
	end := z[len(z)-zipEndLen:]
	cdOff := int64(le32(end[16:]))
	// The last local entry ends at cdOff; find its start by the signature.
	start := int64(bytes.LastIndex(z[:cdOff], []byte("PK\x03\x04")))
	if start <= 0 {
		t.Fatal("dropLocal: no local header")
	}
	cut := cdOff - start
	out := append(append([]byte(nil), z[:start]...), z[cdOff:]...)
	end = out[len(out)-zipEndLen:]
	copy(end[16:], le(nil, uint32(cdOff-cut)))
	_ = i
	return out
}

// Security bar §7 case 5: a central directory that claims too many entries
// is refused before any per-entry work.
func TestOpenZipTooManyEntries(t *testing.T) {
	t.Run("claims 10^9", func(t *testing.T) {
		n := uint64(1_000_000_000)
		z := rawZip{entries: []rawEntry{stored("a", "")}, records: &n, zip64End: true}.bytes()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := openZipBytes(z, DefaultLimits())
		runtime.ReadMemStats(&after)
		wantCode(t, err, CodeTooManyFiles, "")
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("allocated %d bytes to refuse, want < 1 MiB", d)
		}
	})
	t.Run("claims 65535 in a classic record", func(t *testing.T) {
		n := uint64(0xffff)
		z := rawZip{entries: []rawEntry{stored("a", "")}, records: &n}.bytes()
		_, err := openZipBytes(z, DefaultLimits())
		wantCode(t, err, CodeTooManyFiles, "")
	})
	t.Run("holds 100k", func(t *testing.T) {
		es := make([]rawEntry, 100_000)
		for i := range es {
			es[i] = stored(fmt.Sprintf("f%06d", i), "")
		}
		z := rawZip{entries: es}.bytes()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := openZipBytes(z, DefaultLimits())
		runtime.ReadMemStats(&after)
		wantCode(t, err, CodeTooManyFiles, "")
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("allocated %d bytes to refuse, want < 1 MiB", d)
		}
	})
	lim := DefaultLimits()
	lim.MaxFiles = 5
	t.Run("one file past MaxFiles", func(t *testing.T) {
		var files []zf
		for i := range 6 {
			files = append(files, zf{name: fmt.Sprintf("f%d", i)})
		}
		_, err := openZipBytes(buildZip(t, files...), lim)
		wantCode(t, err, CodeTooManyFiles, "f5")
	})
	t.Run("MaxFiles files and as many folders", func(t *testing.T) {
		var files []zf
		want := map[string]string{}
		for i := range 5 {
			files = append(files, zf{name: fmt.Sprintf("d%d/", i)}, zf{name: fmt.Sprintf("d%d/f", i), body: "x"})
			want[fmt.Sprintf("d%d/f", i)] = "x"
		}
		src, err := openZipBytes(buildZip(t, files...), lim)
		if err != nil {
			t.Fatal(err)
		}
		checkSource(t, src, want)
	})
	t.Run("too many folders", func(t *testing.T) {
		var files []zf
		for i := range 11 {
			files = append(files, zf{name: fmt.Sprintf("d%d/", i)})
		}
		_, err := openZipBytes(buildZip(t, files...), lim)
		wantCode(t, err, CodeTooManyFiles, "")
	})
}

// Security bar §7 case 7 and the zip structure rules.
func TestOpenZipCorrupt(t *testing.T) {
	good := buildZip(t, zf{name: "index.html", body: "<html>hello</html>"}, zf{name: "a.js", body: strings.Repeat("abc", 1000)})
	if _, err := openZipBytes(good, DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	goodRaw := func() rawZip {
		return rawZip{entries: []rawEntry{stored("index.html", "<html>"), deflated(t, "a.js", []byte(strings.Repeat("abc", 100)))}}
	}
	patch := func(b []byte, off int, v ...byte) []byte {
		b = append([]byte(nil), b...)
		if off < 0 {
			off += len(b)
		}
		copy(b[off:], v)
		return b
	}
	eocd := good[len(good)-zipEndLen:]
	cases := map[string][]byte{
		"empty file":                {},
		"prepended junk":            append([]byte("#!/bin/sh\nexit\n"), good...),
		"trailing junk":             append(append([]byte(nil), good...), "junk"...),
		"two end records":           append(append([]byte(nil), good...), eocd...),
		"not a zip":                 []byte("<!doctype html><html>this is not a zip archive at all</html>"),
		"end record only past junk": append([]byte("junkjunk"), eocd...),
		"multi-disk":                patch(good, -zipEndLen+4, 1),
		"records disagree":          patch(good, -zipEndLen+8, 1, 0, 1, 0),
		"cd size lies":              patch(good, -zipEndLen+12, 1),
		"cd offset lies":            patch(good, -zipEndLen+16, 1),
		"comment runs past end":     patch(good, -2, 9),
	}
	for _, cut := range []int{1, 4, 21, 22, len(good) / 3, len(good) / 2, len(good) - 23, len(good) - 1} {
		cases[fmt.Sprintf("truncated to %d bytes", cut)] = good[:cut]
	}
	// End record whose comment hides a second end record.
	r := goodRaw()
	fake := r.bytes()
	r.comment = fake[len(fake)-zipEndLen:]
	cases["end record in the comment"] = r.bytes()
	// Second end record as the zip64 locator would see it.
	r = goodRaw()
	r.beforeCD = []byte("junk")
	cases["junk before the central directory"] = r.bytes()
	r = goodRaw()
	r.entries[0].after = []byte("junk")
	cases["junk between entries"] = r.bytes()
	r = goodRaw()
	r.prefix = rawZip{entries: []rawEntry{stored("hidden.js", "evil()")}}.bytes()[:zipLocalLen+len("hidden.js")+len("evil()")]
	cases["hidden local entry before the first"] = r.bytes()
	r = goodRaw()
	other := "other.js"
	r.entries[0].localName = &other
	cases["local name differs"] = r.bytes()
	r = goodRaw()
	r.entries[0].crc++
	cases["crc mismatch stored"] = r.bytes()
	r = goodRaw()
	r.entries[1].crc++
	cases["crc mismatch deflated"] = r.bytes()
	r = goodRaw()
	r.entries[0].crc = 0 // archive/zip skips the check when the CRC is 0
	cases["crc zero"] = r.bytes()
	r = goodRaw()
	r.entries[1].data = append([]byte(nil), r.entries[1].data...)
	r.entries[1].data[len(r.entries[1].data)/2] ^= 0xff
	cases["damaged deflate data"] = r.bytes()
	r = goodRaw()
	r.entries[1].usize += 10
	cases["declares more than it inflates to"] = r.bytes()
	r = goodRaw()
	r.entries[1].usize -= 10
	cases["declares less than it inflates to"] = r.bytes()
	r = goodRaw()
	r.entries[0].usize++
	cases["stored sizes differ"] = r.bytes()
	r = goodRaw()
	r.entries[0].method = 12 // bzip2
	cases["bzip2"] = r.bytes()
	r = goodRaw()
	r.entries[0].method = 99 // AES
	cases["aes"] = r.bytes()
	r = goodRaw()
	r.entries[0].flags |= 1
	cases["encrypted"] = r.bytes()
	r = goodRaw()
	extra := le(nil, uint16(zipExtraUnicodePath), uint16(5+len("evil.js")))
	extra = append(extra, 1, 0, 0, 0, 0) // version 1, CRC-32 of the header name
	r.entries[0].extra = append(extra, "evil.js"...)
	cases["unicode path field names another file"] = r.bytes()
	r = goodRaw()
	r.entries = append(r.entries, stored("dir/", "data"))
	cases["folder entry with data"] = r.bytes()
	r = goodRaw()
	r.zip64End = true
	z64 := r.bytes()
	cases["zip64 and classic records disagree"] = patch(z64, -zipEndLen+16, 1)
	// A data descriptor that does not repeat the CRC.
	if i := bytes.Index(good, []byte("PK\x07\x08")); i > 0 {
		cases["data descriptor crc"] = patch(good, i+4, good[i+4]^0xff)
	} else {
		t.Fatal("archive/zip wrote no data descriptor")
	}
	// The classic record count says what zip64 does not.
	for name, z := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := openZipBytes(z, DefaultLimits())
			wantCode(t, err, CodeCorruptZip, "")
			t.Log(err)
		})
	}
}

// The zip is inflated to compare, but never looked into: 42.zip's nesting
// is just a file.
func TestOpenZipNestedIsAFile(t *testing.T) {
	inner := buildZip(t, zf{name: "a.txt", body: strings.Repeat("a", 1<<20)})
	outer := buildZip(t, zf{name: "index.html", body: "ok"}, zf{name: "inner.zip", body: string(inner)})
	src, err := openZipBytes(outer, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	checkSource(t, src, map[string]string{"index.html": "ok", "inner.zip": string(inner)})
}

func TestOpenZipFlatten(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []zf
		want  map[string]string
	}{
		{"one top folder", []zf{{name: "dist/"}, {name: "dist/index.html", body: "i"}, {name: "dist/js/"}, {name: "dist/js/app.js", body: "a"}},
			map[string]string{"index.html": "i", "js/app.js": "a"}},
		{"no folder", []zf{{name: "index.html", body: "i"}, {name: "js/app.js", body: "a"}},
			map[string]string{"index.html": "i", "js/app.js": "a"}},
		{"two top folders", []zf{{name: "a/x.js", body: "x"}, {name: "b/y.js", body: "y"}},
			map[string]string{"a/x.js": "x", "b/y.js": "y"}},
		{"top folder and a root file", []zf{{name: "dist/index.html", body: "i"}, {name: "index.html", body: "j"}},
			map[string]string{"dist/index.html": "i", "index.html": "j"}},
		{"one level only", []zf{{name: "dist/dist/index.html", body: "i"}},
			map[string]string{"dist/index.html": "i"}},
		{"finder litter", []zf{{name: "__MACOSX/"}, {name: "__MACOSX/dist/._index.html", body: "meta"}, {name: ".DS_Store", body: "ds"},
			{name: "dist/"}, {name: "dist/.DS_Store", body: "ds"}, {name: "dist/index.html", body: "i"}, {name: "dist/a/__MACOSX/x", body: "m"}},
			map[string]string{"index.html": "i"}},
		{"only the litter names are skipped", []zf{{name: "dist/__MACOSX", body: "file"}, {name: "dist/.DS_Store/x", body: "in a folder"}, {name: "dist/__MACOSX.js", body: "j"}},
			map[string]string{"__MACOSX": "file", ".DS_Store/x": "in a folder", "__MACOSX.js": "j"}},
		{"other dot files are kept", []zf{{name: "dist/._index.html", body: "m"}, {name: "dist/Thumbs.db", body: "t"}, {name: "dist/.well-known/x", body: "w"}},
			map[string]string{"._index.html": "m", "Thumbs.db": "t", ".well-known/x": "w"}},
		{"empty files", []zf{{name: "e1"}, {name: "e2", store: true}, {name: "d/e3"}},
			map[string]string{"e1": "", "e2": "", "d/e3": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := openZipBytes(buildZip(t, tc.files...), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			checkSource(t, src, tc.want)
		})
	}
	t.Run("depth limit applies after flattening", func(t *testing.T) {
		lim := DefaultLimits()
		lim.MaxPathDepth = 3
		src, err := openZipBytes(buildZip(t, zf{name: "top/a/b/c.js", body: "c"}), lim)
		if err != nil {
			t.Fatal(err)
		}
		checkSource(t, src, map[string]string{"a/b/c.js": "c"})
		_, err = openZipBytes(buildZip(t, zf{name: "top/a/b/c.js", body: "c"}, zf{name: "root.js"}), lim)
		wantCode(t, err, CodeUnsafePath, "top/a/b/c.js")
	})
	t.Run("only litter", func(t *testing.T) {
		_, err := openZipBytes(buildZip(t, zf{name: "__MACOSX/._x", body: "m"}, zf{name: "d/"}, zf{name: ".DS_Store"}), DefaultLimits())
		wantCode(t, err, CodeEmptyBundle, "")
	})
	t.Run("empty zip", func(t *testing.T) {
		_, err := openZipBytes(buildZip(t), DefaultLimits())
		wantCode(t, err, CodeEmptyBundle, "")
	})
}

func TestOpenZipManyFiles(t *testing.T) {
	var files []zf
	want := map[string]string{}
	for i := range 3000 {
		p := fmt.Sprintf("d%02d/f%04d.js", i%50, i)
		files = append(files, zf{name: p, body: p, store: i%2 == 0})
		want[p] = p
	}
	src, err := openZipBytes(buildZip(t, files...), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	checkSource(t, src, want)
}

func TestOpenZipZip64(t *testing.T) {
	r := rawZip{entries: []rawEntry{stored("index.html", "<html>"), deflated(t, "a.js", []byte("hello hello hello"))}, zip64End: true}
	r.entries[1].zip64 = true
	src, err := openZipBytes(r.bytes(), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	checkSource(t, src, map[string]string{"index.html": "<html>", "a.js": "hello hello hello"})
}

// The zips other tools write open, and give the folder's manifest.
func TestOpenZipFixtures(t *testing.T) {
	dir := t.TempDir()
	want := map[string]string{
		"index.html":    "<!doctype html><title>x</title>\n",
		"js/app.js":     "console.log(\"app\")\n",
		"js/big.js":     strings.Repeat("a", 20000),
		"css/empty.css": "",
	}
	writeTree(t, dir, want)
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	folder, err := OpenDir(t.Context(), dir, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer folder.Close()
	for _, name := range []string{"infozip.zip", "infozip-streamed.zip", "python-streamed.zip"} {
		t.Run(name, func(t *testing.T) {
			src, err := OpenPath(t.Context(), filepath.Join("..", "testdata", "zips", name), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			checkSource(t, src, want)
			if src.Manifest().Digest() != folder.Manifest().Digest() {
				t.Fatalf("zip manifest\n%s\nfolder manifest\n%s", src.Manifest().Encode(), folder.Manifest().Encode())
			}
		})
	}
	_, err = OpenPath(t.Context(), "../testdata/zips/infozip-symlink.zip", DefaultLimits())
	wantCode(t, err, CodeNotRegular, "dist/link.html")
	_, err = OpenPath(t.Context(), "../testdata/zips/infozip-fz-broken.zip", DefaultLimits())
	wantCode(t, err, CodeCorruptZip, "")
}

// The same bundle as a folder and as a zip (of that folder, one level up)
// has one manifest digest.
func TestFolderAndZipAgree(t *testing.T) {
	files := map[string]string{
		"index.html":          "<html></html>",
		"assets/logo.svg":     "<svg/>",
		"assets/empty.txt":    "",
		"js/vendor/lib.js":    strings.Repeat("lib();", 5000),
		"caf\u00e9/menu.json": "{}",
	}
	dir := t.TempDir()
	writeTree(t, dir, files)
	folder, err := OpenDir(t.Context(), dir, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer folder.Close()
	var zs []zf
	zs = append(zs, zf{name: "build/"})
	for p, body := range files {
		zs = append(zs, zf{name: "build/" + p, body: body})
	}
	src, err := openZipBytes(buildZip(t, zs...), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if src.Manifest().Digest() != folder.Manifest().Digest() {
		t.Fatalf("zip manifest\n%s\nfolder manifest\n%s", src.Manifest().Encode(), folder.Manifest().Encode())
	}
	checkSource(t, src, files)
	checkSource(t, folder, files)
}

func TestZipSourceOpen(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	z := rawZip{entries: []rawEntry{stored("index.html", body), deflated(t, "b.js", []byte(body))}}.bytes()
	src, err := openZipBytes(z, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Open("missing.js"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := src.Open("../index.html"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(../index.html) = %v, want fs.ErrNotExist", err)
	}
	// Concurrent readers.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- rereadAll(src) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The bytes change under the source: reading fails.
	z[zipLocalLen+len("index.html")+5] ^= 1
	rc, err := src.Open("index.html")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err == nil {
		t.Fatal("read changed bytes without an error")
	}
	rc.Close()
}

func TestOpenZipContext(t *testing.T) {
	var files []zf
	rng := rand.NewChaCha8([32]byte{1})
	for i := range 50 {
		b := make([]byte, 1<<16)
		rng.Read(b)
		files = append(files, zf{name: fmt.Sprintf("f%d", i), body: string(b)})
	}
	z := buildZip(t, files...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenZip(ctx, bytes.NewReader(z), int64(len(z)), DefaultLimits()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r := &cancelAfter{r: bytes.NewReader(z), after: int64(len(z)) / 2, cancel: cancel}
	if _, err := OpenZip(ctx, r, int64(len(z)), DefaultLimits()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while inflating: %v", err)
	}
}

// cancelAfter cancels once more than after bytes were read.
type cancelAfter struct {
	r      io.ReaderAt
	n      int64
	after  int64
	cancel func()
	mu     sync.Mutex
}

func (c *cancelAfter) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.n += int64(len(p))
	if c.n > c.after {
		c.cancel()
	}
	c.mu.Unlock()
	return c.r.ReadAt(p, off)
}

// A failing reader is an I/O error, not a corrupt zip.
func TestOpenZipReadError(t *testing.T) {
	z := buildZip(t, zf{name: "index.html", body: strings.Repeat("x", 1<<16)})
	boom := errors.New("disk on fire")
	for _, at := range []int64{0, int64(len(z)) - 10, 100} {
		r := &failingReaderAt{r: bytes.NewReader(z), at: at, err: boom}
		_, err := OpenZip(context.Background(), r, int64(len(z)), DefaultLimits())
		if !errors.Is(err, boom) || codeOf(err) != "" {
			t.Fatalf("fail at %d: got %v, want the read error", at, err)
		}
	}
}

// failingReaderAt fails reads that cover offset at.
type failingReaderAt struct {
	r   io.ReaderAt
	at  int64
	err error
}

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off <= f.at && f.at < off+int64(len(p)) {
		return 0, f.err
	}
	return f.r.ReadAt(p, off)
}

func TestOpenPath(t *testing.T) {
	dir := t.TempDir()
	z := buildZip(t, zf{name: "index.html", body: "zip"})
	zipPath := filepath.Join(dir, "bundle.bin") // the extension does not matter
	if err := os.WriteFile(zipPath, z, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := OpenPath(t.Context(), zipPath, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	checkSource(t, src, map[string]string{"index.html": "zip"})
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if rc, err := src.Open("index.html"); err == nil {
		if _, err := io.ReadAll(rc); err == nil {
			t.Fatal("read from a closed zip source")
		}
	}
	folder := filepath.Join(dir, "site")
	writeTree(t, folder, map[string]string{"index.html": "dir"})
	src, err = OpenPath(t.Context(), folder, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	checkSource(t, src, map[string]string{"index.html": "dir"})
	src.Close()
	if _, err := OpenPath(t.Context(), filepath.Join(dir, "missing"), DefaultLimits()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing path: %v", err)
	}
	notZip := filepath.Join(dir, "index.html")
	os.WriteFile(notZip, []byte("<!doctype html><html>hello</html>"), 0o644)
	_, err = OpenPath(t.Context(), notZip, DefaultLimits())
	wantCode(t, err, CodeCorruptZip, "")
}

func TestCheckIndex(t *testing.T) {
	mk := func(paths ...string) *Manifest {
		var es []Entry
		for _, p := range paths {
			es = append(es, Entry{Path: p, Digest: Sum([]byte(p)), Size: 1})
		}
		m, err := New(es, DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if err := CheckIndex(mk("index.html", "a.js")); err != nil {
		t.Fatal(err)
	}
	err := CheckIndex(mk("app/index.html", "app/a/index.html", "a.js"))
	wantCode(t, err, CodeNoIndex, "index.html")
	if !strings.Contains(err.Error(), `"app/index.html"`) {
		t.Fatalf("%v does not point at app/index.html", err)
	}
	wantCode(t, CheckIndex(mk("Index.html")), CodeNoIndex, "index.html")
	wantCode(t, CheckIndex(&Manifest{}), CodeNoIndex, "index.html")
}

// The CRC helper agrees with what archive/zip writes (keeps rawZip honest).
func TestRawZipIsReadable(t *testing.T) {
	z := rawZip{entries: []rawEntry{stored("a", "x"), deflated(t, "b", []byte("yy"))}}.bytes()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil || crc32.ChecksumIEEE(b) != f.CRC32 {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
}
