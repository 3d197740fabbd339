package bench

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadSmall builds a three-version series from the fixture bundles of
// testdata/bundles the way `bench bandwidth --series` reads one: version
// folders 1.0.0 (= v1) and 1.0.1 (= v2), and 1.0.2.zip (= v3, zipped, to
// exercise zip input).
func loadSmall(t *testing.T) *Series {
	t.Helper()
	fixtures := filepath.Join("..", "testdata", "bundles")
	dir := t.TempDir()
	for src, dst := range map[string]string{"v1": "1.0.0", "v2": "1.0.1"} {
		if err := os.CopyFS(filepath.Join(dir, dst), os.DirFS(filepath.Join(fixtures, src))); err != nil {
			t.Fatal(err)
		}
	}
	zf, err := os.Create(filepath.Join(dir, "1.0.2.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	if err := zw.AddFS(os.DirFS(filepath.Join(fixtures, "v3"))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zf.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSeries(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadSeries(t *testing.T) {
	s := loadSmall(t)
	var names []string
	for _, v := range s.Versions {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, " "); got != "1.0.0 1.0.1 1.0.2" {
		t.Fatalf("versions %q", got)
	}
	if _, ok := s.Versions[2].Files["index.html"]; !ok {
		t.Fatalf("the zip version has no index.html: %v", s.Versions[2].Manifest.Entries())
	}
}

func TestCompareVersions(t *testing.T) {
	in := []string{"1.10.0", "1.9.0", "1.0.0-beta", "1.0.0", "0.9", "1.0.0-alpha"}
	want := []string{"0.9", "1.0.0-alpha", "1.0.0-beta", "1.0.0", "1.9.0", "1.10.0"}
	for i := range want {
		for j := range want {
			c := CompareVersions(want[i], want[j])
			if (i < j) != (c < 0) || (i == j) != (c == 0) {
				t.Errorf("CompareVersions(%q, %q) = %d", want[i], want[j], c)
			}
		}
	}
	_ = in
}

func TestParseNPMSpec(t *testing.T) {
	sp, err := ParseNPMSpec("@ionic/core@8.7.14,8.7.15", "/dist/ionic/")
	if err != nil || sp.Name != "@ionic/core" || len(sp.Versions) != 2 || sp.Subdir != "dist/ionic" {
		t.Fatalf("%+v, %v", sp, err)
	}
	if tgzName(sp.Name, "8.7.14") != "ionic-core-8.7.14.tgz" {
		t.Fatal(tgzName(sp.Name, "8.7.14"))
	}
	for _, bad := range []string{"noversion", "x@1.0.0", "@scope/x"} {
		if _, err := ParseNPMSpec(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func writeTGZ(t *testing.T, files map[string]string, extra ...*tar.Header) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		tw.Write([]byte(c))
	}
	for _, h := range extra {
		tw.WriteHeader(h)
	}
	tw.Close()
	zw.Close()
	name := filepath.Join(t.TempDir(), "p.tgz")
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestExtractTGZ(t *testing.T) {
	tgz := writeTGZ(t, map[string]string{"package/a.js": "a", "package/dist/b.js": "bb"},
		&tar.Header{Name: "package/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	dir := filepath.Join(t.TempDir(), "x")
	if err := ExtractTGZ(tgz, dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "package", "dist", "b.js")); err != nil || string(b) != "bb" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "package", "link")); err == nil {
		t.Fatal("symlink extracted")
	}
	for _, bad := range []string{"../evil.js", "/abs.js", "package/../../x.js"} {
		tgz := writeTGZ(t, map[string]string{bad: "x"})
		if err := ExtractTGZ(tgz, filepath.Join(t.TempDir(), "y")); err == nil {
			t.Errorf("%q extracted", bad)
		}
	}
}

func TestReferences(t *testing.T) {
	s := loadSmall(t)
	v1, v2 := s.Versions[0], s.Versions[1]
	lacking, same := Changed(v1, v2)
	// v2: app.js and index.html changed, new.txt new; logo-copy.png is a
	// copy of bytes v1 has.
	if len(lacking) != 3 || same != 2 {
		t.Fatalf("lacking %v, same path %d", lacking, same)
	}
	zip, err := FullZip(v2)
	if err != nil || zip <= 0 || zip >= v2.Size() {
		t.Fatalf("zip %d of %d: %v", zip, v2.Size(), err)
	}
	bc := &brotliCache{}
	if n := bc.CapgoPartial(v1, v2); n <= 0 || n >= zip {
		t.Fatalf("capgo %d, zip %d", n, zip)
	}
	tools := FindTools()
	if tools.Zstd == "" || tools.Bsdiff == "" {
		t.Skip("zstd or bsdiff not installed")
	}
	dir := t.TempDir()
	o, n := filepath.Join(dir, "o.tar"), filepath.Join(dir, "n.tar")
	if err := writeTarFile(o, v1); err != nil {
		t.Fatal(err)
	}
	if err := writeTarFile(n, v2); err != nil {
		t.Fatal(err)
	}
	z, err := tools.ZstdPatch(context.Background(), dir, o, n)
	if err != nil || z.Bytes <= 0 || z.Bytes > zip/2 {
		t.Fatalf("zstd %+v, %v", z, err)
	}
	b, err := tools.BsdiffPatch(context.Background(), dir, o, n)
	if err != nil || b.Bytes <= 0 || b.Bytes > zip/2 {
		t.Fatalf("bsdiff %+v, %v", b, err)
	}
	pf, err := tools.perFileBest(context.Background(), dir, bc, v1, v2)
	if err != nil || pf <= 0 {
		t.Fatalf("per file %d, %v", pf, err)
	}
}

// TestRunBandwidth runs the whole bandwidth benchmark on the fixture
// series against a real in-process server and writes the report.
func TestRunBandwidth(t *testing.T) {
	s := loadSmall(t)
	res, err := RunBandwidth(context.Background(), s, BandwidthOptions{Work: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pairs) != 3 || !res.Pairs[2].Skip || res.Pairs[0].Skip {
		t.Fatalf("pairs %+v", res.Pairs)
	}
	for _, p := range res.Pairs {
		if p.Patchwire <= 0 || p.FullZip <= 0 || p.Capgo <= 0 || p.BestRef <= 0 || p.Ratio <= 0 {
			t.Errorf("%s→%s: %+v", p.From, p.To, p)
		}
		if !p.PatchesReady {
			t.Errorf("%s→%s: patches not ready", p.From, p.To)
		}
		// Patches, not whole files: far below the partial update.
		if p.Patchwire >= p.Capgo {
			t.Errorf("%s→%s: patchwire %d bytes, capgo %d", p.From, p.To, p.Patchwire, p.Capgo)
		}
	}
	r := &Report{Command: "test", Host: ThisHost(FindTools()), Series: []*SeriesResult{res}}
	dir := t.TempDir()
	if err := r.Write(dir, "latest"); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "latest.md"))
	if !strings.Contains(string(md), "| 1.0.0→1.0.2 (skip) |") || !strings.Contains(string(md), "![bytes per update](latest.svg)") {
		t.Errorf("markdown:\n%s", md)
	}
	var back Report
	js, _ := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err := json.Unmarshal(js, &back); err != nil || len(back.Series) != 1 || back.Series[0].Pairs[0].Patchwire != res.Pairs[0].Patchwire {
		t.Errorf("json: %v", err)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "latest.svg"))
	if !bytes.HasPrefix(svg, []byte("<svg ")) || !bytes.Contains(svg, []byte("patchwire")) || bytes.Count(svg, []byte("<polyline")) < 5 {
		t.Errorf("svg:\n%s", svg)
	}
	t.Logf("\n%s", md)
}
