package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/manifest"
)

// hashStream is what Verify hashes objects with: a SHA-256, a chunk
// buffer, and a streaming zstd decoder for format-1 objects (one frame of
// up to the whole object), so no object is ever held whole.
type hashStream struct {
	h   hash.Hash
	buf []byte
	zr  *zstd.Decoder
}

func newHashStream() (*hashStream, error) {
	zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(zstdWindow))
	if err != nil {
		return nil, err
	}
	return &hashStream{h: sha256.New(), buf: make([]byte, 0, maxStoredChunk(chunkSize)), zr: zr}, nil
}

func (hs *hashStream) close() { hs.zr.Close() }

// verifyObjectTxn reads object d in txn and checks that its bytes hash to
// d: ErrNotFound when it is absent, ErrCorrupt when anything does not
// verify.
func (s *Store) verifyObjectTxn(ctx context.Context, txn kvTxn, d manifest.Digest, hs *hashStream) (ObjectInfo, error) {
	m, err := getObjectMetaTxn(txn, d)
	if err != nil {
		return ObjectInfo{}, err
	}
	hs.h.Reset()
	var n int64
	if m.chunked() {
		for i := range m.chunks {
			b, err := s.readChunkTxn(ctx, txn, m, i, true, hs.buf)
			if err != nil {
				return m.info, err
			}
			hs.h.Write(b)
			n += int64(len(b))
			hs.buf = b[:0]
		}
		if m.external() {
			if err := s.checkBlobSize(ctx, m.info); err != nil {
				return m.info, err
			}
		}
	} else if n, err = hashLegacyTxn(txn, m.info, hs); err != nil {
		return m.info, err
	}
	if n != m.info.Size {
		return m.info, fmt.Errorf("object %s: %d raw bytes, meta says %d: %w", d, n, m.info.Size, ErrCorrupt)
	}
	if got := manifest.Digest(hs.h.Sum(nil)); got != d {
		return m.info, fmt.Errorf("object %s: bytes hash to %s: %w", d, got, ErrCorrupt)
	}
	return m.info, nil
}

// hashLegacyTxn hashes a format-1 object straight from Badger's value (no
// copy), decoding a zstd frame as a stream. It returns the raw length.
func hashLegacyTxn(txn kvTxn, info ObjectInfo, hs *hashStream) (int64, error) {
	d := info.Digest
	var n int64
	err := withValue(txn, objectKey(d), func(v []byte) error {
		if int64(len(v)) != info.StoredSize {
			return fmt.Errorf("object %s: %d bytes stored, meta says %d: %w", d, len(v), info.StoredSize, ErrCorrupt)
		}
		if info.Encoding == "" {
			hs.h.Write(v)
			n = int64(len(v))
			return nil
		}
		if err := hs.zr.Reset(bytes.NewReader(v)); err != nil {
			return fmt.Errorf("object %s: zstd: %v: %w", d, err, ErrCorrupt)
		}
		// One byte past the meta's size is enough to see it lies.
		var err error
		if n, err = io.Copy(hs.h, io.LimitReader(hs.zr, info.Size+1)); err != nil {
			return fmt.Errorf("object %s: zstd: %v: %w", d, err, ErrCorrupt)
		}
		return nil
	})
	if errors.Is(err, errKVNotFound) {
		return 0, fmt.Errorf("object %s: meta present, bytes absent: %w", d, ErrCorrupt)
	}
	if err != nil && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("object %s: value unreadable: %v: %w", d, err, ErrCorrupt)
	}
	return n, err
}

// verifyObjectKeys checks that object keys come in whole sets: every o/
// key has a format-1 om/ record, every oc/ key a format-2 record that
// counts it, and every record the keys holding its bytes. Keys are read
// without values; om/ records that do not decode are left to the
// referenced-object checks.
func verifyObjectKeys(txn kvTxn, add func(Problem)) error {
	metas := func(d manifest.Digest) (objectMeta, bool, error) {
		v, ok, err := getValue(txn, metaKey(d))
		if err != nil || !ok {
			return objectMeta{}, false, err
		}
		m, err := decodeObjectMeta(d, v)
		return m, err == nil, nil
	}
	orphan := func(key string, d manifest.Digest, detail string) {
		add(Problem{Kind: ProblemOrphanRecord, Key: key, Digest: d, Detail: detail})
	}
	err := scan(txn, []byte(pfxObject), false, func(key, v []byte) error {
		d, ok := digestFromKey(pfxObject, key)
		name := fmt.Sprintf("%s%x", pfxObject, key[len(pfxObject):])
		if !ok {
			orphan(name, d, "key is not prefix + 32-byte digest")
			return nil
		}
		m, ok, err := metas(d)
		switch {
		case err != nil:
			return err
		case !ok:
			orphan(name, d, fmt.Sprintf("no %s%s key", pfxMeta, d))
		case m.chunked():
			orphan(name, d, "the om/ record lists chunks")
		}
		return nil
	})
	if err != nil {
		return err
	}
	var last manifest.Digest
	var lastMeta objectMeta
	var lastOK, loaded bool
	err = scan(txn, []byte(pfxChunk), false, func(key, v []byte) error {
		d, i, ok := chunkFromKey(key)
		name := fmt.Sprintf("%s%x", pfxChunk, key[len(pfxChunk):])
		if !ok {
			orphan(name, d, "key is not prefix + 32-byte digest + uint32 index")
			return nil
		}
		name = fmt.Sprintf("%s%s/%d", pfxChunk, d, i)
		if !loaded || d != last { // a record is read once for all its chunks
			var err error
			if lastMeta, lastOK, err = metas(d); err != nil {
				return err
			}
			last, loaded = d, true
		}
		if !lastOK || !lastMeta.chunked() || i >= len(lastMeta.chunks) {
			orphan(name, d, fmt.Sprintf("no %s%s record listing it", pfxMeta, d))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return scan(txn, []byte(pfxMeta), true, func(key, v []byte) error {
		d, ok := digestFromKey(pfxMeta, key)
		if !ok {
			orphan(fmt.Sprintf("%s%x", pfxMeta, key[len(pfxMeta):]), d, "key is not prefix + 32-byte digest")
			return nil
		}
		m, err := decodeObjectMeta(d, v)
		if errors.Is(err, ErrCorrupt) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, k := range m.keys() {
			has, err := exists(txn, k)
			if err != nil {
				return err
			}
			if !has {
				orphan(fmt.Sprintf("%s%s", pfxMeta, d), d, fmt.Sprintf("no %s key", printableObjectKey(k)))
				return nil
			}
		}
		return nil
	})
}

// printableObjectKey names an o/ or oc/ key in problems and logs.
func printableObjectKey(k []byte) string {
	if d, i, ok := chunkFromKey(k); ok {
		return fmt.Sprintf("%s%s/%d", pfxChunk, d, i)
	}
	if d, ok := digestFromKey(pfxObject, k); ok {
		return fmt.Sprintf("%s%s", pfxObject, d)
	}
	return fmt.Sprintf("%x", k)
}
