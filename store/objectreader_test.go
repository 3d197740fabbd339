package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// readObject reads d whole through an ObjectReader: its raw bytes, or with
// stored the bytes as stored.
func readObject(ctx context.Context, s *Store, d manifest.Digest, stored bool) ([]byte, error) {
	r, err := s.OpenObject(ctx, d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if stored {
		r = r.Stored()
	}
	return io.ReadAll(r)
}

// storedChunk returns the bytes stored for chunk i of d.
func storedChunk(t testing.TB, s *Store, d manifest.Digest, i int) []byte {
	t.Helper()
	var v []byte
	err := s.kv.View(context.Background(), func(txn kvTxn) error {
		var err error
		v, _, err = getValue(txn, chunkKey(d, i))
		return err
	})
	if err != nil || v == nil {
		t.Fatalf("chunk %d of %s: %v", i, d, err)
	}
	return v
}

// rewriteMeta edits the format-2 om/ record of d behind the store's back.
func rewriteMeta(t testing.TB, s *Store, d manifest.Digest, edit func(m *objectMeta)) {
	t.Helper()
	var m objectMeta
	err := s.kv.View(context.Background(), func(txn kvTxn) error {
		v, _, err := getValue(txn, metaKey(d))
		if err == nil {
			m, err = decodeObjectMeta(d, v)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	edit(&m)
	setRaw(t, s, metaKey(d), encodeObjectMeta(m))
}

// bytesKeys returns the o/ and oc/ keys of d present in the store.
func bytesKeys(t testing.TB, s *Store, d manifest.Digest) []string {
	t.Helper()
	var keys []string
	err := s.kv.View(context.Background(), func(txn kvTxn) error {
		for _, p := range [][]byte{objectKey(d), digestKey(pfxChunk, d)} {
			err := scan(txn, p, false, func(key, v []byte) error {
				keys = append(keys, printableObjectKey(bytes.Clone(key)))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// putChunked stores raw as a format-2 object with chunks of size bytes.
func putChunked(t testing.TB, s *Store, raw []byte, compress bool, size int) manifest.Digest {
	t.Helper()
	d := manifest.Sum(raw)
	m, chunks := s.layoutChunks(d, raw, compress, size)
	if err := s.kv.Update(context.Background(), func(txn kvTxn) error { return setObjectTxn(txn, m, chunks, s.opts.Now()) }); err != nil {
		t.Fatal(err)
	}
	return d
}

// putLegacy stores raw as an older version did (format 1: one value at
// o/, zstd when compress).
func putLegacy(t testing.TB, s *Store, raw []byte, compress bool) manifest.Digest {
	t.Helper()
	d := manifest.Sum(raw)
	info := ObjectInfo{Digest: d, Size: int64(len(raw)), StoredSize: int64(len(raw)), CreatedAt: s.opts.Now()}
	stored := raw
	if compress {
		stored = s.enc.EncodeAll(raw, nil)
		info.Encoding, info.StoredSize = EncodingZstd, int64(len(stored))
	}
	setRaw(t, s, objectKey(d), stored)
	setRaw(t, s, metaKey(d), encodeMeta(info))
	return d
}

// TestObjectReaderSeeks reads objects of small chunks at every kind of
// position, raw and as stored, with Seek, Read and ReadAt across chunk
// boundaries.
func TestObjectReaderSeeks(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	text := compressible(10_000, "seek")
	noise := randomBytes(t, 10_000)
	for _, tc := range []struct {
		name     string
		d        manifest.Digest
		stored   bool
		wantZstd bool
	}{
		{"raw chunks", putChunked(t, s, noise, false, 999), false, false},
		{"raw chunks, stored", putChunked(t, s, noise, false, 999), true, false},
		{"zstd chunks, raw", putChunked(t, s, text, true, 1000), false, true},
		{"zstd chunks, stored", putChunked(t, s, text, true, 1000), true, true},
		{"format 1 zstd, stored", putLegacy(t, s, compressible(5000, "legacy"), true), true, true},
		{"format 1 raw", putLegacy(t, s, noise[:5000], false), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			whole, err := readObject(ctx, s, tc.d, tc.stored)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.OpenObject(ctx, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Info().Encoding == EncodingZstd; got != tc.wantZstd {
				t.Fatalf("Encoding %q", r.Info().Encoding)
			}
			if tc.stored {
				r = r.Stored()
			}
			if r.Size() != int64(len(whole)) {
				t.Fatalf("Size %d, read %d bytes", r.Size(), len(whole))
			}
			if raw, err := readObject(ctx, s, tc.d, false); err != nil || manifest.Sum(raw) != tc.d {
				t.Fatalf("raw bytes do not hash to the digest: %v", err)
			}
			n := len(whole)
			for _, span := range [][2]int{{0, 1}, {998, 1003}, {999, 2001}, {n - 1, n}, {0, n}, {n / 2, n/2 + 2500}, {7, 7}} {
				span[0], span[1] = min(span[0], n), min(span[1], n)
				if _, err := r.Seek(int64(span[0]), io.SeekStart); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, span[1]-span[0])
				if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, whole[span[0]:span[1]]) {
					t.Errorf("Read [%d,%d): %v", span[0], span[1], err)
				}
				got2 := make([]byte, len(got))
				if k, err := r.ReadAt(got2, int64(span[0])); k != len(got2) || (err != nil && err != io.EOF) || !bytes.Equal(got2, got) {
					t.Errorf("ReadAt [%d,%d) = %d, %v", span[0], span[1], k, err)
				}
			}
			// Next lends the same bytes, never across a chunk's end nor
			// more than asked.
			for _, max := range []int{1, 700, 999, 4096} {
				if _, err := r.Seek(3, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				var lent []byte
				for {
					b, err := r.Next(max)
					if err == io.EOF {
						break
					}
					if err != nil || len(b) == 0 || len(b) > max {
						t.Fatalf("Next(%d) after %d bytes = %d bytes, %v", max, len(lent), len(b), err)
					}
					lent = append(lent, b...)
				}
				if !bytes.Equal(lent, whole[min(3, n):]) {
					t.Errorf("Next(%d) lent %d bytes, not the %d from offset 3", max, len(lent), n-min(3, n))
				}
			}
			if end, _ := r.Seek(0, io.SeekEnd); end != int64(n) {
				t.Errorf("Seek end = %d", end)
			}
			if k, err := r.Read(make([]byte, 10)); k != 0 || err != io.EOF {
				t.Errorf("Read at end = %d, %v; want 0, EOF", k, err)
			}
			if k, err := r.ReadAt(make([]byte, 10), int64(n-4)); k != 4 || err != io.EOF {
				t.Errorf("ReadAt past end = %d, %v; want 4, EOF", k, err)
			}
		})
	}
}

// TestObjectReaderOpensMetaOnly: opening a reader, asking its size and
// seeking read only the om/ record: with every chunk of the object gone,
// they still work, and the first Read reports the damage.
func TestObjectReaderOpensMetaOnly(t *testing.T) {
	onlyOn(t, "it damages Badger's chunk keys", backendBadger)
	s, _ := newTestStore(t)
	ctx := context.Background()
	data := randomBytes(t, 3<<20+1)
	d := manifest.Sum(data)
	if _, err := s.PutObject(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		deleteRaw(t, s, chunkKey(d, i))
	}
	r, err := s.OpenObject(ctx, d)
	if err != nil {
		t.Fatalf("OpenObject without the bytes: %v", err)
	}
	defer r.Close()
	if end, err := r.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) || r.Info().Size != int64(len(data)) {
		t.Fatalf("Seek end = %d, %v", end, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read = %v; want ErrCorrupt", err)
	}
	if !errors.Is(r.Err(), ErrCorrupt) {
		t.Errorf("Err = %v", r.Err())
	}
	if _, err := s.OpenObject(ctx, manifest.Sum([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenObject absent = %v; want ErrNotFound", err)
	}
}

// TestObjectReaderDeletedWhileReading: the garbage collector deletes an
// object a reader has open; the next chunk read is ErrNotFound, not
// corrupt.
func TestObjectReaderDeletedWhileReading(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	d := putChunked(t, s, randomBytes(t, 4000), false, 1000)
	r, err := s.OpenObject(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]byte{chunkKey(d, 0), chunkKey(d, 1), chunkKey(d, 2), chunkKey(d, 3), metaKey(d)} {
		deleteRaw(t, s, k)
	}
	_, err = io.ReadAll(r)
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("read after delete: %v; want ErrNotFound", err)
	}
}

// TestLegacyObjects: objects as a store written before chunking holds them
// (format 1: one value at o/, raw or one zstd frame, larger than a chunk
// too) are read by GetObject and ObjectReader, verified by Verify,
// rewritten as chunks by the GC while live (but for a damaged one), and
// collected by the GC when no longer referenced.
func TestLegacyObjects(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	files := []file{
		{"raw-small.bin", randomBytes(t, 70<<10)},
		{"raw-big.bin", randomBytes(t, 2<<20+3)},
		{"zstd-small.js", compressible(50<<10, "old")},
		{"zstd-big.js", compressible(3<<20+7, "older")},
	}
	for i, f := range files {
		d := putLegacy(t, s, f.data, i >= 2)
		for _, stored := range []bool{false, true} {
			got, err := readObject(ctx, s, d, stored)
			want := f.data
			if stored && i >= 2 {
				want = s.enc.EncodeAll(f.data, nil)
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: ObjectReader (stored %v) = %d bytes, %v", f.path, stored, len(got), err)
			}
		}
		obj, err := s.GetObject(ctx, d)
		if err != nil || !bytes.Equal(obj.Raw, f.data) {
			t.Errorf("%s: GetObject: %v", f.path, err)
		}
	}
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", manifestOf(t, files...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Objects != len(files) {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	damaged := manifest.Sum(files[3].data)
	setRaw(t, s, objectKey(damaged), s.enc.EncodeAll(compressible(3<<20+7, "oldes"), nil))
	verifyOneCorrupt := func() {
		t.Helper()
		rep, err := s.Verify(ctx)
		if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemCorruptObject || rep.Problems[0].Digest != damaged {
			t.Fatalf("Verify of a damaged format-1 frame = %+v, %v", rep, err)
		}
	}
	verifyOneCorrupt()
	if _, err := readObject(ctx, s, damaged, false); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ObjectReader of a damaged format-1 frame: %v", err)
	}

	// The GC rewrites the live ones that verify as chunks, keeping their
	// encoding and age; the damaged one is left for Verify to report.
	before := map[manifest.Digest]ObjectInfo{}
	for _, f := range files {
		before[manifest.Sum(f.data)], _ = s.StatObject(ctx, manifest.Sum(f.data))
	}
	c.Advance(time.Minute)
	st, err := s.CollectGarbage(ctx)
	if err != nil || st.Upgraded != 3 || st.Live != len(files) {
		t.Fatalf("CollectGarbage = %+v, %v; want 3 upgraded", st, err)
	}
	for _, f := range files[:3] {
		d := manifest.Sum(f.data)
		keys := bytesKeys(t, s, d)
		info, _ := s.StatObject(ctx, d)
		if len(keys) == 0 || !strings.HasPrefix(keys[0], pfxChunk) || !strings.HasPrefix(keys[len(keys)-1], pfxChunk) {
			t.Errorf("%s: keys %v after the upgrade; want chunks only", f.path, keys)
		}
		if info.Encoding != before[d].Encoding || !info.CreatedAt.Equal(before[d].CreatedAt) || info.Size != before[d].Size {
			t.Errorf("%s: %+v after the upgrade, %+v before", f.path, info, before[d])
		}
		got, err := readObject(ctx, s, d, false)
		z, zerr := readObject(ctx, s, d, true)
		if zerr == nil && info.Encoding == EncodingZstd {
			z, zerr = s.dec.DecodeAll(z, nil)
		}
		if err != nil || zerr != nil || !bytes.Equal(got, f.data) || !bytes.Equal(z, f.data) {
			t.Errorf("%s: read after the upgrade: %v, %v", f.path, err, zerr)
		}
	}
	verifyOneCorrupt()
	if st, err := s.CollectGarbage(ctx); err != nil || st.Upgraded != 0 {
		t.Errorf("second CollectGarbage = %+v, %v; want nothing left to upgrade", st, err)
	}
	if err := s.DeleteBundle(ctx, "app", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	collect(t, s, c)
	for _, f := range files {
		if keys := bytesKeys(t, s, manifest.Sum(f.data)); objectStored(t, s, f.data) || len(keys) > 0 {
			t.Errorf("%s: still stored after GC: %v", f.path, keys)
		}
	}
}

// collect runs two garbage collections GCGrace apart, so every
// unreferenced object is marked, then deleted.
func collect(t testing.TB, s *Store, c *clock) GCStats {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	c.Advance(s.opts.GCGrace + 1)
	st, err := s.CollectGarbage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestGCDeletesChunks: an unreferenced chunked object goes with all its
// chunks, and many objects of many chunks are deleted in transactions
// small enough for Badger (deleteKeys), not one per deleteBatch objects.
func TestGCDeletesChunks(t *testing.T) {
	onlyOn(t, "it counts Badger's chunk keys", backendBadger)
	s, c := newTestStore(t)
	ctx := context.Background()
	big := compressible(5<<20+11, "gc")
	if _, err := s.PutObject(ctx, manifest.Sum(big), big); err != nil {
		t.Fatal(err)
	}
	if n := len(bytesKeys(t, s, manifest.Sum(big))); n != 6 {
		t.Fatalf("%d chunk keys for a 5 MiB object; want 6", n)
	}
	// 200 objects of 1,000 chunks each: 200,000 keys, far more than one
	// Badger transaction may delete.
	const objects, chunks = 200, 1000
	var ds []manifest.Digest
	for i := range objects {
		raw := fmt.Appendf(nil, "%08d", i)
		raw = bytes.Repeat(raw, chunks)
		d := manifest.Sum(raw)
		m, cs := s.layoutChunks(d, raw, false, 8)
		wb := s.db.NewWriteBatch()
		m.info.CreatedAt = s.opts.Now()
		for j, ch := range cs {
			if err := wb.Set(chunkKey(d, j), ch); err != nil {
				t.Fatal(err)
			}
		}
		if err := wb.Set(metaKey(d), encodeObjectMeta(m)); err != nil {
			t.Fatal(err)
		}
		if err := wb.Flush(); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("Verify before GC = %+v, %v", rep.Problems, err)
	}
	st := collect(t, s, c)
	if st.Removed != objects+1 {
		t.Errorf("Removed = %d; want %d", st.Removed, objects+1)
	}
	for _, d := range append(ds, manifest.Sum(big)) {
		if keys := bytesKeys(t, s, d); len(keys) > 0 {
			t.Fatalf("%s: %d chunk keys left after GC", d, len(keys))
		}
	}
	if keys := allKeys(t, s); len(keys) > 1 { // s/ref-epoch at most
		t.Errorf("keys left after GC: %d, e.g. %v", len(keys), keys[:min(3, len(keys))])
	}
}
