package store

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/dgraph-io/badger/v4"

	"github.com/patchwire/patchwire/manifest"
)

// StateDigest returns the number of keys and a digest over every key and
// value in the store. Two equal results mean nothing stored changed in
// between, which is how tests prove that a refused request wrote nothing.
func (s *Store) StateDigest(ctx context.Context) (int, manifest.Digest, error) {
	h := manifest.NewHash()
	n := 0
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		var lenBuf [8]byte
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			for _, b := range [][]byte{item.Key(), v} {
				binary.BigEndian.PutUint64(lenBuf[:], uint64(len(b)))
				h.Write(lenBuf[:])
				h.Write(b)
			}
			n++
		}
		return nil
	})
	var d manifest.Digest
	h.Sum(d[:0])
	return n, d, err
}

// ListUploads returns the upload sessions that have not expired.
func (s *Store) ListUploads(ctx context.Context) ([]Upload, error) {
	var ids []string
	err := s.view(ctx, func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte(pfxUpload)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ids = append(ids, string(it.Item().Key()[len(pfxUpload):]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ups := []Upload{}
	for _, id := range ids {
		up, err := s.GetUpload(ctx, id)
		if err == nil {
			ups = append(ups, up)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	return ups, nil
}
