package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// ObjectInfo describes a stored object without its bytes.
type ObjectInfo struct {
	Digest     manifest.Digest
	Size       int64     // raw size: the length of the bytes that hash to Digest
	StoredSize int64     // bytes kept on disk (the zstd frame when Encoding is "zstd")
	Encoding   string    // "" (raw) or EncodingZstd
	CreatedAt  time.Time // when the object was first stored
}

// Object is a stored object with its bytes.
type Object struct {
	Info ObjectInfo
	Raw  []byte // the bytes that hash to Info.Digest
	// Zstd is the stored zstd stream (one frame, or one frame per chunk);
	// nil unless Info.Encoding is "zstd".
	Zstd []byte
}

// worthCompressing reports whether a zstd frame saves enough to be stored
// instead of the raw bytes: at least 1/32 (about 3 %) of the raw size.
// Smaller savings are not worth a decompression on every read.
func worthCompressing(raw, compressed int) bool {
	return compressed < raw-raw/32
}

// PutObject stores raw under its digest d. It refuses bytes that do not
// hash to d with a *manifest.Error (CodeDigestMismatch), and objects larger
// than Limits.MaxFileBytes (CodeTooLarge); nothing is stored then. The
// object is stored in chunks (objectlayout.go), zstd-compressed when that
// is clearly smaller, all in one transaction. When PutObject returns nil
// the object is on stable storage.
//
// PutObject is idempotent: if d is already stored it returns created=false
// and rewrites nothing (it only clears a pending GC mark, since someone
// evidently still wants the object).
func (s *Store) PutObject(ctx context.Context, d manifest.Digest, raw []byte) (created bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if lim := s.opts.Limits.MaxFileBytes; lim > 0 && int64(len(raw)) > lim {
		return false, &manifest.Error{Code: manifest.CodeTooLarge,
			Reason: fmt.Sprintf("object %s is %d bytes, more than the limit of %d", d, len(raw), lim)}
	}
	if err := checkBlob(d, raw); err != nil {
		return false, err
	}

	// The common dedup case costs no compression and no write.
	have, err := s.touchObject(ctx, d)
	if err != nil || have {
		return false, err
	}
	if s.blobs != nil {
		return s.putExternal(ctx, d, raw)
	}
	return s.putBadger(ctx, d, raw)
}

// putBadger stores raw (verified to hash to d) as chunks in Badger with
// its om/ record, in one transaction.
func (s *Store) putBadger(ctx context.Context, d manifest.Digest, raw []byte) (created bool, err error) {
	if err := s.ensureSpace(int64(len(raw))); err != nil {
		return false, fmt.Errorf("put object %s: %w", d, err)
	}

	m, chunks := s.layoutObject(d, raw, true)
	err = s.updateData(ctx, func(txn kvTxn) error {
		created = false
		ok, err := exists(txn, metaKey(d))
		if err != nil || ok {
			return err // a concurrent PutObject won; its write is already durable
		}
		if err := setObjectTxn(txn, m, chunks, s.opts.Now()); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("put object %s: %w", d, err)
	}
	return created, nil
}

// touchObject reports whether d is stored and, if it is, removes its GC mark.
func (s *Store) touchObject(ctx context.Context, d manifest.Digest) (bool, error) {
	var have bool
	err := s.updateData(ctx, func(txn kvTxn) error {
		var err error
		if have, err = exists(txn, metaKey(d)); err != nil || !have {
			return err
		}
		marked, err := exists(txn, gcMarkKey(d))
		if err != nil || !marked {
			return err
		}
		return txn.Delete(gcMarkKey(d))
	})
	if err != nil {
		return false, fmt.Errorf("put object %s: %w", d, err)
	}
	return have, nil
}

// StatObject returns what the store knows about d without reading its
// bytes. An absent object is ErrNotFound.
func (s *Store) StatObject(ctx context.Context, d manifest.Digest) (ObjectInfo, error) {
	m, err := s.objectMeta(ctx, d)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat object: %w", err)
	}
	return m.info, nil
}

// objectMeta is d's decoded om/ record, from the metaCache when it keeps
// it, else read in a transaction of its own (and kept).
func (s *Store) objectMeta(ctx context.Context, d manifest.Digest) (objectMeta, error) {
	if m, ok := s.metas.get(d); ok {
		return m, nil
	}
	gen := s.metas.generation()
	var m objectMeta
	err := s.view(ctx, func(txn kvTxn) error {
		var err error
		m, err = getObjectMetaTxn(txn, d)
		return err
	})
	if err == nil {
		s.metas.put(d, m, gen)
	}
	return m, err
}

func statTxn(txn kvTxn, d manifest.Digest) (ObjectInfo, error) {
	m, err := getObjectMetaTxn(txn, d)
	return m.info, err
}

// getObjectMetaTxn reads and decodes the om/ record of d in txn: an absent
// record is ErrNotFound, one that does not decode ErrCorrupt.
func getObjectMetaTxn(txn kvTxn, d manifest.Digest) (objectMeta, error) {
	v, ok, err := getValue(txn, metaKey(d))
	if err != nil {
		return objectMeta{}, err
	}
	if !ok {
		return objectMeta{}, fmt.Errorf("object %s: %w", d, ErrNotFound)
	}
	return decodeObjectMeta(d, v)
}

