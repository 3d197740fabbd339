package store

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/patchwire/patchwire/manifest"
)

// StateDigest returns the number of keys and a digest over every key and
// value in the store. Two equal results mean nothing stored changed in
// between, which is how tests prove that a refused request wrote nothing.
func (s *Store) StateDigest(ctx context.Context) (int, manifest.Digest, error) {
	h := manifest.NewHash()
	n := 0
	err := s.view(ctx, func(txn kvTxn) error {
		var lenBuf [8]byte
		return scan(txn, nil, true, func(key, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			for _, b := range [][]byte{key, v} {
				binary.BigEndian.PutUint64(lenBuf[:], uint64(len(b)))
				h.Write(lenBuf[:])
				h.Write(b)
			}
			n++
			return nil
		})
	})
	var d manifest.Digest
	h.Sum(d[:0])
	return n, d, err
}

// ListUploads returns the upload sessions that have not expired.
func (s *Store) ListUploads(ctx context.Context) ([]Upload, error) {
	var ids []string
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, []byte(pfxUpload), false, func(key, _ []byte) error {
			ids = append(ids, string(key[len(pfxUpload):]))
			return nil
		})
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
