package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/patchwire/patchwire/manifest"
)

// Version is one release of a bundle, held in memory.
type Version struct {
	Name     string             // the version, e.g. "5.32.13"
	Manifest *manifest.Manifest // its validated manifest
	Files    map[string][]byte  // path → bytes
}

// Size is the sum of the file sizes.
func (v *Version) Size() int64 { return v.Manifest.TotalSize() }

// Series is a named list of versions, oldest first.
type Series struct {
	Name     string
	Versions []*Version
}

// LoadVersion reads a version folder or zip with manifest.OpenPath (the
// rules of an upload: safe paths, regular files, limits).
func LoadVersion(ctx context.Context, name, path string) (*Version, error) {
	src, err := manifest.OpenPath(ctx, path, manifest.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("bench: version %s: %w", name, err)
	}
	defer src.Close()
	v := &Version{Name: name, Manifest: src.Manifest(), Files: map[string][]byte{}}
	for _, e := range v.Manifest.Entries() {
		b, err := manifest.ReadEntry(src, e)
		if err != nil {
			return nil, fmt.Errorf("bench: version %s: %s: %w", name, e.Path, err)
		}
		v.Files[e.Path] = b
	}
	return v, nil
}

// LoadSeries reads every version folder or .zip of dir, ordered as
// versions are (numeric runs compared as numbers: 1.9.0 < 1.10.0); the
// version name is the entry's name without ".zip".
func LoadSeries(ctx context.Context, dir string) (*Series, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: series: %w", err)
	}
	type item struct{ name, path string }
	var items []item
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		switch {
		case e.IsDir():
			items = append(items, item{n, filepath.Join(dir, n)})
		case strings.HasSuffix(strings.ToLower(n), ".zip"):
			items = append(items, item{n[:len(n)-4], filepath.Join(dir, n)})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return CompareVersions(a.name, b.name) })
	if len(items) < 2 {
		return nil, fmt.Errorf("bench: series %s: %d versions, want at least 2", dir, len(items))
	}
	s := &Series{Name: filepath.Base(filepath.Clean(dir))}
	for _, it := range items {
		v, err := LoadVersion(ctx, it.name, it.path)
		if err != nil {
			return nil, err
		}
		s.Versions = append(s.Versions, v)
	}
	return s, nil
}

// CompareVersions orders version names: runs of digits compare as
// numbers, other runs as strings; a pre-release ("1.0.0-beta") sorts
// before its release.
func CompareVersions(a, b string) int {
	ra, rb := splitRuns(a), splitRuns(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		x, y := ra[i], rb[i]
		dx, dy := isDigits(x), isDigits(y)
		switch {
		case dx && dy:
			x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
			if len(x) != len(y) {
				return len(x) - len(y)
			}
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		case x != y:
			// "-beta" after "1.0.0" makes it older than "1.0.0" alone.
			if strings.HasPrefix(x, "-") != strings.HasPrefix(y, "-") {
				if strings.HasPrefix(x, "-") {
					return -1
				}
				return 1
			}
			return strings.Compare(x, y)
		}
	}
	if len(ra) != len(rb) {
		// The longer one has a suffix: a pre-release is older.
		if len(ra) > len(rb) && strings.HasPrefix(ra[len(rb)], "-") {
			return -1
		}
		if len(rb) > len(ra) && strings.HasPrefix(rb[len(ra)], "-") {
			return 1
		}
		return len(ra) - len(rb)
	}
	return 0
}

func isDigits(s string) bool { return s != "" && unicode.IsDigit(rune(s[0])) }

func splitRuns(s string) []string {
	var out []string
	start := 0
	for i := 1; i <= len(s); i++ {
		if i == len(s) || unicode.IsDigit(rune(s[i])) != unicode.IsDigit(rune(s[i-1])) {
			out = append(out, s[start:i])
			start = i
		}
	}
	return out
}
