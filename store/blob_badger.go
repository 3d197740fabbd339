package store

import (
	"context"
	"fmt"

	"github.com/patchwire/patchwire/manifest"
)

// BadgerBlobs returns the store's own bytes as a [Blobs]: each blob is an
// object kept in Badger (chunks, zstd when smaller, with its om/ record),
// the way a store without Options.Blobs keeps every object. The store uses
// these paths directly, inside the transactions that also write references;
// BadgerBlobs exposes them through the seam, so [BlobConformance] holds
// Badger and S3 to one contract.
func (s *Store) BadgerBlobs() Blobs { return badgerBlobs{s} }

type badgerBlobs struct{ s *Store }

func (b badgerBlobs) PutBlob(ctx context.Context, d manifest.Digest, raw []byte) error {
	if err := checkBlob(d, raw); err != nil {
		return err
	}
	_, err := b.s.putBadger(ctx, d, raw)
	return err
}

func (b badgerBlobs) ReadBlob(ctx context.Context, d manifest.Digest, p []byte, off int64) (int, error) {
	r, err := b.s.OpenObject(ctx, d)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return r.ReadAt(p, off)
}

func (b badgerBlobs) StatBlob(ctx context.Context, d manifest.Digest) (int64, error) {
	info, err := b.s.StatObject(ctx, d)
	return info.Size, err
}

func (b badgerBlobs) DeleteBlob(ctx context.Context, d manifest.Digest) error {
	err := b.s.updateData(ctx, func(txn kvTxn) error {
		v, ok, err := getValue(txn, metaKey(d))
		if err != nil || !ok {
			return err
		}
		m, err := decodeObjectMeta(d, v)
		if err != nil {
			return err
		}
		for _, k := range append(m.keys(), metaKey(d), gcMarkKey(d)) {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

func (b badgerBlobs) ListBlobs(ctx context.Context, fn func(d manifest.Digest, size int64) error) error {
	return b.s.view(ctx, func(txn kvTxn) error {
		return scan(txn, []byte(pfxMeta), true, func(key, v []byte) error {
			d, ok := digestFromKey(pfxMeta, key)
			if !ok {
				return nil
			}
			m, err := decodeObjectMeta(d, v)
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			return fn(d, m.info.Size)
		})
	})
}

// checkBlob refuses bytes that do not hash to d, as PutObject does.
func checkBlob(d manifest.Digest, raw []byte) error {
	if got := manifest.Sum(raw); got != d {
		return &manifest.Error{Code: manifest.CodeDigestMismatch,
			Reason: fmt.Sprintf("object bytes hash to %s, not %s", got, d)}
	}
	return nil
}
