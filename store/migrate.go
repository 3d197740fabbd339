package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/patchwire/patchwire/manifest"
)

// Migration of a single-node store into the cluster setup (issue 12):
// objects' bytes into S3-compatible storage, the catalog into PostgreSQL.
//
// What moves. Every key of the source's catalog is copied as is, but for
// the objects: o/ and oc/ keys (an object's bytes in Badger) are Badger
// plumbing and are not copied; each such object is read whole and checked
// against its SHA-256, put in the blobs (which check the SHA-256 again),
// and its om/ record becomes format 3 (the same size and creation time, a
// chunk table of the raw bytes). Objects already external are checked to
// be in the destination's blobs at their size, and their records copied.
// Badger's own keys (!badger!…) are not the catalog's and are never seen.
//
// Marks. The destination's keyExternal and keyMigrated are written in the
// last transaction, after every key and every blob: a destination without
// keyMigrated is a migration not finished (--resume continues it). Moving
// objects only (no catalog target) rewrites the source in place, an
// object at a time (the blob first, then its record and the removal of its
// chunks in one transaction); there keyExternal is written first, since
// from the first rewritten record on the store needs its blobs, and every
// step leaves a store that reads whole.
//
// A catalog target without blobs is refused: with the catalog in
// PostgreSQL, objects' bytes cannot stay in Badger (chunks are Badger's
// own, setObjectTxn), and even a store whose objects are all external
// needs its bucket named to verify them.

// keyMigrated marks a catalog a migration wrote: JSON {from, at, keys,
// objects}, written last.
const keyMigrated = "s/migrated"

// MigrateTarget is where Migrate moves a store.
type MigrateTarget struct {
	// Blobs receives the objects' bytes (required).
	Blobs Blobs
	// Catalog is the PostgreSQL connection string of the destination
	// catalog; empty: the catalog stays in the source's Badger and only
	// the objects move (in place).
	Catalog string
	// Resume continues a migration into a destination catalog that is not
	// empty: keys already equal are skipped, objects whose format-3
	// record is there are not uploaded again.
	Resume bool
}

// MigrateProgress is what Migrate reports as it goes.
type MigrateProgress struct {
	Phase   string // "copy" or "verify"
	Keys    int64  // keys handled so far
	Objects int64  // objects handled so far
	Bytes   int64  // raw bytes of those objects
}

// MigrateReport is what a migration did and verified.
type MigrateReport struct {
	Keys        int64 // catalog keys written to the destination
	KeysSkipped int64 // keys already equal there (Resume)
	Objects     int64 // objects moved into the blobs
	Bytes       int64 // their raw bytes
	External    int64 // objects already in the blobs, checked there
	// Verified: read back through the destination.
	VerifiedKeys    int64 // keys in the destination catalog
	VerifiedObjects int64 // objects whose chunk CRCs and SHA-256 were checked
	VerifiedBytes   int64
	Bundles         int64 // bundle records whose manifest was loaded and checked
	Manifests       int64
}

// ErrMigrateNotEmpty: the destination catalog holds keys and Resume is
// not set.
var ErrMigrateNotEmpty = errors.New("the destination catalog is not empty")

// migrateBatch bounds one destination transaction: keys and value bytes.
const (
	migrateBatchKeys  = 256
	migrateBatchBytes = 4 << 20
)

// Migrate moves the store from (opened without a background GC, nothing
// else using it) to to, then verifies the destination: every object read
// back through it (each chunk's CRC-32C against the blob's bytes, and its
// SHA-256), every bundle's manifest loaded and its objects present. Any
// mismatch is an error naming the key or object.
func Migrate(ctx context.Context, from *Store, to MigrateTarget, progress func(MigrateProgress)) (MigrateReport, error) {
	if to.Blobs == nil {
		return MigrateReport{}, fmt.Errorf("migrate: %w: no object storage to move the objects to (a PostgreSQL catalog needs the objects' bytes in S3-compatible storage)", ErrInvalid)
	}
	if progress == nil {
		progress = func(MigrateProgress) {}
	}
	m := &migration{from: from, blobs: to.Blobs, resume: to.Resume, progress: progress, dst: from.kv, inPlace: true}
	if to.Catalog != "" {
		kv, err := openPGKV(ctx, to.Catalog, from.log)
		if err != nil {
			return MigrateReport{}, fmt.Errorf("migrate: destination catalog: %w", err)
		}
		defer kv.Close()
		m.dst, m.inPlace = kv, false
	} else if from.readOnly != nil {
		return MigrateReport{}, fmt.Errorf("migrate: moving objects in place needs the store writable: %w", from.readOnly)
	}
	if err := m.run(ctx); err != nil {
		return m.rep, fmt.Errorf("migrate: %w", err)
	}
	return m.rep, nil
}

