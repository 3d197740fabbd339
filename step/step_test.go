package step_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/step"
)

// bundle is a set of files by path.
type bundle map[string][]byte

func (b bundle) manifest(t testing.TB) *manifest.Manifest {
	t.Helper()
	var es []manifest.Entry
	for p, data := range b {
		es = append(es, manifest.Entry{Path: p, Digest: manifest.Sum(data), Size: int64(len(data))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// makeStep builds the step from old to new by hand: removed paths, copies
// by digest, every other file patched against the old file at its path.
func makeStep(t testing.TB, old, new bundle, objects map[string]bool) ([]byte, *manifest.Manifest, *manifest.Manifest) {
	t.Helper()
	from, to := old.manifest(t), new.manifest(t)
	s := &step.Step{From: from.Digest()}
	idx := map[string]int{}
	byDigest := map[manifest.Digest]int{}
	for i, e := range from.Entries() {
		idx[e.Path] = i
		if _, ok := byDigest[e.Digest]; !ok {
			byDigest[e.Digest] = i
		}
		if _, ok := new[e.Path]; !ok {
			s.Removed = append(s.Removed, i)
		}
	}
	var patched [][]byte
	for _, e := range to.Entries() {
		if oe, ok := from.Lookup(e.Path); ok && oe.Digest == e.Digest {
			continue
		}
		w := step.Write{Path: e.Path, Size: e.Size, Base: step.NoBase}
		switch src, ok := byDigest[e.Digest]; {
		case ok:
			w.Kind, w.Source = step.Copy, src
		case objects[e.Path]:
			w.Kind, w.Digest = step.Object, e.Digest
		default:
			w.Kind = step.Patched
			if i, ok := idx[e.Path]; ok {
				w.Base = i
			}
			patched = append(patched, new[e.Path])
		}
		s.Writes = append(s.Writes, w)
	}
	if len(patched) > 0 {
		s.Codec = delta.NameZstdDict
		dict, err := s.Dictionary(from)
		if err != nil {
			t.Fatal(err)
		}
		var parts [][]byte
		for _, e := range dict {
			parts = append(parts, old[e.Path])
		}
		if s.Patch, err = delta.EncodeBundle(delta.ZstdDict, parts, patched); err != nil {
			t.Fatal(err)
		}
	}
	b, err := step.Encode(from, s)
	if err != nil {
		t.Fatal(err)
	}
	return b, from, to
}

// rebuild applies step bytes b to old as a device would.
func rebuild(t testing.TB, old bundle, from *manifest.Manifest, b []byte, fetch func(manifest.Digest) []byte) (*manifest.Manifest, error) {
	s, err := step.Decode(from, b, step.DefaultLimits())
	if err != nil {
		return nil, err
	}
	dict, err := s.Dictionary(from)
	if err != nil {
		return nil, err
	}
	var parts [][]byte
	for _, e := range dict {
		parts = append(parts, old[e.Path])
	}
	files, err := s.Apply(parts)
	if err != nil {
		return nil, err
	}
	var ds []manifest.Digest
	for _, f := range files {
		ds = append(ds, manifest.Sum(f))
	}
	for _, w := range s.Writes {
		if w.Kind == step.Object && manifest.Sum(fetch(w.Digest)) != w.Digest {
			return nil, fmt.Errorf("object %s differs", w.Path)
		}
	}
	return s.Target(from, ds, manifest.DefaultLimits())
}

func TestRoundTrip(t *testing.T) {
	js := bytes.Repeat([]byte("export function render(a, b) { return a + b; }\n"), 200)
	js2 := append(bytes.Clone(js), "export const v = 2;\n"...)
	png := bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 7}, 300)
	cases := []struct {
		name     string
		old, new bundle
		objects  map[string]bool
	}{
		{"renamed chunk", bundle{"index.html": []byte("<html>"), "assets/index-3f2a1b9C.js": js},
			bundle{"index.html": []byte("<html>"), "assets/index-9c8d7eAA.js": js2}, nil},
		{"copy and remove", bundle{"a.js": js, "b.js": []byte("b")},
			bundle{"a.js": js, "c.js": js}, nil},
		{"object and patch", bundle{"a.js": js, "logo.png": []byte("old")},
			bundle{"a.js": js2, "logo.png": png}, map[string]bool{"logo.png": true}},
		{"from nothing", bundle{},
			bundle{"a.js": js, "logo.png": png}, map[string]bool{"a.js": true, "logo.png": true}},
		{"nothing changes", bundle{"a.js": js}, bundle{"a.js": js}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, from, to := makeStep(t, tc.old, tc.new, tc.objects)
			got, err := rebuild(t, tc.old, from, b, func(d manifest.Digest) []byte {
				for _, data := range tc.new {
					if manifest.Sum(data) == d {
						return data
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest() != to.Digest() {
				t.Fatalf("rebuilt %s, want %s", got.Digest(), to.Digest())
			}
			if ok, err := step.StartsFrom(b, from.Digest()); err != nil || !ok {
				t.Fatalf("StartsFrom = %v, %v", ok, err)
			}
		})
	}
}

// TestPathsCompress: a step renaming many content-hashed chunks is far
// smaller than its paths written out.
func TestPathsCompress(t *testing.T) {
	old, new := bundle{}, bundle{}
	raw := 0
	for i := range 400 {
		data := []byte(fmt.Sprintf("chunk %d\n", i))
		p := fmt.Sprintf("build/p-%08X.entry.js", i*7919)
		q := fmt.Sprintf("build/p-%08X.entry.js", i*7919+1)
		old[p], new[q] = data, data
		raw += len(q)
	}
	b, _, _ := makeStep(t, old, new, nil)
	if len(b)*3 > raw {
		t.Fatalf("step of 400 renames is %d bytes; the new paths alone are %d", len(b), raw)
	}
}

func TestDecodeRefuses(t *testing.T) {
	js := bytes.Repeat([]byte("let x = 1;\n"), 100)
	old := bundle{"a.js": js, "b.js": []byte("b")}
	b, from, _ := makeStep(t, old, bundle{"a.js": append(bytes.Clone(js), 'y'), "c.js": []byte("c")}, nil)
	other := bundle{"z.js": []byte("z")}.manifest(t)
	cases := []struct {
		name string
		from *manifest.Manifest
		b    []byte
	}{
		{"empty", from, nil},
		{"bad magic", from, append([]byte("XXXX"), b[4:]...)},
		{"other from", other, b},
		{"truncated listing", from, b[:len(step.Magic)+10]},
		{"unknown listing form", from, flip(b, len(step.Magic)+8)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := step.Decode(tc.from, tc.b, step.DefaultLimits()); !errors.Is(err, step.ErrCorrupt) {
				t.Fatalf("Decode = %v, want ErrCorrupt", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x55
	return c
}
