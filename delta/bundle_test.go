package delta

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

// bundleFixture: an old bundle of JS-like files and a release that edits
// some, renames one and adds one; entries are what the device lacks, dict
// the old files with each edited file's old version last, in line.
func bundleFixture() (dict, entries [][]byte) {
	r := newRand(7)
	var old [][]byte
	for i := 0; i < 12; i++ {
		old = append(old, genJS(r, 4<<10+r.Intn(40<<10)))
	}
	edited := []int{2, 5, 9}
	for i, f := range old {
		if i != 2 && i != 5 && i != 9 {
			dict = append(dict, f)
		}
	}
	for _, i := range edited {
		dict = append(dict, old[i])
		entries = append(entries, mutate(r, old[i], 8))
	}
	entries = append(entries, genJS(r, 3000)) // a new file
	entries = append(entries, nil)            // an empty file
	return dict, entries
}

func TestBundleRoundTrip(t *testing.T) {
	dict, entries := bundleFixture()
	sizes := make([]int64, len(entries))
	sums := make([][32]byte, len(entries))
	for i, e := range entries {
		sizes[i], sums[i] = int64(len(e)), sha256.Sum256(e)
	}
	for _, c := range All() {
		t.Run(c.Name(), func(t *testing.T) {
			patch, err := EncodeBundle(c, dict, entries)
			if err != nil {
				t.Fatal(err)
			}
			if n := BundleSize(entries); int64(len(patch)) > n/4 {
				t.Errorf("patch %d bytes for %d bytes of mostly known content", len(patch), n)
			}
			got, err := ApplyBundle(c, dict, patch, sizes)
			if err != nil {
				t.Fatal(err)
			}
			for i := range entries {
				if sha256.Sum256(got[i]) != sums[i] {
					t.Errorf("entry %d does not hash to its digest", i)
				}
			}
			// Appending to one file never overwrites the next.
			got[0] = append(got[0], 'x')
			if !bytes.Equal(got[1], entries[1]) {
				t.Error("entries share capacity")
			}
			// Sizes that do not add up are refused, not guessed.
			short := append([]int64(nil), sizes...)
			short[0]--
			if _, err := ApplyBundle(c, dict, patch, short); err == nil {
				t.Error("sizes one byte short: no error")
			}
			long := append([]int64(nil), sizes...)
			long[0]++
			if _, err := ApplyBundle(c, dict, patch, long); !errors.Is(err, ErrCorrupt) {
				t.Errorf("sizes one byte long: %v, want ErrCorrupt", err)
			}
			// Another dictionary order is another old: the patch fails or
			// gives other bytes, which the digests catch.
			swapped := append([][]byte(nil), dict...)
			swapped[0], swapped[len(swapped)-1] = swapped[len(swapped)-1], swapped[0]
			if got, err := ApplyBundle(c, swapped, patch, sizes); err == nil {
				same := true
				for i := range entries {
					same = same && sha256.Sum256(got[i]) == sums[i]
				}
				if same {
					t.Error("a reordered dictionary rebuilt the same files")
				}
			}
		})
	}
}

func TestBundleEmpty(t *testing.T) {
	patch, err := EncodeBundle(ZstdDict, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ApplyBundle(ZstdDict, nil, patch, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %d files, %v", len(got), err)
	}
	if _, err := ApplyBundle(ZstdDict, nil, patch, []int64{-1}); err == nil {
		t.Error("negative size accepted")
	}
}
