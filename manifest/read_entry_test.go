package manifest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestReadEntry(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "<h1>hi</h1>")
	write("app.js", "console.log(1)")
	src, err := OpenDir(context.Background(), dir, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e, _ := src.Manifest().Lookup("app.js")
	got, err := ReadEntry(src, e)
	if err != nil || string(got) != "console.log(1)" {
		t.Fatalf("ReadEntry = %q, %v", got, err)
	}
	cases := []struct{ name, content string }{
		{"same size, other bytes", "console.log(2)"},
		{"shorter", "x"},
		{"longer", "console.log(1); console.log(2)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			write("app.js", tc.content)
			if _, err := ReadEntry(src, e); codeOf(err) != CodeDigestMismatch {
				t.Fatalf("file changed (%s): error %v, want %s", tc.name, err, CodeDigestMismatch)
			}
		})
	}
}
