package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// Object layout (doc.go, "Objects"). An object written by this version is
// format 2: its bytes are cut into chunks of chunkSize raw bytes (the last
// one shorter), each stored under its own key oc/<digest><uint32 BE index>,
// raw or as its own zstd frame (all chunks of an object alike, so the
// concatenated frames are one valid zstd stream to send as is). The om/
// record lists every chunk's stored size and CRC-32C, so a reader can seek
// in either form and check each chunk as it reads it, without a SHA-256 of
// the whole object per request. Format 1 (one value at o/<digest>, written
// by older versions) is still read.
const (
	pfxChunk = "oc/"
	// chunkSize is the raw size of a chunk: the most one reader holds in
	// memory at a time, and the unit of every read.
	chunkSize = 1 << 20

	// maxChunkRaw bounds the chunk size a record may claim, so a damaged
	// record cannot make a reader allocate more.
	maxChunkRaw = 16 << 20

	metaVersionChunked = 2
	// metaVersionExternal is format 2 whose chunks are not in Badger but
	// ranges of a blob in Options.Blobs (raw, never zstd): the record and
	// its CRC-32Cs stay in the catalog, only the bytes move (blob.go).
	metaVersionExternal = 3
	metaChunkedHead     = metaLen + 8 // header, chunk raw size, chunk count
	metaChunkEntry      = 8           // stored size, CRC-32C
)

// Integrity. A SHA-256 of the whole object is checked when it is written
// (PutObject), when it is read whole (GetObject) and by the scrub (Verify).
// Each read of a chunk is checked against its CRC-32C in the om/ record,
// which catches a damaged chunk wherever Badger keeps it (LSM table or
// value log) before any of its bytes are returned; and Badger checks its
// own CRC of every value-log entry it reads (VerifyValueChecksum), which
// costs one more CRC-32C pass (BenchmarkObjectReader measures both).

// verifyValueChecksum is Badger's VerifyValueChecksum; only benchmarks
// turn it off, to measure it.
var verifyValueChecksum = true

// castagnoli is the CRC-32C table of chunk checksums (hardware-accelerated
// on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkKey is the key of chunk i of object d.
func chunkKey(d manifest.Digest, i int) []byte {
	return binary.BigEndian.AppendUint32(digestKey(pfxChunk, d), uint32(i))
}

// chunkFromKey parses an oc/ key.
func chunkFromKey(k []byte) (manifest.Digest, int, bool) {
	d, ok := digestFromKey(pfxChunk, k[:min(len(k), len(pfxChunk)+manifest.DigestSize)])
	if !ok || len(k) != len(pfxChunk)+manifest.DigestSize+4 {
		return d, 0, false
	}
	return d, int(binary.BigEndian.Uint32(k[len(k)-4:])), true
}

// chunkRef is one chunk's entry in a format-2 om/ record.
type chunkRef struct {
	stored uint32 // bytes kept under the chunk key
	crc    uint32 // CRC-32C of those bytes
}

// objectMeta is a decoded om/ record.
type objectMeta struct {
	info     ObjectInfo
	version  byte       // 1: one value at o/; 2: chunks at oc/
	chunkRaw int64      // raw bytes per chunk (format 2)
	chunks   []chunkRef // format 2
	// storedAt[i] is the offset of chunk i in the stored stream
	// (len(chunks)+1 entries), filled by decodeObjectMeta.
	storedAt []int64
}

// chunked reports whether the object is stored as chunks (format 2, or 3
// with the chunks in the blob store).
func (m objectMeta) chunked() bool {
	return m.version == metaVersionChunked || m.version == metaVersionExternal
}

// external reports whether the object's bytes are a blob in Options.Blobs
// (format 3), not Badger keys.
func (m objectMeta) external() bool { return m.version == metaVersionExternal }

// rawChunkLen is the raw length of chunk i.
func (m objectMeta) rawChunkLen(i int) int64 {
	return min(m.chunkRaw, m.info.Size-int64(i)*m.chunkRaw)
}

// keys returns every Badger key holding the object's bytes (none for an
// external object).
func (m objectMeta) keys() [][]byte {
	if m.external() {
		return nil
	}
	if !m.chunked() {
		return [][]byte{objectKey(m.info.Digest)}
	}
	ks := make([][]byte, len(m.chunks))
	for i := range ks {
		ks[i] = chunkKey(m.info.Digest, i)
	}
	return ks
}

// encodeObjectMeta encodes a format-2 record:
//
//	[0:26]  as format 1 (metaVersion 2 in [0])
//	[26:30] chunk raw size, big-endian uint32
//	[30:34] chunk count n, big-endian uint32
//	then n × (stored size, CRC-32C of the stored bytes), big-endian uint32 each
//
// A format-3 record (external) is laid out the same, with 3 in [0].
func encodeObjectMeta(m objectMeta) []byte {
	b := encodeMeta(m.info)
	b[0] = metaVersionChunked
	if m.external() {
		b[0] = metaVersionExternal
	}
	b = binary.BigEndian.AppendUint32(b, uint32(m.chunkRaw))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.chunks)))
	for _, c := range m.chunks {
		b = binary.BigEndian.AppendUint32(b, c.stored)
		b = binary.BigEndian.AppendUint32(b, c.crc)
	}
	return b
}

