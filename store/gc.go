package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/patchwire/patchwire/manifest"
)

// GCStats reports one garbage collection.
type GCStats struct {
	Live           int  // stored objects referenced by a bundle or an unexpired upload session
	Removed        int  // objects deleted
	Marked         int  // objects newly marked unreferenced (deleted in a later run, after GCGrace)
	ReclaimedVlog  bool // whether value-log GC rewrote at least one file
	ExpiredUploads int  // expired upload sessions dropped
	Upgraded       int  // live objects of the format before chunking rewritten as chunks
	OrphanBlobs    int  // blobs no object record names, deleted (Options.Blobs only)
	OtherNode      bool // another node was collecting (PostgreSQL catalog): this run did nothing
}

// errStale stops a sweep whose picture of live objects is out of date.
var errStale = errors.New("references changed during the sweep")

// deleteKeys is about how many keys one GC delete transaction deletes:
// besides deleteBatch objects, their chunks count.
const deleteKeys = 4096

// gcAttempts bounds how often one CollectGarbage starts over because
// references changed while it swept.
const gcAttempts = 3

// CollectGarbage deletes objects nothing references any more. It is a
// mark-and-sweep over one consistent snapshot:
//
//  1. Expired upload sessions are dropped.
//  2. Live objects are those referenced by the manifest of any bundle or of
//     any unexpired upload session, and the patches mapped between two live
//     bundles' manifests or two live files (see PutPatch). If a bundle's
//     record or manifest cannot be read, nothing is deleted and the error is
//     returned.
//  3. A live object loses its GC mark, if it has one. An unreferenced
//     object without a mark is marked with the current time. One marked at
//     least GCGrace ago (and created at least GCGrace ago) is deleted: its
//     bytes (o/, or every oc/ chunk; with Options.Blobs its blob, after
//     the transaction: gc_external.go), om/ and gc/ in a transaction that
//     rereads its mark and the reference epoch, so it conflicts with a
//     concurrent CommitBundle or CreateUpload (see addReferences); when
//     references changed the sweep stops and starts over from a new
//     snapshot.
//  4. Live objects still in the format before chunking (one value at o/)
//     are rewritten as chunks (upgrade.go). With Options.Blobs, blobs no
//     om/ record names are deleted (gc_external.go).
//  5. Value-log GC runs (ratio 0.5) until it has nothing to rewrite.
//
// Only one collection runs at a time; the background loop calls it every
// GCInterval.
func (s *Store) CollectGarbage(ctx context.Context) (GCStats, error) {
	if s.readOnly != nil {
		return GCStats{}, fmt.Errorf("collect garbage: %w", s.readOnly)
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	var st GCStats
	unlock, ok, err := s.lockGC(ctx)
	if err != nil {
		return st, fmt.Errorf("collect garbage: %w", err)
	}
	if !ok {
		st.OtherNode = true
		return st, nil
	}
	defer unlock()
	n, err := s.dropExpiredUploads(ctx)
	st.ExpiredUploads = n
	if err != nil {
		return st, fmt.Errorf("collect garbage: %w", err)
	}
	var legacy []manifest.Digest
	for attempt := 1; ; attempt++ {
		live, marked, removed, stale, err := s.markAndSweep(ctx, &legacy)
		st.Live, st.Marked, st.Removed = live, st.Marked+marked, st.Removed+removed
		if err != nil {
			return st, fmt.Errorf("collect garbage: %w", err)
		}
		if !stale {
			break
		}
		if attempt == gcAttempts {
			s.log.Info("gc: references keep changing; sweep left for the next run")
			break
		}
	}
	if st.Upgraded, err = s.upgradeLegacy(ctx, legacy); err != nil {
		return st, fmt.Errorf("collect garbage: %w", err)
	}
	if s.blobs != nil {
		if st.OrphanBlobs, err = s.sweepOrphanBlobs(ctx); err != nil {
			return st, fmt.Errorf("collect garbage: %w", err)
		}
	}
	// Value-log GC is Badger's own (s.db): it reclaims the space of the
	// deleted values Badger keeps in its value log.
	for ctx.Err() == nil {
		err := s.db.RunValueLogGC(0.5)
		if err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				return st, fmt.Errorf("collect garbage: value log: %w", err)
			}
			break
		}
		st.ReclaimedVlog = true
	}
	return st, ctx.Err()
}

// gcSnapshot is what one mark-and-sweep works from.
type gcSnapshot struct {
	epoch   []byte
	live    map[manifest.Digest]bool
	objects map[manifest.Digest]time.Time // om/ keys and their creation time
	marks   map[manifest.Digest]time.Time // gc/ keys and their mark time
	legacy  []manifest.Digest             // objects of format 1 (one value at o/)
}

