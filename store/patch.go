package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// Patches. A patch is an ordinary object (o/, om/), found through a
// mapping from what it connects: (codec, kind, from, to) → the patch
// object's digest and size (dp/ keys). Bundle patches connect manifest
// digests, per-file patches file digests. The mapping is made once and
// shared by every device taking that step.
//
// A mapping may also record that the patch was made and found useless (no
// smaller than what it replaces): its digest is zero and no object is
// kept, so nobody makes it again.
//
// The garbage collector keeps a patch object while its mapping connects
// live things (both manifests are bundles', both files are referenced by a
// bundle or an upload session); see livePatches.

const pfxPatch = "dp/"

// maxCodecName bounds a codec name in a key.
const maxCodecName = 32

// PatchKey names a patch by what it connects.
type PatchKey struct {
	Codec  string          // the codec's wire name ("zstd-dict", "bsdiff")
	From   manifest.Digest // manifest digest (Bundle) or file digest
	To     manifest.Digest
	Bundle bool // a bundle patch, else a per-file patch
}

// Patch is a stored mapping.
type Patch struct {
	Key PatchKey
	// Digest is the patch object's SHA-256, zero when the patch was made
	// and found useless (nothing stored).
	Digest    manifest.Digest
	Size      int64
	CreatedAt time.Time
}

// Useless reports whether the mapping only records that the patch is not
// worth storing.
func (p Patch) Useless() bool { return p.Digest.IsZero() }

// Patch kinds in keys.
const (
	patchKindFile   = 'f'
	patchKindBundle = 'b'
)

// patchKey is dp/<codec>\x00<kind><from><to>.
func patchKey(k PatchKey) ([]byte, error) {
	if err := validCodecName(k.Codec); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(pfxPatch)+len(k.Codec)+2+2*manifest.DigestSize)
	b = append(b, pfxPatch...)
	b = append(b, k.Codec...)
	b = append(b, 0)
	if k.Bundle {
		b = append(b, patchKindBundle)
	} else {
		b = append(b, patchKindFile)
	}
	b = append(b, k.From[:]...)
	return append(b, k.To[:]...), nil
}

// parsePatchKey reverses patchKey.
func parsePatchKey(b []byte) (PatchKey, bool) {
	var k PatchKey
	rest, ok := bytes.CutPrefix(b, []byte(pfxPatch))
	if !ok {
		return k, false
	}
	codec, rest, ok := bytes.Cut(rest, []byte{0})
	if !ok || len(rest) != 1+2*manifest.DigestSize || (rest[0] != patchKindFile && rest[0] != patchKindBundle) {
		return k, false
	}
	k.Codec, k.Bundle = string(codec), rest[0] == patchKindBundle
	copy(k.From[:], rest[1:])
	copy(k.To[:], rest[1+manifest.DigestSize:])
	return k, true
}

// validCodecName accepts 1..32 bytes of [a-z0-9-].
func validCodecName(c string) error {
	if c == "" || len(c) > maxCodecName {
		return invalid("codec", c, "want 1 to 32 characters")
	}
	for i := 0; i < len(c); i++ {
		if ch := c[i]; !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-') {
			return invalid("codec", c, "want only a-z, 0-9 and '-'")
		}
	}
	return nil
}

// Patch records (dp/ values), 49 bytes:
//
//	[0]     format version (1)
//	[1:33]  patch object digest (zero: useless, nothing stored)
//	[33:41] patch size, big-endian uint64
//	[41:49] created, Unix nanoseconds, big-endian int64
const (
	patchRecordVersion = 1
	patchRecordLen     = 49
)

func encodePatch(p Patch) []byte {
	b := make([]byte, patchRecordLen)
	b[0] = patchRecordVersion
	copy(b[1:33], p.Digest[:])
	binary.BigEndian.PutUint64(b[33:], uint64(p.Size))
	binary.BigEndian.PutUint64(b[41:], uint64(p.CreatedAt.UnixNano()))
	return b
}

func decodePatch(k PatchKey, b []byte) (Patch, error) {
	if len(b) != patchRecordLen || b[0] != patchRecordVersion {
		return Patch{}, fmt.Errorf("patch record of %d bytes does not decode: %w", len(b), ErrCorrupt)
	}
	p := Patch{Key: k, Size: int64(binary.BigEndian.Uint64(b[33:])),
		CreatedAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[41:])))}
	copy(p.Digest[:], b[1:33])
	if p.Size < 0 {
		return Patch{}, fmt.Errorf("patch record has a negative size: %w", ErrCorrupt)
	}
	return p, nil
}

