package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"sync"

	"github.com/patchwire/patchwire/manifest"
)

// ObjectReader reads one stored object a chunk at a time: it holds at most
// one chunk (1 MiB) in memory, read in a short transaction of its own and
// checked against the CRC-32C its om/ record lists before any byte of it is
// returned. Opening one reads only the om/ record, so a HEAD or a 304 costs
// no value read. It implements io.ReadSeeker and io.ReaderAt over the raw
// bytes, or over the bytes as stored (see Stored).
//
// A chunk that fails its check is an error wrapping ErrCorrupt (and is
// logged); an object deleted by the garbage collector while being read is
// ErrNotFound. An object written by an older version as one value (format 1)
// is read whole on the first Read and verified against its SHA-256 instead.
//
// Read and Seek must not be called concurrently; ReadAt may be. Close
// releases the chunk buffer.
type ObjectReader struct {
	s       *Store
	ctx     context.Context
	m       objectMeta
	encoded bool  // reading the stored zstd stream, not the raw bytes
	size    int64 // length of the stream read
	off     int64 // Read and Seek position

	mu     sync.Mutex
	buf    []byte // bytes of chunk cur (in the stream read), from a pool
	shared bool   // buf is the chunk cache's (read only), not the pool's
	cur    int    // chunk in buf; -1: none
	start  int64  // offset of buf[0] in the stream
	legacy *Object
	err    error // first read error; sticky
}

// chunkPool holds chunk buffers, so a busy server does not allocate 1 MiB
// per request.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, maxStoredChunk(chunkSize)); return &b }}

// OpenObject opens d for reading its raw bytes; only the om/ record is
// read. An absent object is ErrNotFound. The reader uses ctx for every
// chunk it reads.
func (s *Store) OpenObject(ctx context.Context, d manifest.Digest) (*ObjectReader, error) {
	m, err := s.objectMeta(ctx, d)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			s.log.Error("corrupt object", "key", fmt.Sprintf("%s%s", pfxMeta, d), "err", err)
		}
		return nil, fmt.Errorf("open object: %w", err)
	}
	return &ObjectReader{s: s, ctx: ctx, m: m, size: m.info.Size, cur: -1}, nil
}

// Info describes the object.
func (r *ObjectReader) Info() ObjectInfo { return r.m.info }

// Size is the length of the stream the reader reads: Info().Size, or
// Info().StoredSize for a Stored reader.
func (r *ObjectReader) Size() int64 { return r.size }

// Stored returns a reader, positioned at 0, over the bytes as stored: when
// Info().Encoding is EncodingZstd, a zstd stream (one frame per chunk)
// that decodes to the object and may be sent as is with Content-Encoding:
// zstd; otherwise the raw bytes. It shares nothing mutable with r.
func (r *ObjectReader) Stored() *ObjectReader {
	n := &ObjectReader{s: r.s, ctx: r.ctx, m: r.m, size: r.m.info.Size, cur: -1}
	if r.m.info.Encoding != "" {
		n.encoded, n.size = true, r.m.info.StoredSize
	}
	return n
}

// Read implements io.Reader.
func (r *ObjectReader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Next returns the next at most max bytes from the Read position (fewer at
// a chunk's end) and moves the position past them, as Read would, but lends
// them: the slice is the reader's checked chunk, not a copy, so a body
// written from it is copied once less. It stays valid until the next call
// of any of the reader's methods, and Next must not run concurrently with
// them (nor with ReadAt). At the end it returns nil and io.EOF.
func (r *ObjectReader) Next(max int) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= r.size {
		r.release()
		return nil, io.EOF
	}
	if max <= 0 {
		return nil, nil
	}
	b, start, err := r.chunkAt(r.off)
	if err != nil {
		return nil, err
	}
	b = b[r.off-start:]
	b = b[:min(len(b), max)]
	r.off += int64(len(b))
	return b, nil
}

// Seek implements io.Seeker; it reads nothing.
func (r *ObjectReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return r.off, errors.New("object reader: bad whence")
	}
	if offset < 0 {
		return r.off, errors.New("object reader: negative position")
	}
	r.off = offset
	return offset, nil
}

// ReadAt implements io.ReaderAt.
func (r *ObjectReader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if off < 0 {
		return 0, errors.New("object reader: negative offset")
	}
	n := 0
	for n < len(p) {
		if off >= r.size {
			r.release()
			return n, io.EOF
		}
		b, start, err := r.chunkAt(off)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], b[off-start:])
		n += c
		off += int64(c)
	}
	if off >= r.size {
		r.release() // all read: keep no buffer while the last bytes go out
	}
	return n, nil
}

