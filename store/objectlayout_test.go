package store

import (
	"bytes"
	"testing"

	"github.com/patchwire/patchwire/manifest"
)

// FuzzObjectMeta decodes arbitrary om/ records, as a damaged disk could
// leave them: never a panic, and a record that decodes is consistent (its
// chunks add up to its sizes) and encodes back to the same bytes.
func FuzzObjectMeta(f *testing.F) {
	s, _ := newTestStore(f)
	for _, raw := range [][]byte{nil, []byte("x"), compressible(3000, "f"), randomBytes(f, 2500)} {
		m, _ := s.layoutChunks(manifest.Sum(raw), raw, true, 1000)
		f.Add(encodeObjectMeta(m))
		f.Add(encodeMeta(m.info))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeObjectMeta(manifest.Digest{}, b)
		if err != nil {
			return
		}
		if !m.chunked() {
			if !bytes.Equal(encodeMeta(m.info), b) {
				t.Fatalf("format-1 record %x does not round-trip", b)
			}
			return
		}
		var stored, rawSize int64
		for i, c := range m.chunks {
			stored += int64(c.stored)
			rawSize += m.rawChunkLen(i)
			if m.rawChunkLen(i) <= 0 || int64(c.stored) > maxStoredChunk(m.chunkRaw) {
				t.Fatalf("chunk %d: raw %d, stored %d", i, m.rawChunkLen(i), c.stored)
			}
		}
		if stored != m.info.StoredSize || rawSize != m.info.Size || m.storedAt[len(m.chunks)] != stored {
			t.Fatalf("chunks add up to %d stored, %d raw; record says %d, %d", stored, rawSize, m.info.StoredSize, m.info.Size)
		}
		if !bytes.Equal(encodeObjectMeta(m), b) {
			t.Fatalf("record %x does not round-trip", b)
		}
	})
}
