package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/patchwire/patchwire/manifest"
)

// External objects (format 3, blob.go): the bytes are one blob in
// Options.Blobs, raw, so that the blob hashes to its name and a client
// redirected to it gets exactly the bytes the URL names; the om/ record
// keeps the chunk table with a CRC-32C per 1 MiB range, so reads check the
// blob's bytes a chunk at a time exactly as they check Badger's.

// putExternal stores raw (already verified to hash to d) as a blob and
// then writes its format-3 om/ record, under d's lock so the collector
// cannot delete the blob between the two. It reports whether the record
// is new.
func (s *Store) putExternal(ctx context.Context, d manifest.Digest, raw []byte) (bool, error) {
	unlock, err := s.lockBlob(ctx, d)
	if err != nil {
		return false, fmt.Errorf("put object %s: %w", d, err)
	}
	defer unlock()
	m, err := s.uploadExternal(ctx, d, raw)
	if err != nil || m == nil {
		return false, err
	}
	created := false
	err = s.updateData(ctx, func(txn kvTxn) error {
		created = false
		ok, err := exists(txn, metaKey(d))
		if err != nil || ok {
			return err
		}
		created = true
		return setObjectTxn(txn, *m, nil, s.opts.Now())
	})
	if err != nil {
		return false, fmt.Errorf("put object %s: %w", d, err)
	}
	return created, nil
}

// uploadExternal uploads raw as blob d, unless d's om/ record exists (then
// it returns nil), and returns the record to write. The caller holds d's
// lock.
func (s *Store) uploadExternal(ctx context.Context, d manifest.Digest, raw []byte) (*objectMeta, error) {
	var have bool
	err := s.view(ctx, func(txn kvTxn) error {
		var err error
		have, err = exists(txn, metaKey(d))
		return err
	})
	if err != nil || have {
		return nil, err
	}
	if err := s.blobs.PutBlob(ctx, d, raw); err != nil {
		return nil, fmt.Errorf("put object %s: %w", d, err)
	}
	m, _ := s.layoutObject(d, raw, false)
	m.version = metaVersionExternal
	return &m, nil
}

// readBlobChunk reads chunk i of the external object m from the blob
// store into buf[:0] and checks its length and CRC-32C like readChunkTxn
// checks a Badger chunk. A blob that is gone while its om/ record is still
// there is ErrCorrupt (errChunkAbsent); readChunk turns it into
// ErrNotFound when the record went too.
func (s *Store) readBlobChunk(ctx context.Context, m objectMeta, i int, buf []byte) ([]byte, error) {
	d, c := m.info.Digest, m.chunks[i]
	if s.blobs == nil {
		return nil, fmt.Errorf("object %s: its bytes are in external object storage (--objects), which this store was opened without", d)
	}
	n := int(c.stored)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	got, err := s.blobs.ReadBlob(ctx, d, buf, int64(i)*m.chunkRaw)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("object %s: chunk %d: meta present, blob absent: %w (%w)", d, i, ErrCorrupt, errChunkAbsent)
	case err == io.EOF && got < n || err != nil && err != io.EOF:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == io.EOF {
			return nil, fmt.Errorf("object %s: chunk %d: blob ends %d bytes early: %w", d, i, n-got, ErrCorrupt)
		}
		return nil, fmt.Errorf("object %s: chunk %d: read blob: %w", d, i, err)
	}
	if crc32.Checksum(buf, castagnoli) != c.crc {
		return nil, fmt.Errorf("object %s: chunk %d: CRC-32C mismatch: %w", d, i, ErrCorrupt)
	}
	return buf, nil
}

// checkBlobSize checks that the blob of an external object is exactly as
// long as the object: bytes appended to it would pass every chunk's check.
func (s *Store) checkBlobSize(ctx context.Context, info ObjectInfo) error {
	n, err := s.blobs.StatBlob(ctx, info.Digest)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("object %s: meta present, blob absent: %w", info.Digest, ErrCorrupt)
	case err != nil:
		return fmt.Errorf("object %s: stat blob: %w", info.Digest, err)
	case n != info.Size:
		return fmt.Errorf("object %s: blob is %d bytes, meta says %d: %w", info.Digest, n, info.Size, ErrCorrupt)
	}
	return nil
}

// External reports whether the object's bytes are a blob in the store's
// blob store (Options.Blobs), not Badger keys.
func (r *ObjectReader) External() bool { return r.m.external() }

// ObjectURL returns where a client may GET the bytes of the external
// object d itself, and how long (seconds, 0: forever) that answer may be
// cached, when the blob store hands out URLs (S3Blobs with Redirect); ok
// is false when the bytes are to be served by the caller.
func (s *Store) ObjectURL(ctx context.Context, d manifest.Digest) (url string, maxAge int64, ok bool, err error) {
	l, is := s.blobs.(BlobLocator)
	if !is {
		return "", 0, false, nil
	}
	return l.BlobURL(ctx, d)
}

// keyExternal marks a store that was opened with Options.Blobs, so a later
// start without them can be refused (ExternalObjects) before it fails on
// the first read of an external object.
const keyExternal = "s/objects-external"

// markExternal writes keyExternal when the store is opened with blobs
// (once), and remembers whether it is there.
func (s *Store) markExternal() error {
	ctx := context.Background()
	err := s.kv.View(ctx, func(txn kvTxn) error {
		var err error
		s.external, err = exists(txn, []byte(keyExternal))
		return err
	})
	if err != nil || s.external || s.blobs == nil || s.readOnly != nil {
		return err
	}
	s.external = true
	return s.kv.Update(ctx, func(txn kvTxn) error { return txn.Set([]byte(keyExternal), []byte{1}) })
}

// ExternalObjects reports whether the store was ever opened with
// Options.Blobs: some objects' bytes may then be in the blob store, and a
// server must not run without it. (A PostgreSQL catalog over the node's own
// Badger keeps its bytes there: false.)
func (s *Store) ExternalObjects() bool { return s.external && !s.localBlobs }
