package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// Derived objects are objects computed from other content once and then
// kept: the zip of a bundle (built from its manifest) and the Brotli form of
// a file. They are ordinary content-addressed objects (o/, om/), served by
// their own digest like any other; what is derived is only remembered by a
// small mapping record from the source digest, so the work is done once per
// source however many bundles, apps or devices want it.
//
// No bundle manifest references a derived object, so the garbage collector
// marks them like any unreferenced object. Whoever serves them calls
// [Store.TouchDerived] at least every [Store.DerivedRefresh]: that clears the
// marks (and, like CommitBundle, rewrites the reference epoch), so an object
// in use is never deleted, and one nobody asks for any more is collected
// after the usual grace period. A mapping whose object was collected reads as
// absent, and the object is simply derived again.

// Key prefixes of the derived-object mappings (doc.go, "Key layout"). They
// live here rather than in layout.go because only this file uses them.
const (
	pfxDerivedZip    = "dz/"
	pfxDerivedBrotli = "br/"
)

// DerivedKind names what a derived object is derived as.
type DerivedKind string

// The kinds of derived object. The value is the key prefix of the mapping.
const (
	// DerivedZip maps a manifest digest to the object holding the bundle's
	// deterministic zip.
	DerivedZip DerivedKind = pfxDerivedZip
	// DerivedBrotli maps a file's digest to the object holding its Brotli
	// form, or records that Brotli did not make it smaller.
	DerivedBrotli DerivedKind = pfxDerivedBrotli
)

func (k DerivedKind) valid() bool { return k == DerivedZip || k == DerivedBrotli }

// Derived is what the store remembers about one source.
type Derived struct {
	// Known is false when nothing is recorded for the source (or the
	// recorded object has since been collected): derive it.
	Known bool
	// None records that deriving gave nothing worth keeping (a Brotli form
	// that is not smaller than the file); Object and Size are zero then.
	None bool
	// Object is the derived object's digest and Size its length in bytes.
	Object manifest.Digest
	Size   int64
}

// derived values: 32 bytes of digest, or the single byte derivedNone.
const derivedNone = 0

func derivedKey(kind DerivedKind, src manifest.Digest) []byte { return digestKey(string(kind), src) }