// PutPatch records that the object digest (stored before with PutObject),
// of size bytes, is the patch k. A zero digest records that the patch was
// made and is useless. The object's presence is checked inside the
// transaction, which also clears its GC mark and rewrites the reference
// epoch (as CommitBundle does), so a concurrent garbage collection either
// sees the mapping or makes this fail: an absent object is a
// *MissingObjectsError, and nothing is written. An existing mapping is
// replaced.
func (s *Store) PutPatch(ctx context.Context, k PatchKey, digest manifest.Digest, size int64) error {
	key, err := patchKey(k)
	if err != nil {
		return err
	}
	if size < 0 {
		return invalid("patch size", fmt.Sprint(size), "negative")
	}
	err = s.updateData(ctx, func(txn kvTxn) error {
		if !digest.IsZero() {
			v, ok, err := getValue(txn, metaKey(digest))
			if err != nil {
				return err
			}
			if !ok {
				return &MissingObjectsError{Digests: []manifest.Digest{digest}}
			}
			info, err := decodeMeta(digest, v)
			if err != nil {
				return err
			}
			if info.Size != size {
				return invalid("patch size", fmt.Sprint(size), fmt.Sprintf("object %s holds %d bytes", digest, info.Size))
			}
			if err := addReferences(txn, []manifest.Digest{digest}); err != nil {
				return err
			}
		}
		return txn.Set(key, encodePatch(Patch{Key: k, Digest: digest, Size: size, CreatedAt: s.now()}))
	})
	if err != nil {
		return fmt.Errorf("put patch %s %s→%s: %w", k.Codec, k.From, k.To, err)
	}
	return nil
}

// GetPatch returns the mapping k, or ErrNotFound. A mapping whose object
// is gone (collected) is ErrNotFound too.
func (s *Store) GetPatch(ctx context.Context, k PatchKey) (Patch, error) {
	ps, err := s.LookupPatches(ctx, []PatchKey{k})
	if err != nil {
		return Patch{}, err
	}
	p, ok := ps[k]
	if !ok {
		return Patch{}, fmt.Errorf("patch %s %s→%s: %w", k.Codec, k.From, k.To, ErrNotFound)
	}
	return p, nil
}

// LookupPatches returns the mappings of keys that exist, in one read
// transaction: useless ones, and those whose object is stored. Invalid
// codec names are skipped.
func (s *Store) LookupPatches(ctx context.Context, keys []PatchKey) (map[PatchKey]Patch, error) {
	out := make(map[PatchKey]Patch, len(keys))
	err := s.view(ctx, func(txn kvTxn) error {
		for i, k := range keys {
			if i%256 == 255 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			key, err := patchKey(k)
			if err != nil {
				continue
			}
			v, ok, err := getValue(txn, key)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			p, err := decodePatch(k, v)
			if err != nil {
				s.log.Error("corrupt patch record", "key", fmt.Sprintf("%q", key), "err", err)
				continue
			}
			if !p.Useless() {
				if ok, err := exists(txn, metaKey(p.Digest)); err != nil {
					return err
				} else if !ok {
					continue
				}
			}
			out[k] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lookup patches: %w", err)
	}
	return out, nil
}

// StatObjects returns what StatObject would for each of ds that is
// stored, in one read transaction.
func (s *Store) StatObjects(ctx context.Context, ds []manifest.Digest) (map[manifest.Digest]ObjectInfo, error) {
	out := make(map[manifest.Digest]ObjectInfo, len(ds))
	err := s.view(ctx, func(txn kvTxn) error {
		for i, d := range ds {
			if i%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if _, ok := out[d]; ok {
				continue
			}
			v, ok, err := getValue(txn, metaKey(d))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			info, err := decodeMeta(d, v)
			if err != nil {
				return err
			}
			out[d] = info
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stat objects: %w", err)
	}
	return out, nil
}

// livePatches is the garbage collector's hook (see snapshot in gc.go): it
// adds to live the object of every mapping whose ends are live, i.e. both
// manifests are those of bundles (manifests) or both files are in live as
// the bundles and upload sessions made it.
func (s *Store) livePatches(ctx context.Context, txn kvTxn, live, manifests map[manifest.Digest]bool) error {
	var keep []manifest.Digest
	err := scan(txn, []byte(pfxPatch), true, func(key, v []byte) error {
		k, ok := parsePatchKey(key)
		if !ok {
			return nil
		}
		ends := manifests
		if !k.Bundle {
			ends = live
		}
		if !ends[k.From] || !ends[k.To] {
			return nil
		}
		p, err := decodePatch(k, v)
		if err != nil {
			// Keep nothing for it: at worst the patch is made again.
			s.log.Error("gc: patch record does not decode", "key", fmt.Sprintf("%q", key), "err", err)
			return nil
		}
		if !p.Useless() {
			keep = append(keep, p.Digest)
		}
		return ctx.Err()
	})
	for _, d := range keep {
		live[d] = true
	}
	return err
}
