package step_test

import (
	"testing"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/step"
)

// FuzzDecode: no input panics Decode or makes it accept a step that
// Encode would not write back identically.
func FuzzDecode(f *testing.F) {
	old := bundle{"a.js": []byte("let a = 1;\n"), "b.css": []byte("b{}"), "img/c.png": []byte("png")}
	b, from, _ := makeStep(f, old, bundle{"a.js": []byte("let a = 2;\n"), "b2.css": []byte("b{}"), "d.txt": []byte("d")}, map[string]bool{"d.txt": true})
	f.Add(b)
	f.Add([]byte(step.Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := step.DefaultLimits()
		lim.MaxListing = 1 << 20
		s, err := step.Decode(from, data, lim)
		if err != nil {
			return
		}
		if _, err := step.Encode(from, s); err != nil {
			t.Fatalf("decoded step does not encode: %v", err)
		}
		var ds []manifest.Digest
		for range s.PatchedSizes() {
			ds = append(ds, manifest.Digest{2})
		}
		if _, err := s.Target(from, ds, lim.Manifest); err != nil {
			t.Fatalf("decoded step has no target: %v", err)
		}
	})
}
