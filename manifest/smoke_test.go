package manifest

import "testing"

func TestSmoke(t *testing.T) {
	b := buildZip(t, zf{name: "dist/"}, zf{name: "dist/index.html", body: "<html>"}, zf{name: "dist/js/app.js", body: "x()", store: true})
	src, err := openZipBytes(b, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	checkSource(t, src, map[string]string{"index.html": "<html>", "js/app.js": "x()"})
	r := rawZip{entries: []rawEntry{stored("a.txt", "hello"), deflated(t, "b.txt", []byte("world"))}}
	src, err = openZipBytes(r.bytes(), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	checkSource(t, src, map[string]string{"a.txt": "hello", "b.txt": "world"})
	r.zip64End = true
	src, err = openZipBytes(r.bytes(), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	r.zip64End = false
	r.entries[1].zip64 = true
	src, err = openZipBytes(r.bytes(), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "<html>", "js/app.js": "x()", ".DS_Store": "junk", "__MACOSX/x": "y"})
	src, err = OpenPath(t.Context(), dir, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	checkSource(t, src, map[string]string{"index.html": "<html>", "js/app.js": "x()"})
}