// MissingObjects returns the digests of ds the store does not hold, in
// input order, each once. It reads only the small om/ records.
func (s *Store) MissingObjects(ctx context.Context, ds []manifest.Digest) ([]manifest.Digest, error) {
	missing := []manifest.Digest{}
	err := s.view(ctx, func(txn kvTxn) error {
		seen := make(map[manifest.Digest]bool, len(ds))
		for i, d := range ds {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if seen[d] {
				continue
			}
			seen[d] = true
			ok, err := exists(txn, metaKey(d))
			if err != nil {
				return err
			}
			if !ok {
				missing = append(missing, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("missing objects: %w", err)
	}
	return missing, nil
}

// GetObject returns the object d, decompressed, after checking that its
// bytes hash to d. Bytes that do not (a damaged disk, a damaged value log)
// are never returned: the error wraps ErrCorrupt and the key is logged. An
// absent object is ErrNotFound. It holds the whole object in memory (twice
// when stored zstd: Raw and Zstd); to serve an object, use OpenObject.
func (s *Store) GetObject(ctx context.Context, d manifest.Digest) (Object, error) {
	var obj Object
	err := s.view(ctx, func(txn kvTxn) error {
		m, err := getObjectMetaTxn(txn, d)
		if err != nil {
			return err
		}
		if m.chunked() {
			obj, err = s.readChunkedTxn(ctx, txn, m)
			return err
		}
		stored, ok, err := getValue(txn, objectKey(d))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("object %s: meta present, bytes absent: %w", d, ErrCorrupt)
		}
		obj, err = s.decodeObject(m.info, stored)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			s.log.Error("corrupt object", "key", fmt.Sprintf("%s%s", pfxObject, d), "err", err)
		}
		return Object{}, fmt.Errorf("get object: %w", err)
	}
	return obj, nil
}

// readChunkedTxn reads a format-2 object whole and verifies its SHA-256.
func (s *Store) readChunkedTxn(ctx context.Context, txn kvTxn, m objectMeta) (Object, error) {
	if err := s.checkRawSize(m.info); err != nil {
		return Object{}, err
	}
	obj := Object{Info: m.info, Raw: make([]byte, 0, m.info.Size)}
	var buf []byte
	if m.info.Encoding != "" {
		obj.Zstd = make([]byte, 0, m.info.StoredSize)
		buf = make([]byte, 0, maxStoredChunk(m.chunkRaw))
	}
	for i := range m.chunks {
		if m.info.Encoding == "" {
			b, err := s.readChunkTxn(ctx, txn, m, i, true, obj.Raw[len(obj.Raw):])
			if err != nil {
				return Object{}, err
			}
			obj.Raw = obj.Raw[:len(obj.Raw)+len(b)]
			continue
		}
		z, err := s.readChunkTxn(ctx, txn, m, i, false, buf)
		if err != nil {
			return Object{}, err
		}
		obj.Zstd = append(obj.Zstd, z...)
		if obj.Raw, err = s.dec.DecodeAll(z, obj.Raw); err != nil {
			return Object{}, fmt.Errorf("object %s: chunk %d: zstd: %v: %w", m.info.Digest, i, err, ErrCorrupt)
		}
	}
	return obj, s.checkObject(obj)
}

// checkRawSize refuses a record claiming more raw bytes than any object may
// hold, before anything is allocated for it.
func (s *Store) checkRawSize(info ObjectInfo) error {
	if lim := s.opts.Limits.MaxFileBytes; lim > 0 && info.Size > lim {
		return fmt.Errorf("object %s: meta claims %d raw bytes, more than any object may hold: %w", info.Digest, info.Size, ErrCorrupt)
	}
	return nil
}

// checkObject verifies an object read whole: its length and its SHA-256.
func (s *Store) checkObject(obj Object) error {
	d := obj.Info.Digest
	if int64(len(obj.Raw)) != obj.Info.Size {
		return fmt.Errorf("object %s: %d raw bytes, meta says %d: %w", d, len(obj.Raw), obj.Info.Size, ErrCorrupt)
	}
	if got := manifest.Sum(obj.Raw); got != d {
		return fmt.Errorf("object %s: bytes hash to %s: %w", d, got, ErrCorrupt)
	}
	return nil
}

// decodeObject turns the stored bytes of a format-1 object into an Object
// and verifies them.
func (s *Store) decodeObject(info ObjectInfo, stored []byte) (Object, error) {
	d := info.Digest
	obj := Object{Info: info}
	if int64(len(stored)) != info.StoredSize {
		return Object{}, fmt.Errorf("object %s: %d bytes stored, meta says %d: %w", d, len(stored), info.StoredSize, ErrCorrupt)
	}
	switch info.Encoding {
	case "":
		obj.Raw = stored
	case EncodingZstd:
		if err := s.checkRawSize(info); err != nil {
			return Object{}, err
		}
		raw, err := s.dec.DecodeAll(stored, make([]byte, 0, info.Size))
		if err != nil {
			return Object{}, fmt.Errorf("object %s: zstd: %v: %w", d, err, ErrCorrupt)
		}
		obj.Raw, obj.Zstd = raw, stored
	}
	return obj, s.checkObject(obj)
}
