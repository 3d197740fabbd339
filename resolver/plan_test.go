package resolver

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/manifest"
)

// files is a bundle described as path → content.
type files map[string]string

func (f files) manifest(t testing.TB) *manifest.Manifest {
	t.Helper()
	var es []manifest.Entry
	for p, c := range f {
		es = append(es, manifest.Entry{Path: p, Digest: manifest.Sum([]byte(c)), Size: int64(len(c))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// with returns a copy of f with the changes applied ("" content deletes).
func (f files) with(changes files) files {
	out := files{}
	for p, c := range f {
		out[p] = c
	}
	for p, c := range changes {
		if c == "" {
			delete(out, p)
		} else {
			out[p] = c
		}
	}
	return out
}

// rebuild derives the target manifest as a device does: From's entries,
// minus Removed, plus every copied and delivered entry; the dictionary and
// the bases must be files of From.
func rebuild(t testing.TB, from *manifest.Manifest, c *Changes) *manifest.Manifest {
	t.Helper()
	byPath := map[string]manifest.Entry{}
	for _, e := range from.Entries() {
		byPath[e.Path] = e
	}
	for _, r := range c.Removed {
		if _, ok := byPath[r]; !ok {
			t.Fatalf("removed path %q is not in From", r)
		}
		delete(byPath, r)
	}
	for _, cp := range c.Copies {
		src, ok := from.Lookup(cp.Source)
		if !ok || src.Digest != cp.Entry.Digest {
			t.Fatalf("copy source %q does not hold %s", cp.Source, cp.Entry.Digest)
		}
		byPath[cp.Entry.Path] = cp.Entry
	}
	for _, d := range c.Deliver {
		if b, ok := from.Lookup(d.Base.Path); d.HasBase && (!ok || b != d.Base) {
			t.Fatalf("base %q is not in From", d.Base.Path)
		}
		byPath[d.Entry.Path] = d.Entry
	}
	for _, e := range c.Dictionary {
		if b, ok := from.Lookup(e.Path); !ok || b != e {
			t.Fatalf("dictionary file %q is not in From", e.Path)
		}
	}
	var es []manifest.Entry
	for _, e := range byPath {
		es = append(es, e)
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// summary is the changes in a comparable, readable form.
type summary struct {
	Kept    int
	Removed []string
	Copies  []string // "target<-source"
	Deliver []string // "target<-base" or "target"
}

func summarize(c *Changes) summary {
	s := summary{Kept: c.Kept, Removed: c.Removed}
	for _, cp := range c.Copies {
		s.Copies = append(s.Copies, cp.Entry.Path+"<-"+cp.Source)
	}
	for _, d := range c.Deliver {
		if d.HasBase {
			s.Deliver = append(s.Deliver, d.Entry.Path+"<-"+d.Base.Path)
		} else {
			s.Deliver = append(s.Deliver, d.Entry.Path)
		}
	}
	return s
}

var big = strings.Repeat("x", 1000)

func v1() files {
	return files{
		"index.html":                  "<html>v1" + big,
		"assets/index-3f2a1b.js":      "main v1" + big,
		"assets/vendor-AbCdEf12.js":   "vendor" + big,
		"assets/index-3f2a1b.js.map":  "map v1" + big,
		"assets/style-77aa88.css":     "css v1" + big,
		"assets/logo.svg":             "<svg/>",
		"assets/about-B9x_Qz1a.js":    "about v1" + big,
		"assets/settings-Ze3Xq0Pa.js": "settings v1" + big,
		"locales/en.json":             `{"hi":"hi"}`,
	}
}

func TestPlanTable(t *testing.T) {
	cases := []struct {
		name     string
		from, to files
		nilFrom  bool
		want     summary
	}{
		{
			name: "unchanged",
			from: v1(), to: v1(),
			want: summary{Kept: 9},
		},
		{
			name: "changed in place",
			from: v1(), to: v1().with(files{"index.html": "<html>v2" + big}),
			want: summary{Kept: 8, Deliver: []string{"index.html<-index.html"}},
		},
		{
			name: "added",
			from: v1(), to: v1().with(files{"locales/de.json": `{"hi":"hallo"}`}),
			want: summary{Kept: 9, Deliver: []string{"locales/de.json"}},
		},
		{
			name: "removed",
			from: v1(), to: v1().with(files{"assets/logo.svg": ""}),
			want: summary{Kept: 8, Removed: []string{"assets/logo.svg"}},
		},
		{
			name: "copied and moved",
			from: v1(),
			to: v1().with(files{
				"assets/logo.svg": "",       // moved ...
				"img/logo.svg":    "<svg/>", // ... here
				"favicon.svg":     "<svg/>", // and copied
			}),
			want: summary{Kept: 8, Removed: []string{"assets/logo.svg"},
				Copies: []string{"favicon.svg<-assets/logo.svg", "img/logo.svg<-assets/logo.svg"}},
		},
		{
			name: "renamed hashed chunks",
			from: v1(),
			to: v1().with(files{
				"assets/index-3f2a1b.js":     "",
				"assets/index-3f2a1b.js.map": "",
				"assets/about-B9x_Qz1a.js":   "",
				"assets/index-9c8d7e.js":     "main v2" + big,
				"assets/index-9c8d7e.js.map": "map v2" + big,
				"assets/about-Kq2_zP0w.js":   "about v2" + big,
			}),
			want: summary{Kept: 6,
				Removed: []string{"assets/about-B9x_Qz1a.js", "assets/index-3f2a1b.js", "assets/index-3f2a1b.js.map"},
				Deliver: []string{
					"assets/about-Kq2_zP0w.js<-assets/about-B9x_Qz1a.js",
					"assets/index-9c8d7e.js<-assets/index-3f2a1b.js",
					"assets/index-9c8d7e.js.map<-assets/index-3f2a1b.js.map",
				}},
		},
		{
			name: "renamed without a name match pairs by size",
			from: v1(),
			to: v1().with(files{
				"assets/settings-Ze3Xq0Pa.js": "",
				"assets/prefs-QQ12ab34.js":    "settings v2" + big + "more",
			}),
			want: summary{Kept: 8,
				Removed: []string{"assets/settings-Ze3Xq0Pa.js"},
				Deliver: []string{"assets/prefs-QQ12ab34.js<-assets/settings-Ze3Xq0Pa.js"}},
		},
		{
			name: "ambiguous names do not pair by name",
			from: files{"a/x-AAAAAA1.js": "one" + big, "a/y-BBBBBB2.js": "two" + big + big},
			to:   files{"a/z-CCCCCC3.js": "three" + big + big},
			want: summary{
				Removed: []string{"a/x-AAAAAA1.js", "a/y-BBBBBB2.js"},
				Deliver: []string{"a/z-CCCCCC3.js<-a/y-BBBBBB2.js"}, // by size
			},
		},
		{
			name: "skip v1 to v5",
			from: v1(),
			to: v1().with(files{
				"index.html":             "<html>v5" + big,
				"assets/index-3f2a1b.js": "",
				"assets/index-5e5e5e.js": "main v5" + big,
				"assets/logo.svg":        "",
				"assets/logo2.svg":       "<svg>2</svg>",
				"locales/fr.json":        `{"hi":"salut"}`,
			}),
			want: summary{Kept: 6,
				Removed: []string{"assets/index-3f2a1b.js", "assets/logo.svg"},
				Deliver: []string{
					"assets/index-5e5e5e.js<-assets/index-3f2a1b.js",
					"assets/logo2.svg<-assets/logo.svg",
					"index.html<-index.html",
					"locales/fr.json",
				}},
		},
		{
			name:    "unknown current bundle: everything whole",
			to:      files{"index.html": "<html>", "a.js": "a"},
			nilFrom: true,
			want:    summary{Deliver: []string{"a.js", "index.html"}},
		},
		{
			name: "from an empty bundle",
			from: files{}, to: files{"index.html": "<html>" + big},
			want: summary{Deliver: []string{"index.html"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var from *manifest.Manifest
			if !tc.nilFrom {
				from = tc.from.manifest(t)
			}
			to := tc.to.manifest(t)
			c := NewChanges(from, to)
			if got := summarize(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			base := from
			if base == nil {
				base = &manifest.Manifest{}
			}
			if got := rebuild(t, base, c); got.Digest() != to.Digest() {
				t.Errorf("rebuilt manifest differs from the target:\n%s\nwant\n%s", got.Encode(), to.Encode())
			}
			if c.To != to.Digest() || c.From != base.Digest() {
				t.Errorf("changes From/To do not name the manifests")
			}
			// The dictionary holds each distinct file of From once, bases last.
			checkDictionary(t, c, base)
		})
	}
}

func checkDictionary(t *testing.T, c *Changes, from *manifest.Manifest) {
	t.Helper()
	seen := map[manifest.Digest]bool{}
	var total int64
	for _, e := range c.Dictionary {
		if seen[e.Digest] {
			t.Errorf("dictionary holds %s twice", e.Digest)
		}
		seen[e.Digest] = true
		total += e.Size
	}
	if len(seen) != len(from.Digests()) || total != c.DictionarySize {
		t.Errorf("dictionary has %d files (%d bytes), From has %d distinct", len(seen), total, len(from.Digests()))
	}
	var bases []manifest.Digest
	for _, d := range c.Deliver {
		if d.HasBase {
			bases = append(bases, d.Base.Digest)
		}
	}
	tail := c.Dictionary[len(c.Dictionary)-len(bases):]
	for i, d := range bases {
		if tail[i].Digest != d {
			t.Errorf("dictionary tail %d is %s, want the base %s", i, tail[i].Path, d)
		}
	}
}

func TestPatchKeys(t *testing.T) {
	from := v1().manifest(t)
	to := v1().with(files{"index.html": "<html>v2" + big, "new.txt": "new"}).manifest(t)
	c := NewChanges(from, to)
	got := c.PatchKeys([]string{"zstd-dict"})
	want := []PatchKey{
		{Codec: "zstd-dict", From: from.Digest(), To: to.Digest(), Bundle: true},
		{Codec: "zstd-dict", From: manifest.Sum([]byte("<html>v1" + big)), To: manifest.Sum([]byte("<html>v2" + big))},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if k := NewChanges(nil, to).PatchKeys([]string{"zstd-dict"}); k != nil {
		t.Errorf("unknown From: %v", k)
	}
	if k := NewChanges(from, from).PatchKeys([]string{"zstd-dict"}); k != nil {
		t.Errorf("no change: %v", k)
	}
}

func TestRenameKeys(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		pair bool
	}{
		{"assets/index-3f2a1b.js", "assets/index-9c8d7e.js", true},
		{"assets/index-BdQq_4o_.js", "assets/index-C1x-Zq9A.js", false}, // '-' in a base64url hash: other segments
		{"assets/index-BdQq_4o_.js", "assets/index-C1xzZq9A.js", true},
		{"main.3f2a1b4c.js", "main.0a9b8c7d.js", true},
		{"build/p-3f2a1b4c.entry.js", "build/p-0a9b8c7d.entry.js", true},
		{"assets/index-3f2a1b.js", "assets/index-9c8d7e.css", false},
		{"assets/index-3f2a1b.js", "other/index-9c8d7e.js", false},
		{"assets/index-3f2a1b.js", "assets/index-9c8d7e12.js", false}, // other hash length
		{"button-primary.css", "button-warning.css", false},           // words, not hashes
		{"chunk-ABCDEFGH.js", "chunk-IJKLMNOP.js", true},
	} {
		ka, kb := renameKeys(tc.a), renameKeys(tc.b)
		shared := false
		for _, x := range ka {
			for _, y := range kb {
				shared = shared || x == y
			}
		}
		if shared != tc.pair {
			t.Errorf("%s / %s: pair %v, want %v (keys %q %q)", tc.a, tc.b, shared, tc.pair, ka, kb)
		}
	}
}

// TestPlanLargeBundleIsFast guards the pairing against quadratic time on
// bundles with thousands of renamed files.
func TestPlanLargeBundleIsFast(t *testing.T) {
	old, new := files{}, files{}
	for i := 0; i < 5000; i++ {
		old[fmt.Sprintf("icons/i%d-%08X.svg", i, i*7919)] = fmt.Sprintf("old %d %s", i, big[:i%900])
		new[fmt.Sprintf("icons/j%d-%08X.svg", i, i*104729)] = fmt.Sprintf("new %d %s", i, big[:(i+3)%900])
	}
	c := NewChanges(old.manifest(t), new.manifest(t))
	paired := 0
	for _, d := range c.Deliver {
		if d.HasBase {
			paired++
		}
	}
	if paired < 4000 {
		t.Errorf("only %d of 5000 paired by size", paired)
	}
	keys := c.PatchKeys([]string{"zstd-dict"})
	sort.Slice(keys, func(i, j int) bool { return keys[i].To.String() < keys[j].To.String() })
	if len(keys) != paired+1 {
		t.Errorf("%d keys", len(keys))
	}
}