// migration is one run of Migrate.
type migration struct {
	from     *Store
	dst      kvStore
	inPlace  bool // dst is from's own catalog: objects only
	blobs    Blobs
	resume   bool
	progress func(MigrateProgress)
	rep      MigrateReport

	batch      []kvPair
	batchBytes int
}

// kvPair is a key and its value waiting for the next batch.
type kvPair struct{ k, v []byte }

func (m *migration) report(phase string) {
	m.progress(MigrateProgress{Phase: phase, Keys: m.rep.Keys + m.rep.KeysSkipped, Objects: m.rep.Objects + m.rep.External, Bytes: m.rep.Bytes})
}

func (m *migration) run(ctx context.Context) error {
	if m.inPlace {
		if err := m.from.kv.Update(ctx, func(txn kvTxn) error { return txn.Set([]byte(keyExternal), []byte{1}) }); err != nil {
			return err
		}
		m.from.external = true
	} else if err := m.checkEmpty(ctx); err != nil {
		return err
	}
	if err := m.copy(ctx); err != nil {
		return err
	}
	if err := m.mark(ctx); err != nil {
		return err
	}
	return m.verify(ctx)
}

// checkEmpty refuses a destination catalog that holds a key, unless
// resuming.
func (m *migration) checkEmpty(ctx context.Context) error {
	var first []byte
	err := m.dst.View(ctx, func(txn kvTxn) error {
		return txn.Scan(nil, false, func(k, _ []byte) error {
			first = bytes.Clone(k)
			return errStopScan
		})
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return fmt.Errorf("destination catalog: %w", err)
	}
	if first != nil && !m.resume {
		return fmt.Errorf("%w (it holds %q, …): pass --resume to continue a migration into it", ErrMigrateNotEmpty, printableKey(first))
	}
	return nil
}

// copy walks every key of the source (Badger's own iterator: values are
// read only for the keys copied, never the objects' chunks).
func (m *migration) copy(ctx context.Context) error {
	txn := m.from.db.NewTransaction(false)
	defer txn.Discard()
	io := badger.DefaultIteratorOptions
	io.PrefetchValues = false
	it := txn.NewIterator(io)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		k := item.KeyCopy(nil)
		switch {
		case bytes.HasPrefix(k, []byte(pfxObject)), bytes.HasPrefix(k, []byte(pfxChunk)),
			string(k) == keyExternal, string(k) == keyMigrated:
			continue
		case m.inPlace && !bytes.HasPrefix(k, []byte(pfxMeta)):
			continue
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("source %s: %w", printableKey(k), err)
		}
		if bytes.HasPrefix(k, []byte(pfxMeta)) {
			if err := m.object(ctx, k, v); err != nil {
				return err
			}
			m.report("copy")
			continue
		}
		if err := m.add(ctx, k, v); err != nil {
			return err
		}
	}
	if err := m.flush(ctx); err != nil {
		return err
	}
	m.report("copy")
	return nil
}