// markAndSweep marks and deletes from one snapshot; it sets *legacy to the
// live objects of format 1.
func (s *Store) markAndSweep(ctx context.Context, legacy *[]manifest.Digest) (live, marked, removed int, stale bool, err error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return 0, 0, 0, false, err
	}
	*legacy = (*legacy)[:0]
	for _, d := range snap.legacy {
		if snap.live[d] {
			*legacy = append(*legacy, d)
		}
	}
	now := s.opts.Now()
	grace := s.opts.GCGrace
	var unmark, mark, del []manifest.Digest
	for d, created := range snap.objects {
		t, isMarked := snap.marks[d]
		switch {
		case snap.live[d]:
			live++
			if isMarked {
				unmark = append(unmark, d)
			}
		case !isMarked:
			mark = append(mark, d)
		case now.Sub(t) >= grace && now.Sub(created) >= grace:
			del = append(del, d)
		}
	}
	for d := range snap.marks {
		if _, ok := snap.objects[d]; !ok {
			unmark = append(unmark, d) // a mark left without its object
		}
	}
	if err := s.writeMarks(ctx, unmark, mark, now); err != nil {
		return live, 0, 0, false, err
	}
	removed, stale, err = s.sweep(ctx, del, snap.epoch)
	return live, len(mark), removed, stale, err
}

