package server

import (
	"bytes"
	"io"
	"math/rand"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestObjectBodyDecoderWindows: an upload body compressed the way the
// client compresses it decodes at every size, including exactly 1,024
// bytes, for which the encoder declares a 2,048-byte window (seen with a
// real npm bundle: "window size exceeded").
func TestObjectBodyDecoderWindows(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{1, 100, 1023, 1024, 1025, 2047, 2048, 2049, 4096, 65536, 1 << 20} {
		for _, kind := range []string{"text", "random"} {
			raw := bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n]
			if kind == "random" {
				rng.Read(raw)
			}
			z := enc.EncodeAll(raw, nil)
			dec, err := newObjectBodyDecoder(bytes.NewReader(z), int64(n))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(io.LimitReader(dec, int64(n)+1))
			dec.Close()
			if err != nil || !bytes.Equal(got, raw) {
				t.Errorf("%s of %d bytes: %v", kind, n, err)
			}
		}
	}
}
