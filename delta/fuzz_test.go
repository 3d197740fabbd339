package delta

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fuzzMaxOut keeps the fuzzers' output limit, and so their memory, small.
const fuzzMaxOut = 1 << 20

// seedPairs are the small test pairs (the fuzzer mutates seeds byte by
// byte, so big ones only slow it down).
func seedPairs() []pair {
	var out []pair
	for _, p := range testPairs() {
		if len(p.old)+len(p.new) <= 16<<10 {
			out = append(out, p)
		}
	}
	return out
}

// cliPatch runs a command line diff tool on a pair and returns its patch,
// or nil when the tool is missing or fails (seeds are best effort).
func cliPatch(tb testing.TB, p pair, tool string, args func(old, new, patch string) []string) []byte {
	bin, err := exec.LookPath(tool)
	if err != nil || len(p.old) == 0 || len(p.new) == 0 {
		return nil
	}
	dir := tb.TempDir()
	f := writeFiles(tb, dir, map[string][]byte{"old": p.old, "new": p.new})
	patch := filepath.Join(dir, "patch")
	if err := exec.Command(bin, args(f["old"], f["new"], patch)...).Run(); err != nil {
		return nil
	}
	b, err := os.ReadFile(patch)
	if err != nil {
		return nil
	}
	return b
}

// checkApply asserts Apply's contract on arbitrary input.
func checkApply(t *testing.T, out []byte, err error, maxOut int64) {
	t.Helper()
	if int64(len(out)) > maxOut {
		t.Fatalf("output %d bytes > maxOut %d", len(out), maxOut)
	}
	if err != nil {
		if out != nil {
			t.Fatalf("output %d bytes returned with error %v", len(out), err)
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrOutputLimit) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
	}
}

func FuzzApplyZstd(f *testing.F) {
	for _, p := range seedPairs() {
		patch, err := ZstdDict.Encode(p.old, p.new)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.old, patch, uint32(len(p.new)))
		if cli := cliPatch(f, p, "zstd", func(old, new, patch string) []string {
			return []string{"-19", "-q", "-f", "--no-content-size", "--patch-from=" + old, new, "-o", patch}
		}); cli != nil {
			f.Add(p.old, cli, uint32(len(p.new)))
		}
	}
	f.Add([]byte("old"), rleBlocks(zstdFrameHeader(10, 0), 40, 128<<10, true), uint32(1<<20))
	f.Fuzz(func(t *testing.T, old, patch []byte, limit uint32) {
		maxOut := int64(limit % (fuzzMaxOut + 1))
		out, err := ZstdDict.Apply(old, patch, maxOut)
		checkApply(t, out, err, maxOut)
	})
}

func FuzzApplyBsdiff(f *testing.F) {
	for _, p := range seedPairs() {
		patch, err := Bsdiff.Encode(p.old, p.new)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.old, patch, uint32(len(p.new)))
		if cli := cliPatch(f, p, "bsdiff", func(old, new, patch string) []string {
			return []string{old, new, patch}
		}); cli != nil {
			f.Add(p.old, cli, uint32(len(p.new)))
		}
	}
	f.Add([]byte("0123456789"), craft(f, []int64{0, 0, -5, 8, 0, 0}, []byte{1, 2, 3, 4, 5, 6, 7, 8}, nil, 8, [3]*int64{}), uint32(8))
	f.Fuzz(func(t *testing.T, old, patch []byte, limit uint32) {
		maxOut := int64(limit % (fuzzMaxOut + 1))
		out, err := Bsdiff.Apply(old, patch, maxOut)
		checkApply(t, out, err, maxOut)
	})
}

// FuzzRoundTrip checks that every codec rebuilds new exactly.
func FuzzRoundTrip(f *testing.F) {
	for _, p := range seedPairs() {
		if len(p.old)+len(p.new) <= 8<<10 {
			f.Add(p.old, p.new)
		}
	}
	f.Add([]byte("abcabcabcabc"), []byte("abcabdabcabcx"))
	f.Fuzz(func(t *testing.T, old, new []byte) {
		for _, c := range All() {
			patch, err := c.Encode(old, new)
			if err != nil {
				t.Fatalf("%s: %v", c.Name(), err)
			}
			got, err := c.Apply(old, patch, int64(len(new)))
			if err != nil || !bytes.Equal(got, new) {
				t.Fatalf("%s: round trip: %v", c.Name(), err)
			}
		}
	})
}
