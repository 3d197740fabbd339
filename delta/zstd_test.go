package delta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestZstdWindow(t *testing.T) {
	tests := []struct {
		old, new int
		window   int
		long     int
		tooLarge bool
	}{
		{0, 0, 1 << 10, 0, false},
		{1, 1, 1 << 10, 0, false},
		{512, 512, 1 << 10, 0, false},
		{512, 513, 1 << 11, 0, false},
		{1 << 20, 1 << 20, 1 << 21, 0, false},
		{100 << 20, 28 << 20, 128 << 20, 0, false},
		{100 << 20, 28<<20 + 1, 256 << 20, 28, false},
		{300 << 20, 212 << 20, 512 << 20, 29, false},
		{300 << 20, 212<<20 + 1, 0, 0, true},
	}
	for _, tt := range tests {
		w, err := zstdWindow(tt.old, tt.new)
		if tt.tooLarge {
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("zstdWindow(%d, %d) err = %v, want ErrTooLarge", tt.old, tt.new, err)
			}
			continue
		}
		if err != nil || w != tt.window {
			t.Errorf("zstdWindow(%d, %d) = %d, %v; want %d", tt.old, tt.new, w, err, tt.window)
		}
		if got := ZstdCLILong(tt.old, tt.new); got != tt.long {
			t.Errorf("ZstdCLILong(%d, %d) = %d, want %d", tt.old, tt.new, got, tt.long)
		}
	}
}