// Err returns the first error a read met, if any (io.EOF is none).
func (r *ObjectReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close releases the reader's buffer; it never fails.
func (r *ObjectReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
	return nil
}

func (r *ObjectReader) release() {
	r.dropBuf()
	r.legacy = nil
}

// dropBuf lets go of the chunk buffer: back to the pool when it is the
// pool's.
func (r *ObjectReader) dropBuf() {
	if r.buf != nil && !r.shared {
		b := r.buf[:0]
		chunkPool.Put(&b)
	}
	r.buf, r.cur, r.shared = nil, -1, false
}

// chunkAt returns the bytes of the chunk holding stream offset off and
// the offset of their first byte, reading the chunk if it is not the one
// in the buffer.
func (r *ObjectReader) chunkAt(off int64) ([]byte, int64, error) {
	if r.err != nil {
		return nil, 0, r.err
	}
	if !r.m.chunked() {
		return r.legacyBytes()
	}
	i := int(off / r.m.chunkRaw)
	if r.encoded {
		i = sort.Search(len(r.m.chunks), func(j int) bool { return r.m.storedAt[j+1] > off })
	}
	if i == r.cur {
		return r.buf, r.start, nil
	}
	key := chunkKeyOf(r.m, i, !r.encoded)
	b := r.s.chunks.get(key)
	if b != nil {
		r.dropBuf()
		r.shared = true
	} else {
		if r.buf == nil || r.shared {
			r.buf, r.shared = *chunkPool.Get().(*[]byte), false
		}
		var err error
		b, err = r.s.readChunk(r.ctx, r.m, i, !r.encoded, r.buf)
		if err != nil {
			r.release()
			r.err = err
			return nil, 0, err
		}
		r.s.chunks.put(key, b)
	}
	r.buf, r.cur, r.start = b, i, int64(i)*r.m.chunkRaw
	if r.encoded {
		r.start = r.m.storedAt[i]
	}
	return r.buf, r.start, nil
}

// legacyBytes reads a format-1 object whole, once, verified.
func (r *ObjectReader) legacyBytes() ([]byte, int64, error) {
	if r.legacy == nil {
		obj, err := r.s.GetObject(r.ctx, r.m.info.Digest)
		if err == nil && r.encoded && (obj.Info.Encoding != r.m.info.Encoding || int64(len(obj.Zstd)) != r.size) {
			// Rewritten as chunks (upgrade.go) since the record was read:
			// the raw bytes are the same, the stored stream is not.
			err = fmt.Errorf("object %s: rewritten while being read", r.m.info.Digest)
		}
		if err != nil {
			r.err = err
			return nil, 0, err
		}
		r.legacy = &obj
	}
	if r.encoded {
		return r.legacy.Zstd, 0, nil
	}
	return r.legacy.Raw, 0, nil
}

// readChunk reads chunk i of m in a transaction of its own (see
// readChunkTxn). A chunk missing because the object was deleted since m
// was read is ErrNotFound.
func (s *Store) readChunk(ctx context.Context, m objectMeta, i int, raw bool, buf []byte) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(txn kvTxn) error {
		var err error
		out, err = s.readChunkTxn(ctx, txn, m, i, raw, buf)
		if errors.Is(err, errChunkAbsent) {
			if ok, e := exists(txn, metaKey(m.info.Digest)); e == nil && !ok {
				return fmt.Errorf("object %s: deleted while being read: %w", m.info.Digest, ErrNotFound)
			}
		}
		return err
	})
	if m.external() && errors.Is(err, errChunkAbsent) {
		// The collector deletes the record first, then the blob: a record
		// gone by now means the object was deleted, not damaged.
		if ok, e := s.hasRecord(ctx, m.info.Digest); e == nil && !ok {
			err = fmt.Errorf("object %s: deleted while being read: %w", m.info.Digest, ErrNotFound)
		}
	}
	if errors.Is(err, ErrCorrupt) {
		key := fmt.Sprintf("%s%s/%d", pfxChunk, m.info.Digest, i)
		if m.external() {
			key = fmt.Sprintf("blob %s (chunk %d)", m.info.Digest, i)
		}
		s.log.Error("corrupt object", "key", key, "err", err)
	}
	return out, err
}

// errChunkAbsent marks a chunk key that is not there.
var errChunkAbsent = errors.New("chunk absent")

// readChunkTxn reads chunk i of m in txn into buf[:0] (growing it if need
// be): the stored bytes, or with raw the decoded ones; an external
// object's chunk comes from the blob store (readBlobChunk). The stored bytes
// must have the length and CRC-32C the record lists, and decode to the
// chunk's raw length; anything else is ErrCorrupt, and nothing is
// returned.
func (s *Store) readChunkTxn(ctx context.Context, txn kvTxn, m objectMeta, i int, raw bool, buf []byte) ([]byte, error) {
	if m.external() {
		return s.readBlobChunk(ctx, m, i, buf)
	}
	d, c := m.info.Digest, m.chunks[i]
	corrupt := func(why string, a ...any) error {
		return fmt.Errorf("object %s: chunk %d: %s: %w", d, i, fmt.Sprintf(why, a...), ErrCorrupt)
	}
	// Badger logs a value-log read that fails (a VerifyValueChecksum
	// mismatch, a pointer past the end of a truncated file) and yields an
	// empty value with no error: the length check is what turns that into
	// ErrCorrupt. On Badger the chunk is read in place (withValue).
	err := withValue(txn, chunkKey(d, i), func(v []byte) error {
		if len(v) != int(c.stored) {
			return corrupt("%d bytes stored, meta says %d", len(v), c.stored)
		}
		if crc32.Checksum(v, castagnoli) != c.crc {
			return corrupt("CRC-32C mismatch")
		}
		if !raw || m.info.Encoding == "" {
			buf = append(buf[:0], v...)
			return nil
		}
		out, err := s.dec.DecodeAll(v, buf[:0])
		if err != nil {
			return corrupt("zstd: %v", err)
		}
		buf = out
		return nil
	})
	if errors.Is(err, errKVNotFound) {
		return nil, fmt.Errorf("object %s: chunk %d: meta present, bytes absent: %w (%w)", d, i, ErrCorrupt, errChunkAbsent)
	}
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			err = corrupt("value unreadable: %v", err)
		}
		return nil, err
	}
	if raw && int64(len(buf)) != m.rawChunkLen(i) {
		return nil, corrupt("%d raw bytes, want %d", len(buf), m.rawChunkLen(i))
	}
	return buf, nil
}
