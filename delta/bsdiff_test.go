package delta

import (
	"bytes"
	stdbzip2 "compress/bzip2"
	"errors"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestOfftinOfftout(t *testing.T) {
	for _, x := range []int64{0, 1, -1, 255, 256, -256, 1 << 40, -(1 << 40), math.MaxInt64, -math.MaxInt64} {
		var b [8]byte
		offtout(b[:], x)
		if got := offtin(b[:]); got != x {
			t.Errorf("offtin(offtout(%d)) = %d", x, got)
		}
	}
	// Sign-magnitude, little-endian.
	if got := offtin([]byte{5, 0, 0, 0, 0, 0, 0, 0x80}); got != -5 {
		t.Errorf("offtin(-5) = %d", got)
	}
	if got := offtin([]byte{0, 1, 0, 0, 0, 0, 0, 0}); got != 256 {
		t.Errorf("offtin(256) = %d", got)
	}
}

func TestSuffixArray(t *testing.T) {
	r := newRand(7)
	inputs := [][]byte{nil, []byte("a"), []byte("banana"), []byte("mississippi"), make([]byte, 100), bytes.Repeat([]byte("abc"), 50)}
	for i := 0; i < 50; i++ {
		b := make([]byte, r.Intn(400))
		alpha := 1 + r.Intn(5)
		for j := range b {
			b[j] = byte(r.Intn(alpha))
		}
		inputs = append(inputs, b)
	}
	inputs = append(inputs, genJS(r, 5000), randomBytes(r, 3000))
	for _, in := range inputs {
		want := make([]int32, len(in)+1)
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortFunc(want, func(a, b int32) int { return bytes.Compare(in[a:], in[b:]) })
		if got := suffixArray(in); !slices.Equal(got, want) {
			t.Fatalf("suffixArray(%q) = %v, want %v", in, got, want)
		}
		if got := qsufsort(in); !slices.Equal(got, want) {
			t.Fatalf("qsufsort(%q) = %v, want %v", in, got, want)
		}
	}
	// Bigger and repetitive inputs, where the naive sort is too slow:
	// the two algorithms must agree.
	big := [][]byte{genJS(r, 300<<10), bytes.Repeat([]byte("abcab"), 20000), make([]byte, 50000), randomBytes(r, 100000)}
	for _, in := range big {
		if !slices.Equal(suffixArray(in), qsufsort(in)) {
			t.Fatalf("suffixArray and qsufsort disagree on %d bytes", len(in))
		}
	}
}

func FuzzSuffixArray(f *testing.F) {
	f.Add([]byte("mississippi"))
	f.Add([]byte("abababababab"))
	f.Add([]byte{0, 0, 0, 255, 255, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		want := make([]int32, len(in)+1)
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortFunc(want, func(a, b int32) int { return bytes.Compare(in[a:], in[b:]) })
		if got := suffixArray(in); !slices.Equal(got, want) {
			t.Fatalf("suffixArray(%q) = %v, want %v", in, got, want)
		}
	})
}

// bsdiffBlocks splits a BSDIFF40 patch and decompresses its three blocks.
func bsdiffBlocks(tb testing.TB, patch []byte) (ctrl, diff, extra []byte) {
	tb.Helper()
	cl, dl := offtin(patch[8:]), offtin(patch[16:])
	rest := patch[32:]
	var out [3][]byte
	for i, b := range [][]byte{rest[:cl], rest[cl : cl+dl], rest[cl+dl:]} {
		var err error
		if out[i], err = io.ReadAll(stdbzip2.NewReader(bytes.NewReader(b))); err != nil {
			tb.Fatal(err)
		}
	}
	return out[0], out[1], out[2]
}

func TestBspatchAppliesOurPatches(t *testing.T) {
	bspatch := needTool(t, "bspatch")
	for _, p := range testPairs() {
		t.Run(p.name, func(t *testing.T) {
			patch, err := Bsdiff.Encode(p.old, p.new)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			f := writeFiles(t, dir, map[string][]byte{"old": p.old, "patch": patch})
			out := filepath.Join(dir, "new")
			run(t, bspatch, f["old"], out, f["patch"])
			if got := readFile(t, out); !bytes.Equal(got, p.new) {
				t.Fatalf("bspatch output differs: %d bytes, want %d", len(got), len(p.new))
			}
		})
	}
}

func TestApplyDebianBsdiffPatches(t *testing.T) {
	bsdiff := needTool(t, "bsdiff")
	for _, p := range testPairs() {
		t.Run(p.name, func(t *testing.T) {
			if len(p.old) == 0 || len(p.new) == 0 {
				t.Skip("Debian bsdiff 4.3 cannot mmap empty files")
			}
			dir := t.TempDir()
			f := writeFiles(t, dir, map[string][]byte{"old": p.old, "new": p.new})
			patchPath := filepath.Join(dir, "patch")
			run(t, bsdiff, f["old"], f["new"], patchPath)
			patch := readFile(t, patchPath)
			got, err := Bsdiff.Apply(p.old, patch, int64(len(p.new)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, p.new) {
				t.Fatalf("output differs: %d bytes, want %d", len(got), len(p.new))
			}

			// Same algorithm, so the same control, diff and extra data;
			// only the bzip2 compressor differs.
			theirs := [3][]byte{}
			theirs[0], theirs[1], theirs[2] = bsdiffBlocks(t, patch)
			ctrl, diff, extra := bsdiffScan(p.old, p.new)
			for i, ours := range [][]byte{ctrl, diff, extra} {
				if !bytes.Equal(ours, theirs[i]) {
					t.Errorf("block %d differs from Debian bsdiff's: %d bytes vs %d", i, len(ours), len(theirs[i]))
				}
			}
			// dsnet's bzip2 writer assigns its Huffman tables round-robin
			// instead of by fit, so small and incompressible blocks come
			// out bigger than libbz2's.
			ourPatch, _ := Bsdiff.Encode(p.old, p.new)
			t.Logf("bsdiff %d bytes, ours %d (%.2f×)", len(patch), len(ourPatch), float64(len(ourPatch))/float64(len(patch)))
		})
	}
}

// craft builds a BSDIFF40 patch from raw parts; header fields can be
// overridden through hdr (nil entries keep the real values).
func craft(tb testing.TB, ctrl []int64, diff, extra []byte, newSize int64, hdr [3]*int64) []byte {
	tb.Helper()
	var raw []byte
	for _, v := range ctrl {
		var b [8]byte
		offtout(b[:], v)
		raw = append(raw, b[:]...)
	}
	var blocks [3]bytes.Buffer
	for i, data := range [][]byte{raw, diff, extra} {
		if err := bzip2Compress(&blocks[i], data); err != nil {
			tb.Fatal(err)
		}
	}
	fields := [3]int64{int64(blocks[0].Len()), int64(blocks[1].Len()), newSize}
	for i, v := range hdr {
		if v != nil {
			fields[i] = *v
		}
	}
	patch := []byte(bsdiffMagic)
	for _, v := range fields {
		var b [8]byte
		offtout(b[:], v)
		patch = append(patch, b[:]...)
	}
	for i := range blocks {
		patch = append(patch, blocks[i].Bytes()...)
	}
	return patch
}

func ptr(v int64) *int64 { return &v }

func TestBsdiffHostilePatches(t *testing.T) {
	old := []byte("0123456789abcdef")
	zeros := make([]int64, 3*200000) // 200k empty control entries
	tests := []struct {
		name   string
		patch  []byte
		maxOut int64
		want   error // nil: must match Debian bspatch's output
	}{
		{"valid", craft(t, []int64{4, 2, 3}, []byte{1, 1, 1, 1}, []byte("xy"), 6, [3]*int64{}), 100, nil},
		{"old before start adds nothing", craft(t, []int64{0, 0, -5, 8, 0, 0}, []byte{1, 2, 3, 4, 5, 6, 7, 8}, nil, 8, [3]*int64{}), 100, nil},
		{"old past end adds nothing", craft(t, []int64{0, 0, 12, 8, 0, 0}, []byte{1, 2, 3, 4, 5, 6, 7, 8}, nil, 8, [3]*int64{}), 100, nil},
		{"seek far away", craft(t, []int64{0, 0, 1 << 40, 3, 0, 0}, []byte{1, 2, 3}, nil, 3, [3]*int64{}), 100, nil},
		{"negative diff length", craft(t, []int64{-1, 0, 0}, nil, nil, 4, [3]*int64{}), 100, ErrCorrupt},
		{"negative extra length", craft(t, []int64{0, -1, 0}, nil, nil, 4, [3]*int64{}), 100, ErrCorrupt},
		{"diff past new size", craft(t, []int64{5, 0, 0}, []byte{1, 2, 3, 4, 5}, nil, 4, [3]*int64{}), 100, ErrCorrupt},
		{"extra past new size", craft(t, []int64{2, 3, 0}, []byte{1, 2}, []byte("abc"), 4, [3]*int64{}), 100, ErrCorrupt},
		{"huge lengths overflow", craft(t, []int64{math.MaxInt64, math.MaxInt64, 0}, nil, nil, 4, [3]*int64{}), 100, ErrCorrupt},
		{"seek overflow", craft(t, []int64{1, 0, math.MaxInt64, 1, 0, math.MaxInt64}, []byte{1, 2}, nil, 2, [3]*int64{}), 100, ErrCorrupt},
		{"short diff block", craft(t, []int64{4, 0, 0}, []byte{1, 2}, nil, 4, [3]*int64{}), 100, ErrCorrupt},
		{"short extra block", craft(t, []int64{0, 4, 0}, nil, []byte{1}, 4, [3]*int64{}), 100, ErrCorrupt},
		{"short control block", craft(t, []int64{2, 0, 0}, []byte{1, 2}, nil, 4, [3]*int64{}), 100, ErrCorrupt},
		{"unused control entries", craft(t, []int64{2, 0, 0, 0, 0, 0}, []byte{1, 2}, nil, 2, [3]*int64{}), 100, ErrCorrupt},
		{"unused diff bytes", craft(t, []int64{2, 0, 0}, []byte{1, 2, 3}, nil, 2, [3]*int64{}), 100, ErrCorrupt},
		{"empty entries spin", craft(t, append(zeros, 1, 0, 0), []byte{1}, nil, 1, [3]*int64{}), 100, ErrCorrupt},
		{"negative new size", craft(t, nil, nil, nil, 0, [3]*int64{2: ptr(-1)}), 100, ErrCorrupt},
		{"negative control length", craft(t, nil, nil, nil, 0, [3]*int64{0: ptr(-1)}), 100, ErrCorrupt},
		{"control length past end", craft(t, nil, nil, nil, 0, [3]*int64{0: ptr(1 << 20)}), 100, ErrCorrupt},
		{"diff length past end", craft(t, nil, nil, nil, 0, [3]*int64{1: ptr(math.MaxInt64)}), 100, ErrCorrupt},
		{"new size over limit", craft(t, nil, nil, nil, 0, [3]*int64{2: ptr(1 << 50)}), 1 << 20, ErrOutputLimit},
		{"new size just over limit", craft(t, []int64{4, 2, 3}, []byte{1, 1, 1, 1}, []byte("xy"), 6, [3]*int64{}), 5, ErrOutputLimit},
		{"claims 1 GiB, has 2 bytes", craft(t, []int64{2, 0, 0}, []byte{1, 2}, nil, 1<<30, [3]*int64{}), 1 << 31, ErrCorrupt},
	}
	bspatch, _ := exec.LookPath("bspatch")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Bsdiff.Apply(old, tt.patch, tt.maxOut)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if bspatch == "" {
				t.Skip("bspatch not installed: cannot compare")
			}
			dir := t.TempDir()
			f := writeFiles(t, dir, map[string][]byte{"old": old, "patch": tt.patch})
			run(t, bspatch, f["old"], filepath.Join(dir, "new"), f["patch"])
			if want := readFile(t, filepath.Join(dir, "new")); !bytes.Equal(out, want) {
				t.Fatalf("got %q, bspatch gives %q", out, want)
			}
		})
	}
}