// object moves one object: its om/ record k, v.
func (m *migration) object(ctx context.Context, k, v []byte) error {
	d, ok := digestFromKey(pfxMeta, k)
	if !ok {
		return fmt.Errorf("source %s: not an object record", printableKey(k))
	}
	om, err := decodeObjectMeta(d, v)
	if err != nil {
		return err
	}
	if om.external() {
		if err := m.from.checkBlobSizeIn(ctx, m.blobs, om.info); err != nil {
			return fmt.Errorf("%w (its bytes were already in object storage: give --to-objects the bucket the store ran with)", err)
		}
		m.rep.External++
		if m.inPlace {
			return nil
		}
		return m.add(ctx, k, v)
	}
	if m.resume && !m.inPlace {
		done, err := m.movedBefore(ctx, k, om)
		if err != nil || done {
			return err
		}
	}
	obj, err := m.from.GetObject(ctx, d) // hashes the bytes as it reads them
	if err != nil {
		return err
	}
	unlock := m.from.blobLocks.lock(d)
	defer unlock()
	if err := m.blobs.PutBlob(ctx, d, obj.Raw); err != nil {
		return fmt.Errorf("object %s: put blob: %w", d, err)
	}
	nm, _ := m.from.layoutObject(d, obj.Raw, false)
	nm.version = metaVersionExternal
	nm.info.CreatedAt = om.info.CreatedAt
	rec := encodeObjectMeta(nm)
	m.rep.Objects++
	m.rep.Bytes += om.info.Size
	if !m.inPlace {
		return m.add(ctx, k, rec)
	}
	// In place: the record and the removal of the chunks in one
	// transaction, after the blob is durable.
	err = m.from.updateData(ctx, func(txn kvTxn) error {
		for _, ck := range om.keys() {
			if err := txn.Delete(ck); err != nil {
				return err
			}
		}
		return txn.Set(k, rec)
	})
	if err != nil {
		return fmt.Errorf("object %s: record: %w", d, err)
	}
	m.rep.Keys++
	return nil
}

// movedBefore reports whether a resumed migration already wrote the
// object's format-3 record (after its blob): it is then skipped here and
// checked by the verification.
func (m *migration) movedBefore(ctx context.Context, k []byte, om objectMeta) (bool, error) {
	var have []byte
	err := m.dst.View(ctx, func(txn kvTxn) error {
		var err error
		have, _, err = getValue(txn, k)
		return err
	})
	if err != nil || have == nil {
		return false, err
	}
	hm, err := decodeObjectMeta(om.info.Digest, have)
	if err != nil || !hm.external() || hm.info.Size != om.info.Size || !hm.info.CreatedAt.Equal(om.info.CreatedAt) {
		return false, nil // rewritten below
	}
	m.rep.KeysSkipped++
	m.rep.External++
	return true, nil
}

// add queues k, v for the destination, flushing a full batch.
func (m *migration) add(ctx context.Context, k, v []byte) error {
	m.batch = append(m.batch, kvPair{k, v})
	m.batchBytes += len(k) + len(v)
	if len(m.batch) < migrateBatchKeys && m.batchBytes < migrateBatchBytes {
		return nil
	}
	return m.flush(ctx)
}

