package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/patchwire/patchwire/manifest"
)

// upgradeTxnBytes bounds the raw bytes one upgrade transaction rewrites
// (one object larger than it goes alone), and so the memory it holds; it
// rewrites deleteBatch objects at most.
const upgradeTxnBytes = 4 << 20

// upgradeLegacy rewrites live format-1 objects (one value at o/, written
// before chunking) as chunks, so that they too are served a chunk at a time
// with a CRC check instead of being read whole and hashed per request.
// Each object is read whole and verified (GetObject) first; one that does
// not verify is left as it is, for Verify to report. An object is rewritten
// only if its om/ record is still the one read (the transaction conflicts
// otherwise), keeping its encoding kind (zstd, or raw) and creation time.
// Readers never see a mix: a format-1 reader reads the object whole in one
// transaction. It returns how many objects it rewrote.
//
// Badger only: format-1 objects exist only in stores whose objects' bytes
// are Badger keys (no Options.Blobs), written before chunking.
func (s *Store) upgradeLegacy(ctx context.Context, ds []manifest.Digest) (int, error) {
	type item struct {
		record []byte // the format-1 om/ record read
		m      objectMeta
		chunks [][]byte
	}
	var batch []item
	size, done := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.ensureSpace(int64(size)); err != nil {
			batch, size = batch[:0], 0
			return fmt.Errorf("upgrade objects: %w", err)
		}
		n := 0
		err := s.updateData(ctx, func(txn kvTxn) error {
			n = 0
			for _, it := range batch {
				d := it.m.info.Digest
				cur, ok, err := getValue(txn, metaKey(d))
				if err != nil {
					return err
				}
				if !ok || !bytes.Equal(cur, it.record) {
					continue // deleted or rewritten since
				}
				if err := txn.Delete(objectKey(d)); err != nil {
					return err
				}
				if err := setObjectTxn(txn, it.m, it.chunks, it.m.info.CreatedAt); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		batch, size = batch[:0], 0
		if err != nil {
			return fmt.Errorf("upgrade objects: %w", err)
		}
		done += n
		return nil
	}
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		var record []byte
		err := s.view(ctx, func(txn kvTxn) error {
			var err error
			record, _, err = getValue(txn, metaKey(d))
			return err
		})
		if err != nil {
			return done, fmt.Errorf("upgrade objects: %w", err)
		}
		old, err := decodeObjectMeta(d, record)
		if err != nil || old.chunked() {
			continue
		}
		obj, err := s.GetObject(ctx, d)
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) {
			continue // logged by GetObject; Verify reports it
		}
		if err != nil {
			return done, fmt.Errorf("upgrade objects: %w", err)
		}
		if obj.Info != old.info {
			continue // rewritten between the two reads
		}
		m, chunks := s.layoutObject(d, obj.Raw, old.info.Encoding == EncodingZstd)
		m.info.CreatedAt = old.info.CreatedAt
		if size > 0 && size+len(obj.Raw) > upgradeTxnBytes || len(batch) == deleteBatch {
			if err := flush(); err != nil {
				return done, err
			}
		}
		batch = append(batch, item{record: record, m: m, chunks: chunks})
		size += len(obj.Raw)
	}
	return done, flush()
}
