package delta

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestLookupAll(t *testing.T) {
	for _, c := range All() {
		got, ok := Lookup(c.Name())
		if !ok || got.Name() != c.Name() {
			t.Errorf("Lookup(%q) = %v, %v", c.Name(), got, ok)
		}
	}
	if got := []string{All()[0].Name(), All()[1].Name()}; got[0] != "zstd-dict" || got[1] != "bsdiff" {
		t.Errorf("All() names = %v", got)
	}
	if _, ok := Lookup("xdelta3"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range All() {
		for _, p := range testPairs() {
			t.Run(c.Name()+"/"+p.name, func(t *testing.T) {
				patch, err := c.Encode(p.old, p.new)
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.Apply(p.old, patch, int64(len(p.new)))
				if err != nil {
					t.Fatalf("apply: %v", err)
				}
				if !bytes.Equal(got, p.new) {
					t.Fatalf("round trip mismatch: got %d bytes, want %d", len(got), len(p.new))
				}
				t.Logf("old %d new %d patch %d", len(p.old), len(p.new), len(patch))
				// klauspost writes no content size for tiny multi-segment
				// frames (new < 1 KiB is below zstd.MinWindowSize).
				if c.Name() == NameZstdDict && len(p.new) >= 256 {
					var h zstd.Header
					if err := h.Decode(patch); err != nil || !h.HasFCS || h.FrameContentSize != uint64(len(p.new)) || !h.HasCheckSum {
						t.Errorf("frame header %+v, %v: want content size %d and a checksum", h, err, len(p.new))
					}
				}
				if len(p.new) > 0 {
					if _, err := c.Apply(p.old, patch, int64(len(p.new))-1); !errors.Is(err, ErrOutputLimit) {
						t.Errorf("apply with maxOut = len(new)-1: err = %v, want ErrOutputLimit", err)
					}
				}
			})
		}
	}
}

// Patches of edited text must be much smaller than the text, or the codec
// is not finding matches in old.
func TestPatchesAreSmall(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	old := genJS(r, 200<<10)
	new := mutate(r, old, 10)
	for _, c := range All() {
		patch, err := c.Encode(old, new)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", c.Name(), len(patch))
		if len(patch) > len(new)/25 {
			t.Errorf("%s: patch %d bytes for %d bytes of new with 10 edits", c.Name(), len(patch), len(new))
		}
	}
}

func TestApplyCorrupt(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	old := genJS(r, 8<<10)
	new := mutate(r, old, 5)
	for _, c := range All() {
		patch, err := c.Encode(old, new)
		if err != nil {
			t.Fatal(err)
		}
		cases := map[string][]byte{
			"empty":      nil,
			"short":      patch[:3],
			"truncated":  patch[:len(patch)-5],
			"half":       patch[:len(patch)/2],
			"bad magic":  append([]byte("XXXXXXXX"), patch[8:]...),
			"trailing":   append(append([]byte(nil), patch...), 1, 2, 3, 4, 5, 6, 7, 8, 9),
			"flip body":  flip(patch, len(patch)*2/3),
			"flip late":  flip(patch, len(patch)-2),
			"all zeroes": make([]byte, len(patch)),
		}
		for name, bad := range cases {
			t.Run(c.Name()+"/"+name, func(t *testing.T) {
				out, err := c.Apply(old, bad, 1<<20)
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("err = %v (output %d bytes), want ErrCorrupt", err, len(out))
				}
			})
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x55
	return c
}

func TestApplyNegativeMaxOut(t *testing.T) {
	for _, c := range All() {
		patch, err := c.Encode([]byte("a"), []byte("b"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Apply([]byte("a"), patch, -1); err == nil {
			t.Errorf("%s: negative maxOut accepted", c.Name())
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	var pairs []pair
	for i := 0; i < 8; i++ {
		old := genJS(r, 4<<10+r.Intn(30<<10))
		pairs = append(pairs, pair{fmt.Sprint(i), old, mutate(r, old, 5)})
	}
	var wg sync.WaitGroup
	for _, c := range All() {
		for _, p := range pairs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 3; k++ {
					patch, err := c.Encode(p.old, p.new)
					if err != nil {
						t.Error(err)
						return
					}
					got, err := c.Apply(p.old, patch, int64(len(p.new)))
					if err != nil || !bytes.Equal(got, p.new) {
						t.Errorf("%s pair %s: round trip failed: %v", c.Name(), p.name, err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
}

// fakeCodec returns a fixed patch (or error) and applies by returning out.
type fakeCodec struct {
	name     string
	patch    []byte
	encErr   error
	out      []byte
	limit    int64
	encCalls *int
}

func (f fakeCodec) Name() string { return f.name }
func (f fakeCodec) Encode(old, new []byte) ([]byte, error) {
	if f.encCalls != nil {
		*f.encCalls++
	}
	return f.patch, f.encErr
}
func (f fakeCodec) Apply(old, patch []byte, maxOut int64) ([]byte, error) { return f.out, nil }

type limitedFake struct{ fakeCodec }

func (l limitedFake) chooseLimit() int64 { return l.limit }

func TestChoose(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	old := genJS(r, 50<<10)
	new := mutate(r, old, 8)

	res, err := Choose(old, new)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []string
	for _, c := range All() {
		p, _ := c.Encode(old, new)
		sizes = append(sizes, fmt.Sprintf("%s=%d", c.Name(), len(p)))
		if len(p) < len(res.Patch) {
			t.Errorf("Choose picked %s (%d bytes) but %s gives %d", res.Codec, len(res.Patch), c.Name(), len(p))
		}
	}
	t.Logf("chose %s: %v", res.Codec, sizes)
	c, _ := Lookup(res.Codec)
	if got, err := c.Apply(old, res.Patch, int64(len(new))); err != nil || !bytes.Equal(got, new) {
		t.Fatalf("chosen patch does not apply: %v", err)
	}

	small := fakeCodec{name: "small", patch: []byte{1}, out: new}
	big := fakeCodec{name: "big", patch: []byte{1, 2}, out: new}
	tests := []struct {
		name    string
		codecs  []Codec
		want    string
		wantErr error
	}{
		{"smallest wins", []Codec{big, small}, "small", nil},
		{"earlier wins ties", []Codec{small, fakeCodec{name: "small2", patch: []byte{9}, out: new}}, "small", nil},
		{"too large skipped", []Codec{fakeCodec{name: "x", encErr: fmt.Errorf("x: %w", ErrTooLarge)}, big}, "big", nil},
		{"all too large", []Codec{fakeCodec{name: "x", encErr: ErrTooLarge}}, "", ErrTooLarge},
		{"over limit skipped", []Codec{limitedFake{fakeCodec{name: "lim", patch: []byte{}, out: new, limit: 10}}, big}, "big", nil},
		{"under limit used", []Codec{limitedFake{fakeCodec{name: "lim", patch: []byte{}, out: new, limit: 1 << 30}}, big}, "lim", nil},
		{"bad round trip", []Codec{fakeCodec{name: "liar", patch: []byte{1}, out: []byte("nope")}, big}, "", nil},
		{"encode error", []Codec{fakeCodec{name: "broken", encErr: errors.New("boom")}, big}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Choose(old, new, tt.codecs...)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Choose = %q, want error", res.Codec)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || res.Codec != tt.want {
				t.Fatalf("Choose = %q, %v; want %q", res.Codec, err, tt.want)
			}
		})
	}

	if l, ok := Bsdiff.(chooseLimiter); !ok || l.chooseLimit() != BsdiffChooseLimit {
		t.Error("Bsdiff does not report BsdiffChooseLimit to Choose")
	}
	if _, ok := ZstdDict.(chooseLimiter); ok {
		t.Error("ZstdDict should not be limited by Choose")
	}
}