// snapshot reads, in one transaction, the reference epoch, the live set,
// every object's creation time and every GC mark.
func (s *Store) snapshot(ctx context.Context) (gcSnapshot, error) {
	snap := gcSnapshot{
		live:    map[manifest.Digest]bool{},
		objects: map[manifest.Digest]time.Time{},
		marks:   map[manifest.Digest]time.Time{},
	}
	now := s.opts.Now()
	err := s.view(ctx, func(txn kvTxn) error {
		var err error
		if snap.epoch, _, err = getValue(txn, []byte(keyRefEpoch)); err != nil {
			return err
		}
		// Unexpired upload sessions. A session that does not decode is
		// logged and ignored: at worst its upload fails at commit with
		// missing objects; a bundle never loses one.
		err = scan(txn, []byte(pfxUpload), true, func(key, v []byte) error {
			h, z, err := decodeUploadHeader(key, v)
			if err == nil && !now.Before(h.ExpiresAt) {
				return nil
			}
			var m *manifest.Manifest
			if err == nil {
				m, err = s.decodeManifest(h.Manifest, z)
			}
			if err != nil {
				s.log.Error("gc: ignoring upload session that does not decode", "key", string(key), "err", err)
				return nil
			}
			for _, d := range m.Digests() {
				snap.live[d] = true
			}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
		// Bundles. Any failure here aborts the collection.
		seen := map[manifest.Digest]bool{}
		err = scan(txn, []byte(pfxBundle), true, func(key, v []byte) error {
			var r bundleRecord
			if err := decodeRecord(key, v, &r); err != nil {
				return err
			}
			if seen[r.Manifest] {
				return nil
			}
			seen[r.Manifest] = true
			m, err := s.loadManifestTxn(txn, r.Manifest)
			if err != nil {
				return fmt.Errorf("bundle %q: %w", key, err)
			}
			for _, e := range m.Entries() {
				snap.live[e.Digest] = true
			}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
		// Patches between live bundles or live files (patch.go).
		if err := s.livePatches(ctx, txn, snap.live, seen); err != nil {
			return err
		}
		err = scan(txn, []byte(pfxMeta), true, func(key, v []byte) error {
			d, ok := digestFromKey(pfxMeta, key)
			if !ok {
				return nil
			}
			m, err := decodeObjectMeta(d, v)
			if err != nil {
				// Unknown age: treat it as new, so it is kept a full grace.
				s.log.Error("gc: object meta does not decode", "key", fmt.Sprintf("%s%s", pfxMeta, d), "err", err)
				m.info.CreatedAt = now
			} else if !m.chunked() {
				snap.legacy = append(snap.legacy, d)
			}
			snap.objects[d] = m.info.CreatedAt
			return nil
		})
		if err != nil {
			return err
		}
		return scan(txn, []byte(pfxGCMark), true, func(key, v []byte) error {
			d, ok := digestFromKey(pfxGCMark, key)
			if !ok {
				return nil
			}
			if t, ok := decodeMark(v); ok {
				snap.marks[d] = t
			} else {
				snap.marks[d] = now // unreadable: restart the grace period
			}
			return nil
		})
	})
	return snap, err
}

// writeMarks removes the marks of unmark and marks mark with now. These
// writes need no conflict protection: a stale mark only delays deletion,
// and deletion requires a mark GCGrace old plus a fresh snapshot then.
func (s *Store) writeMarks(ctx context.Context, unmark, mark []manifest.Digest, now time.Time) error {
	const batch = 1024
	v := encodeMark(now)
	for len(unmark)+len(mark) > 0 {
		n, m := min(len(unmark), batch), 0
		if n < batch {
			m = min(len(mark), batch-n)
		}
		err := s.updateData(ctx, func(txn kvTxn) error {
			for _, d := range unmark[:n] {
				if err := txn.Delete(gcMarkKey(d)); err != nil {
					return err
				}
			}
			for _, d := range mark[:m] {
				if err := txn.Set(gcMarkKey(d), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write gc marks: %w", err)
		}
		unmark, mark = unmark[n:], mark[m:]
	}
	return nil
}

// sweep deletes the objects of del whose marks are still old enough, as
// long as the reference epoch is the snapshot's, in transactions of at most
// deleteBatch objects and about deleteKeys keys (all of an object's chunks
// go in the transaction that deletes its om/ record).
func (s *Store) sweep(ctx context.Context, del []manifest.Digest, epoch []byte) (removed int, stale bool, err error) {
	if s.blobs != nil {
		return s.sweepExternal(ctx, del, epoch)
	}
	grace := s.opts.GCGrace
	for len(del) > 0 {
		used, n := 0, 0
		err := s.updateData(ctx, func(txn kvTxn) error {
			used, n = 0, 0
			cur, _, err := getValue(txn, []byte(keyRefEpoch))
			if err != nil {
				return err
			}
			if !bytes.Equal(cur, epoch) {
				return errStale
			}
			now := s.opts.Now()
			keys := 0
			for _, d := range del {
				if used == deleteBatch || keys >= deleteKeys {
					break
				}
				used++
				_, k, err := deleteObjectTxn(txn, d, now, grace)
				if err != nil {
					return err
				}
				if k > 0 {
					keys += k
					n++
				}
			}
			return nil
		})
		if errors.Is(err, errStale) {
			return removed, true, nil
		}
		if err != nil {
			return removed, false, fmt.Errorf("delete objects: %w", err)
		}
		del = del[used:]
		removed += n
	}
	return removed, false, nil
}

// dropExpiredUploads deletes the upload sessions past their expiry.
func (s *Store) dropExpiredUploads(ctx context.Context) (int, error) {
	now := s.opts.Now()
	var expired [][]byte
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, []byte(pfxUpload), true, func(key, v []byte) error {
			h, _, err := decodeUploadHeader(key, v)
			if err == nil && !now.Before(h.ExpiresAt) {
				expired = append(expired, bytes.Clone(key))
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	total := len(expired)
	for len(expired) > 0 {
		batch := expired[:min(len(expired), 1024)]
		expired = expired[len(batch):]
		err := s.updateData(ctx, func(txn kvTxn) error {
			for _, k := range batch {
				if err := deleteUploadTxn(txn, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total - len(expired) - len(batch), fmt.Errorf("drop expired uploads: %w", err)
		}
	}
	return total, nil
}

// gcLoop runs CollectGarbage every GCInterval until ctx ends.
func (s *Store) gcLoop(ctx context.Context) {
	defer close(s.gcDone)
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		st, err := s.CollectGarbage(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			s.log.Error("gc failed", "err", err)
		default:
			lsm, vlog := s.Size()
			s.log.Info("gc done", "live", st.Live, "removed", st.Removed, "marked", st.Marked,
				"expired_uploads", st.ExpiredUploads, "vlog_reclaimed", st.ReclaimedVlog,
				"lsm_bytes", lsm, "vlog_bytes", vlog, "took", time.Since(start))
		}
	}
}

// deleteObjectTxn deletes object d in txn (its bytes' keys, om/ and gc/)
// if its mark and its creation are both at least grace old. It returns
// the record of the object deleted and the number of keys deleted (0:
// nothing was).
func deleteObjectTxn(txn kvTxn, d manifest.Digest, now time.Time, grace time.Duration) (objectMeta, int, error) {
	mv, ok, err := getValue(txn, gcMarkKey(d))
	if err != nil {
		return objectMeta{}, 0, err
	}
	t, okMark := decodeMark(mv)
	if !ok || !okMark || now.Sub(t) < grace {
		return objectMeta{}, 0, nil
	}
	mb, ok, err := getValue(txn, metaKey(d))
	if err != nil || !ok {
		return objectMeta{}, 0, err
	}
	m, err := decodeObjectMeta(d, mb)
	if err != nil || now.Sub(m.info.CreatedAt) < grace {
		return objectMeta{}, 0, nil
	}
	keys := append(m.keys(), metaKey(d), gcMarkKey(d))
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return objectMeta{}, 0, err
		}
	}
	return m, len(keys), nil
}