// decodeObjectMeta decodes an om/ record of either format and checks that
// it is consistent: sizes, chunk count and stored sizes add up.
func decodeObjectMeta(d manifest.Digest, b []byte) (objectMeta, error) {
	bad := func(why string) (objectMeta, error) {
		return objectMeta{}, fmt.Errorf("object %s: meta record of %d bytes does not decode: %s: %w", d, len(b), why, ErrCorrupt)
	}
	if len(b) < metaLen || b[1] > encZstd {
		return bad("header")
	}
	m := objectMeta{version: b[0], info: ObjectInfo{
		Digest:     d,
		Size:       int64(binary.BigEndian.Uint64(b[2:])),
		StoredSize: int64(binary.BigEndian.Uint64(b[10:])),
		CreatedAt:  time.Unix(0, int64(binary.BigEndian.Uint64(b[18:]))),
	}}
	if b[1] == encZstd {
		m.info.Encoding = EncodingZstd
	}
	if m.info.Size < 0 || m.info.StoredSize < 0 {
		return bad("negative sizes")
	}
	switch {
	case m.version == metaVersion && len(b) == metaLen:
		return m, nil
	case !m.chunked() || len(b) < metaChunkedHead:
		return bad("unknown format")
	case m.external() && m.info.Encoding != "":
		return bad("external object stored zstd")
	}
	m.chunkRaw = int64(binary.BigEndian.Uint32(b[metaLen:]))
	n := int64(binary.BigEndian.Uint32(b[metaLen+4:]))
	if m.chunkRaw == 0 || m.chunkRaw > maxChunkRaw || int64(len(b)) != metaChunkedHead+n*metaChunkEntry || n != (m.info.Size+m.chunkRaw-1)/m.chunkRaw {
		return bad("chunk table")
	}
	m.chunks = make([]chunkRef, n)
	m.storedAt = make([]int64, n+1)
	for i := range m.chunks {
		e := b[metaChunkedHead+i*metaChunkEntry:]
		c := chunkRef{stored: binary.BigEndian.Uint32(e), crc: binary.BigEndian.Uint32(e[4:])}
		if m.info.Encoding == "" && int64(c.stored) != m.rawChunkLen(i) ||
			int64(c.stored) > maxStoredChunk(m.chunkRaw) {
			return bad("chunk size")
		}
		m.chunks[i] = c
		m.storedAt[i+1] = m.storedAt[i] + int64(c.stored)
	}
	if m.storedAt[n] != m.info.StoredSize {
		return bad("stored sizes")
	}
	return m, nil
}

// maxStoredChunk bounds a stored chunk: a zstd frame of incompressible
// bytes is a little larger than they are.
func maxStoredChunk(chunkRaw int64) int64 { return chunkRaw + chunkRaw/64 + 64 }

// layoutObject cuts raw into chunks and, when compress is set, zstd-encodes
// every chunk; the encoded chunks are kept only when together they save
// enough (worthCompressing). Raw chunks are slices of raw, not copies.
// info.CreatedAt is left for the writer to set.
func (s *Store) layoutObject(d manifest.Digest, raw []byte, compress bool) (objectMeta, [][]byte) {
	return s.layoutChunks(d, raw, compress, chunkSize)
}

// layoutChunks is layoutObject with chunks of size raw bytes (tests use
// small ones).
func (s *Store) layoutChunks(d manifest.Digest, raw []byte, compress bool, size int) (objectMeta, [][]byte) {
	n := (len(raw) + size - 1) / size
	m := objectMeta{version: metaVersionChunked, chunkRaw: int64(size), chunks: make([]chunkRef, n),
		info: ObjectInfo{Digest: d, Size: int64(len(raw))}}
	chunks := make([][]byte, n)
	for i := range chunks {
		chunks[i] = raw[i*size : min(len(raw), (i+1)*size)]
	}
	if compress && len(raw) > 0 {
		z := make([][]byte, n)
		total := 0
		for i, c := range chunks {
			z[i] = s.enc.EncodeAll(c, make([]byte, 0, len(c)/2))
			total += len(z[i])
		}
		if worthCompressing(len(raw), total) {
			chunks, m.info.Encoding = z, EncodingZstd
		}
	}
	for i, c := range chunks {
		m.chunks[i] = chunkRef{stored: uint32(len(c)), crc: crc32.Checksum(c, castagnoli)}
		m.info.StoredSize += int64(len(c))
	}
	return m, chunks
}

// setObjectTxn writes an object laid out by layoutObject: its chunks and
// its om/ record, created now, in txn. Chunks (objects' bytes kept in the
// catalog's engine) are Badger's: with Badger as the kvStore and its own
// blobs, the chunk writes and the record are one Badger transaction. An
// external object (format 3) has no chunks here: its bytes went to the
// blob store first.
func setObjectTxn(txn kvTxn, m objectMeta, chunks [][]byte, now time.Time) error {
	m.info.CreatedAt = now
	for i, c := range chunks {
		if err := txn.Set(chunkKey(m.info.Digest, i), c); err != nil {
			return err
		}
	}
	return txn.Set(metaKey(m.info.Digest), encodeObjectMeta(m))
}