// flush writes the queued keys in one destination transaction (with
// Resume, only those not already equal).
func (m *migration) flush(ctx context.Context) error {
	if len(m.batch) == 0 {
		return nil
	}
	var wrote, skipped int64
	err := m.dst.Update(ctx, func(txn kvTxn) error {
		wrote, skipped = 0, 0
		for _, p := range m.batch {
			if m.resume {
				old, ok, err := getValue(txn, p.k)
				if err != nil {
					return err
				}
				if ok && bytes.Equal(old, p.v) {
					skipped++
					continue
				}
			}
			if err := txn.Set(p.k, p.v); err != nil {
				return err
			}
			wrote++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("destination catalog: write %d keys from %s: %w", len(m.batch), printableKey(m.batch[0].k), err)
	}
	m.rep.Keys += wrote
	m.rep.KeysSkipped += skipped
	m.batch, m.batchBytes = m.batch[:0], 0
	m.report("copy")
	return nil
}

// mark writes the destination's marks, last.
func (m *migration) mark(ctx context.Context) error {
	rec, err := json.Marshal(struct {
		From    string    `json:"from"`
		At      time.Time `json:"at"`
		Keys    int64     `json:"keys"`
		Objects int64     `json:"objects"`
	}{m.from.opts.Dir, m.from.now(), m.rep.Keys + m.rep.KeysSkipped, m.rep.Objects + m.rep.External})
	if err != nil {
		return err
	}
	return m.dst.Update(ctx, func(txn kvTxn) error {
		if err := txn.Set([]byte(keyExternal), []byte{1}); err != nil {
			return err
		}
		return txn.Set([]byte(keyMigrated), rec)
	})
}

// verify reads the destination back: every object (chunk CRCs against
// the blob, the blob's length, the SHA-256), every bundle's manifest, and
// that every object a manifest lists has its record.
func (m *migration) verify(ctx context.Context) error {
	v := readerOver(m.from, m.dst, m.blobs)
	hs, err := newHashStream()
	if err != nil {
		return err
	}
	defer hs.close()
	var problems []string
	bad := func(f string, a ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(f, a...))
		}
	}
	rep := &m.rep
	err = m.dst.View(ctx, func(txn kvTxn) error {
		objects := map[manifest.Digest]bool{}
		var metas []manifest.Digest
		var bundles []kvPair
		err := txn.Scan(nil, false, func(k, _ []byte) error {
			rep.VerifiedKeys++
			switch {
			case bytes.HasPrefix(k, []byte(pfxObject)), bytes.HasPrefix(k, []byte(pfxChunk)):
				if !m.inPlace {
					bad("%s: an object's Badger bytes in the destination catalog", printableKey(k))
				}
			case bytes.HasPrefix(k, []byte(pfxMeta)):
				d, ok := digestFromKey(pfxMeta, k)
				if !ok {
					bad("%s: not an object record", printableKey(k))
					break
				}
				metas = append(metas, d)
			case bytes.HasPrefix(k, []byte(pfxBundle)):
				bundles = append(bundles, kvPair{k: bytes.Clone(k)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range metas {
			if err := ctx.Err(); err != nil {
				return err
			}
			om, err := getObjectMetaTxn(txn, d)
			if err == nil && !om.external() {
				err = fmt.Errorf("object %s: its bytes are still in Badger (format %d)", d, om.version)
			}
			if err == nil {
				_, err = v.verifyObjectTxn(ctx, txn, d, hs)
			}
			if err != nil {
				bad("%v", err)
				continue
			}
			objects[d] = true
			rep.VerifiedObjects++
			rep.VerifiedBytes += om.info.Size
			if rep.VerifiedObjects%64 == 0 {
				m.progress(MigrateProgress{Phase: "verify", Keys: rep.VerifiedKeys, Objects: rep.VerifiedObjects, Bytes: rep.VerifiedBytes})
			}
		}
		seen := map[manifest.Digest]bool{}
		for _, b := range bundles {
			app, version := splitBundleKey(b.k)
			val, _, err := getValue(txn, b.k)
			if err != nil {
				return err
			}
			var r bundleRecord
			if err := decodeRecord(b.k, val, &r); err != nil {
				bad("bundle %s@%s: %v", app, version, err)
				continue
			}
			rep.Bundles++
			if seen[r.Manifest] {
				continue
			}
			seen[r.Manifest] = true
			z, ok, err := getValue(txn, manifestKey(r.Manifest))
			if err != nil {
				return err
			}
			if !ok {
				bad("bundle %s@%s: manifest %s absent", app, version, r.Manifest)
				continue
			}
			man, err := v.decodeManifest(r.Manifest, z)
			if err != nil {
				bad("bundle %s@%s: %v", app, version, err)
				continue
			}
			rep.Manifests++
			for _, d := range man.Digests() {
				if !objects[d] {
					bad("bundle %s@%s: object %s absent or not verified", app, version, d)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	m.progress(MigrateProgress{Phase: "verify", Keys: rep.VerifiedKeys, Objects: rep.VerifiedObjects, Bytes: rep.VerifiedBytes})
	if len(problems) > 0 {
		return fmt.Errorf("verify: %w: %s", ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

// readerOver is a Store over the catalog kv and blobs, for reading them
// (what a node of the cluster sees) with s's decoder and limits: no GC,
// no writes.
func readerOver(s *Store, kv kvStore, blobs Blobs) *Store {
	return &Store{kv: kv, blobs: blobs, dec: s.dec, opts: s.opts, log: s.log, cache: newManifestCache(16)}
}

// checkBlobSizeIn is checkBlobSize against blobs other than the store's.
func (s *Store) checkBlobSizeIn(ctx context.Context, blobs Blobs, info ObjectInfo) error {
	v := &Store{blobs: blobs}
	return v.checkBlobSize(ctx, info)
}

// printableKey names a key in errors: its prefix as text, the rest hex
// when it is a digest, else quoted.
func printableKey(k []byte) string {
	for _, p := range []string{pfxMeta, pfxChunk, pfxObject, pfxManifest, pfxGCMark} {
		if d, ok := digestFromKey(p, k); ok {
			return p + d.String()
		}
	}
	return fmt.Sprintf("%q", k)
}
