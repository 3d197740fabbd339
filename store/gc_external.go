package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/patchwire/patchwire/manifest"
)

// sweepExternal is sweep for a store with a blob store: one object per
// transaction, under the object's lock (blob.go), and an external object's
// blob deleted after its record, so a reader that finds the record finds
// the bytes, and a PutObject waiting on the lock uploads the blob again.
// A blob whose delete fails is left for sweepOrphanBlobs.
func (s *Store) sweepExternal(ctx context.Context, del []manifest.Digest, epoch []byte) (removed int, stale bool, err error) {
	grace := s.opts.GCGrace
	for _, d := range del {
		unlock, err := s.lockBlob(ctx, d)
		if err != nil {
			return removed, false, fmt.Errorf("delete objects: %w", err)
		}
		var m objectMeta
		var keys int
		err = s.updateData(ctx, func(txn kvTxn) error {
			cur, _, err := getValue(txn, []byte(keyRefEpoch))
			if err != nil {
				return err
			}
			if !bytes.Equal(cur, epoch) {
				return errStale
			}
			m, keys, err = deleteObjectTxn(txn, d, s.opts.Now(), grace)
			return err
		})
		if err == nil && keys > 0 && m.external() {
			if e := s.blobs.DeleteBlob(ctx, d); e != nil {
				s.log.Error("gc: blob of a deleted object left behind (deleted by a later run)", "digest", d.String(), "err", e)
			}
		}
		unlock()
		switch {
		case errors.Is(err, errStale):
			return removed, true, nil
		case err != nil:
			return removed, false, fmt.Errorf("delete objects: %w", err)
		case keys > 0:
			removed++
		}
	}
	return removed, false, nil
}

// sweepOrphanBlobs deletes the blobs no om/ record names: left by a crash
// between a blob's upload and its record's write, or by a blob delete that
// failed. Each is checked again under its lock, so a blob being stored
// right now is kept. It returns how many it deleted.
//
// It lists the whole bucket, so it runs at most once per GCGrace (the first
// collection after start always runs it).
func (s *Store) sweepOrphanBlobs(ctx context.Context) (int, error) {
	now := s.opts.Now()
	if !s.orphanSweep.IsZero() && now.Sub(s.orphanSweep) < s.opts.GCGrace {
		return 0, nil
	}
	var orphans, batch []manifest.Digest
	check := func() error { // one read transaction per batch of listed blobs
		err := s.view(ctx, func(txn kvTxn) error {
			for _, d := range batch {
				ok, err := exists(txn, metaKey(d))
				if err != nil {
					return err
				}
				if !ok {
					orphans = append(orphans, d)
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	err := s.blobs.ListBlobs(ctx, func(d manifest.Digest, _ int64) error {
		if batch = append(batch, d); len(batch) == 1024 {
			return check()
		}
		return nil
	})
	if err == nil {
		err = check()
	}
	if err != nil {
		return 0, fmt.Errorf("orphan blobs: %w", err)
	}
	s.orphanSweep = now
	n := 0
	for _, d := range orphans {
		unlock, err := s.lockBlob(ctx, d)
		if err != nil {
			return n, fmt.Errorf("orphan blobs: %w", err)
		}
		ok, err := s.hasRecord(ctx, d)
		if err == nil && !ok {
			if err = s.blobs.DeleteBlob(ctx, d); err == nil {
				n++
			}
		}
		unlock()
		if err != nil {
			return n, fmt.Errorf("orphan blobs: %w", err)
		}
	}
	return n, nil
}

// hasRecord reports whether d has an om/ record.
func (s *Store) hasRecord(ctx context.Context, d manifest.Digest) (bool, error) {
	var ok bool
	err := s.view(ctx, func(txn kvTxn) error {
		var err error
		ok, err = exists(txn, metaKey(d))
		return err
	})
	return ok, err
}

// verifyBlobs is verifyObjectKeys for the blob store: every blob has an
// om/ record, every external record its blob.
func (s *Store) verifyBlobs(ctx context.Context, txn kvTxn, add func(Problem)) error {
	blobs := map[manifest.Digest]bool{}
	err := s.blobs.ListBlobs(ctx, func(d manifest.Digest, _ int64) error {
		blobs[d] = true
		ok, err := exists(txn, metaKey(d))
		if err == nil && !ok {
			add(Problem{Kind: ProblemOrphanRecord, Key: "blob " + d.String(), Digest: d, Detail: fmt.Sprintf("no %s%s record", pfxMeta, d)})
		}
		return err
	})
	if err != nil {
		return err
	}
	return scan(txn, []byte(pfxMeta), true, func(key, v []byte) error {
		d, ok := digestFromKey(pfxMeta, key)
		if !ok || blobs[d] {
			return nil
		}
		if m, err := decodeObjectMeta(d, v); err != nil || !m.external() {
			return nil // records that do not decode are the referenced-object checks' to report
		}
		add(Problem{Kind: ProblemOrphanRecord, Key: fmt.Sprintf("%s%s", pfxMeta, d), Digest: d, Detail: "no blob"})
		return nil
	})
}