// GetDerived returns what is recorded for the sources srcs of kind, in input
// order, from one snapshot. A mapping whose object is no longer stored is
// reported as not Known.
func (s *Store) GetDerived(ctx context.Context, kind DerivedKind, srcs []manifest.Digest) ([]Derived, error) {
	if !kind.valid() {
		return nil, fmt.Errorf("get derived: kind %q: %w", kind, ErrInvalid)
	}
	out := make([]Derived, len(srcs))
	err := s.view(ctx, func(txn kvTxn) error {
		for i, src := range srcs {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			d, err := getDerivedTxn(txn, kind, src)
			if err != nil {
				return err
			}
			out[i] = d
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get derived: %w", err)
	}
	return out, nil
}

func getDerivedTxn(txn kvTxn, kind DerivedKind, src manifest.Digest) (Derived, error) {
	v, ok, err := getValue(txn, derivedKey(kind, src))
	if err != nil || !ok {
		return Derived{}, err
	}
	switch {
	case len(v) == 1 && v[0] == derivedNone:
		return Derived{Known: true, None: true}, nil
	case len(v) == manifest.DigestSize:
		obj := manifest.Digest(v)
		info, err := statTxn(txn, obj)
		if errors.Is(err, ErrNotFound) {
			return Derived{}, nil // collected: derive again
		}
		if err != nil {
			return Derived{}, err
		}
		return Derived{Known: true, Object: obj, Size: info.Size}, nil
	}
	// An unreadable mapping is only a lost cache entry: derive again.
	return Derived{}, nil
}

// DerivedItem is one derived form to record: Raw is stored as an object
// and mapped from Src; with None set, Raw is ignored and Src is recorded as
// having no form worth keeping.
type DerivedItem struct {
	Src  manifest.Digest
	Raw  []byte
	None bool
}

// maxDerivedTxnBytes bounds the small values one PutDerived transaction
// writes (values of valueThreshold and more go to the value log and count
// little towards Badger's transaction limit).
const maxDerivedTxnBytes = 2 << 20

// PutDerived stores items of kind: each Raw as an object (kept raw, never
// zstd: derived forms are compressed already) and the mapping from its
// Src. It returns the objects' digests in input order (zero for None
// items). Objects already stored are not rewritten. Items are written in as
// few transactions as the engine allows (errKVTooBig splits them), each
// one durable when it commits; an object larger than Limits.MaxFileBytes
// fails the call with a *manifest.Error (CodeTooLarge) before anything is
// written.
func (s *Store) PutDerived(ctx context.Context, kind DerivedKind, items []DerivedItem) ([]manifest.Digest, error) {
	if !kind.valid() {
		return nil, fmt.Errorf("put derived: kind %q: %w", kind, ErrInvalid)
	}
	objs := make([]manifest.Digest, len(items))
	var total int64
	for i, it := range items {
		total += int64(derivedTxnCost(it) + len(it.Raw))
		if it.None {
			continue
		}
		if lim := s.opts.Limits.MaxFileBytes; lim > 0 && int64(len(it.Raw)) > lim {
			return nil, &manifest.Error{Code: manifest.CodeTooLarge,
				Reason: fmt.Sprintf("derived object of %s is %d bytes, more than the limit of %d", it.Src, len(it.Raw), lim)}
		}
		objs[i] = manifest.Sum(it.Raw)
	}
	if err := s.ensureSpace(total); err != nil {
		return nil, fmt.Errorf("put derived: %w", err)
	}
	if s.blobs != nil {
		// The bytes go to the blob store first, each with its om/ record;
		// the mappings then commit as with Badger's bytes.
		for i, it := range items {
			if it.None {
				continue
			}
			if _, err := s.putExternal(ctx, objs[i], it.Raw); err != nil {
				return nil, fmt.Errorf("put derived: %w", err)
			}
		}
	}
	for start := 0; start < len(items); {
		end, size := start, 0
		for end < len(items) && (end == start || size+derivedTxnCost(items[end]) <= maxDerivedTxnBytes) {
			size += derivedTxnCost(items[end])
			end++
		}
		if err := s.putDerivedTxn(ctx, kind, items[start:end], objs[start:end]); err != nil {
			return nil, fmt.Errorf("put derived: %w", err)
		}
		start = end
	}
	return objs, nil
}

// derivedTxnCost estimates what an item adds to a transaction's size.
func derivedTxnCost(it DerivedItem) int {
	if it.None || len(it.Raw) >= valueThreshold {
		return 256
	}
	return 256 + len(it.Raw)
}

func (s *Store) putDerivedTxn(ctx context.Context, kind DerivedKind, items []DerivedItem, objs []manifest.Digest) error {
	err := s.updateData(ctx, func(txn kvTxn) error {
		var refs []manifest.Digest
		for i, it := range items {
			if it.None {
				if err := txn.Set(derivedKey(kind, it.Src), []byte{derivedNone}); err != nil {
					return err
				}
				continue
			}
			d := objs[i]
			have, err := exists(txn, metaKey(d))
			if err != nil {
				return err
			}
			if !have && s.blobs != nil {
				return fmt.Errorf("derived object %s was collected while being stored: try again", d)
			}
			if !have {
				m, chunks := s.layoutObject(d, it.Raw, false) // compressed already
				if err := setObjectTxn(txn, m, chunks, s.opts.Now()); err != nil {
					return err
				}
			}
			refs = append(refs, d)
			if err := txn.Set(derivedKey(kind, it.Src), d[:]); err != nil {
				return err
			}
		}
		if len(refs) == 0 {
			return nil
		}
		return addReferences(txn, refs)
	})
	if errors.Is(err, errKVTooBig) && len(items) > 1 {
		half := len(items) / 2
		if err := s.putDerivedTxn(ctx, kind, items[:half], objs[:half]); err != nil {
			return err
		}
		return s.putDerivedTxn(ctx, kind, items[half:], objs[half:])
	}
	return err
}

// DerivedRefresh is how often a derived object in use must be passed to
// TouchDerived so the garbage collector keeps it: a quarter of GCGrace.
func (s *Store) DerivedRefresh() time.Duration { return s.opts.GCGrace / 4 }

// TouchDerived tells the garbage collector that the objects objs are still
// in use: their GC marks are cleared in one transaction that also rewrites
// the reference epoch (so a sweep working from an older picture stops). It
// returns the digests of objs that are no longer stored, in input order;
// whoever holds them must derive them again.
func (s *Store) TouchDerived(ctx context.Context, objs []manifest.Digest) (missing []manifest.Digest, err error) {
	err = s.updateData(ctx, func(txn kvTxn) error {
		missing = missing[:0]
		present := make([]manifest.Digest, 0, len(objs))
		for _, d := range objs {
			ok, err := exists(txn, metaKey(d))
			if err != nil {
				return err
			}
			if ok {
				present = append(present, d)
			} else {
				missing = append(missing, d)
			}
		}
		if len(present) == 0 {
			return nil
		}
		return addReferences(txn, present)
	})
	if err != nil {
		return nil, fmt.Errorf("touch derived: %w", err)
	}
	return missing, nil
}
