package manifest

import (
	"reflect"
	"testing"
)

func TestDictionaryOrder(t *testing.T) {
	e := func(p, content string) Entry {
		return Entry{Path: p, Digest: Sum([]byte(content)), Size: int64(len(content))}
	}
	m, err := New([]Entry{e("a.js", "A"), e("b.js", "B"), e("c.js", "C"), e("copy-of-a.js", "A"), e("d.css", "D")}, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		bases []string
		want  []string
		err   bool
	}{
		{"no bases: distinct files in path order", nil, []string{"a.js", "b.js", "c.js", "d.css"}, false},
		{"bases last, in the order given", []string{"c.js", "a.js"}, []string{"b.js", "d.css", "c.js", "a.js"}, false},
		{"a base named twice is placed once", []string{"b.js", "b.js"}, []string{"a.js", "c.js", "d.css", "b.js"}, false},
		{"a base sharing bytes with another file", []string{"copy-of-a.js"}, []string{"b.js", "c.js", "d.css", "copy-of-a.js"}, false},
		{"a base outside the bundle", []string{"nope.js"}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DictionaryOrder(m, tc.bases)
			if tc.err {
				if err == nil {
					t.Fatalf("no error for bases %v", tc.bases)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, e := range got {
				paths = append(paths, e.Path)
			}
			if !reflect.DeepEqual(paths, tc.want) {
				t.Fatalf("order %v, want %v", paths, tc.want)
			}
		})
	}
}