func TestZstdEncodeTooLarge(t *testing.T) {
	// Untouched, so the pages are never faulted in.
	big := make([]byte, 300<<20)
	if _, err := ZstdDict.Encode(big, big[:212<<20+1]); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// Pooled encoders are reset with each call's old; a stale dictionary would
// make patches that only apply against the previous old.
func TestZstdEncoderReuse(t *testing.T) {
	r := newRand(6)
	var olds [][]byte
	for i := 0; i < 4; i++ {
		olds = append(olds, genJS(r, 30<<10))
	}
	for round := 0; round < 3; round++ {
		for i, old := range olds {
			new := mutate(r, old, 3)
			patch, err := ZstdDict.Encode(old, new)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ZstdDict.Apply(old, patch, int64(len(new)))
			if err != nil || !bytes.Equal(got, new) {
				t.Fatalf("round %d old %d: %v", round, i, err)
			}
			if len(patch) > len(new)/10 {
				t.Errorf("round %d old %d: patch %d bytes, dictionary not used?", round, i, len(patch))
			}
			// The pooled streaming path must write what EncodeAll writes.
			if fresh, _ := zstdEncode(old, new, false); !bytes.Equal(patch, fresh) {
				t.Errorf("round %d old %d: pooled patch (%d bytes) differs from EncodeAll's (%d bytes)", round, i, len(patch), len(fresh))
			}
		}
	}
}

func TestZstdMultipleFrames(t *testing.T) {
	old := []byte("the quick brown fox jumps over the lazy dog, again and again and again")
	n1, n2 := []byte("the quick red fox jumps"), []byte("over the lazy cat, again and again")
	p1, _ := ZstdDict.Encode(old, n1)
	p2, _ := ZstdDict.Encode(old, n2)
	patch := append(append([]byte(nil), p1...), p2...)
	want := append(append([]byte(nil), n1...), n2...)
	got, err := ZstdDict.Apply(old, patch, int64(len(want)))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := ZstdDict.Apply(old, patch, int64(len(want)-1)); !errors.Is(err, ErrOutputLimit) {
		t.Fatalf("err = %v, want ErrOutputLimit", err)
	}
}

// zstdFrameHeader returns a frame header without content size, with the
// given window exponent (window = 1 << (10+exp)) and dictionary ID.
func zstdFrameHeader(exp byte, dictID uint32) []byte {
	h := []byte{0x28, 0xb5, 0x2f, 0xfd, 0}
	if dictID != 0 {
		h[4] |= 2 // 4-byte dictionary ID
	}
	h = append(h, exp<<3)
	if dictID != 0 {
		h = binary.LittleEndian.AppendUint32(h, dictID)
	}
	return h
}

// rleBlocks appends n RLE blocks of size bytes of 'x'.
func rleBlocks(b []byte, n, size int, last bool) []byte {
	for i := 0; i < n; i++ {
		hdr := uint32(size)<<3 | 1<<1
		if last && i == n-1 {
			hdr |= 1
		}
		b = append(b, byte(hdr), byte(hdr>>8), byte(hdr>>16), 'x')
	}
	return b
}

func TestZstdHostileFrames(t *testing.T) {
	old := []byte("some old bytes")
	withFCS, _ := zstd.NewWriter(nil)
	hugeFCS := withFCS.EncodeAll(make([]byte, 2<<20), nil) // declares 2 MiB

	// 1 GiB of output from 32 KiB of patch, no declared size.
	bomb := rleBlocks(zstdFrameHeader(10, 0), 8192, 128<<10, true)

	tests := []struct {
		name   string
		patch  []byte
		maxOut int64
		want   error
		out    int
	}{
		{"declared size over limit", hugeFCS, 1 << 20, ErrOutputLimit, 0},
		{"rle bomb", bomb, 1 << 20, ErrOutputLimit, 0},
		{"rle within limit", rleBlocks(zstdFrameHeader(10, 0), 3, 1000, true), 3000, nil, 3000},
		{"rle just over limit", rleBlocks(zstdFrameHeader(10, 0), 3, 1000, true), 2999, ErrOutputLimit, 0},
		{"window over 2 GiB", rleBlocks(zstdFrameHeader(22, 0), 1, 10, true), 1 << 20, ErrCorrupt, 0},
		{"unknown dictionary", rleBlocks(zstdFrameHeader(10, 7), 1, 10, true), 1 << 20, ErrCorrupt, 0},
		{"no last block", rleBlocks(zstdFrameHeader(10, 0), 3, 10, false), 1 << 20, ErrCorrupt, 0},
		{"skippable only", []byte{0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 'h', 'i'}, 10, nil, 0},
		{"garbage", []byte("definitely not zstd"), 1 << 20, ErrCorrupt, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out, err := ZstdDict.Apply(old, tt.patch, tt.maxOut)
			runtime.ReadMemStats(&after)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if len(out) != tt.out {
				t.Fatalf("output %d bytes, want %d", len(out), tt.out)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(8*tt.maxOut)+8<<20 {
				t.Errorf("allocated %d bytes for maxOut %d", alloc, tt.maxOut)
			}
		})
	}
}

func TestZstdCLIDecodesOurPatches(t *testing.T) {
	zstdBin := needTool(t, "zstd")
	for _, p := range testPairs() {
		t.Run(p.name, func(t *testing.T) {
			patch, err := ZstdDict.Encode(p.old, p.new)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			f := writeFiles(t, dir, map[string][]byte{"old": p.old, "patch": patch})
			out := filepath.Join(dir, "out")
			args := []string{"-d", "-q", "-f", "--patch-from=" + f["old"], f["patch"], "-o", out}
			if long := ZstdCLILong(len(p.old), len(p.new)); long > 0 {
				args = append(args, "--long="+strconv.Itoa(long))
			}
			run(t, zstdBin, args...)
			if got := readFile(t, out); !bytes.Equal(got, p.new) {
				t.Fatalf("zstd -d output differs: %d bytes, want %d", len(got), len(p.new))
			}
		})
	}
}

func TestZstdAppliesCLIPatches(t *testing.T) {
	zstdBin := needTool(t, "zstd")
	for _, p := range testPairs() {
		if len(p.new) == 0 {
			continue // zstd 1.5.4 aborts on --patch-from with an empty input
		}
		for _, mode := range []struct{ name, flag string }{{"", ""}, {"no content size", "--no-content-size"}, {"long", "--long=27"}} {
			t.Run(p.name+"/"+mode.name, func(t *testing.T) {
				dir := t.TempDir()
				f := writeFiles(t, dir, map[string][]byte{"old": p.old, "new": p.new})
				patchPath := filepath.Join(dir, "patch")
				args := []string{"-19", "-q", "-f", "--single-thread", "--patch-from=" + f["old"], f["new"], "-o", patchPath}
				if mode.flag != "" {
					args = append(args, mode.flag)
				}
				cmd := exec.Command(zstdBin, args...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("zstd: %v\n%s", err, out)
				}
				patch := readFile(t, patchPath)
				var h zstd.Header
				if err := h.Decode(patch); err != nil || h.HasFCS == (mode.flag == "--no-content-size") {
					t.Fatalf("frame header: %+v, %v", h, err)
				}
				got, err := ZstdDict.Apply(p.old, patch, int64(len(p.new)))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, p.new) {
					t.Fatalf("output differs: %d bytes, want %d", len(got), len(p.new))
				}
				if mode.name == "" {
					ours, _ := ZstdDict.Encode(p.old, p.new)
					t.Logf("cli %d bytes, ours %d (%.2f×)", len(patch), len(ours), float64(len(ours))/float64(len(patch)))
				}
			})
		}
	}
}
