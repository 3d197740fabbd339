package store

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/patchwire/patchwire/manifest"
)

func TestPutGetObject(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		data     []byte
		wantZstd bool
	}{
		{"empty", []byte{}, false},
		{"tiny", []byte("<html></html>\n"), false},
		{"compressible 200 KiB", compressible(200<<10, "a"), true},
		{"incompressible 100 KiB", randomBytes(t, 100<<10), false},
		{"incompressible 1 MiB (value log)", randomBytes(t, 1<<20), false},
		{"compressible 3 MiB", compressible(3<<20, "b"), true},
		{"compressible 9 MiB (beyond one zstd window)", compressible(9<<20, "c"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A blob store keeps the bytes raw, so that a bucket or CDN
			// serves them as they are.
			tt.wantZstd = tt.wantZstd && !s.external
			d := manifest.Sum(tt.data)
			created, err := s.PutObject(ctx, d, tt.data)
			if err != nil || !created {
				t.Fatalf("PutObject = %v, %v; want true, nil", created, err)
			}
			info, err := s.StatObject(ctx, d)
			if err != nil {
				t.Fatalf("StatObject: %v", err)
			}
			if info.Digest != d || info.Size != int64(len(tt.data)) {
				t.Errorf("StatObject = %+v; want digest %s size %d", info, d, len(tt.data))
			}
			if got := info.Encoding == EncodingZstd; got != tt.wantZstd {
				t.Errorf("Encoding = %q; want zstd %v", info.Encoding, tt.wantZstd)
			}
			if tt.wantZstd && info.StoredSize >= info.Size {
				t.Errorf("StoredSize %d not smaller than Size %d", info.StoredSize, info.Size)
			}
			if !tt.wantZstd && info.StoredSize != info.Size {
				t.Errorf("raw object: StoredSize %d != Size %d", info.StoredSize, info.Size)
			}
			if !info.CreatedAt.Equal(s.opts.Now()) {
				t.Errorf("CreatedAt = %v; want %v", info.CreatedAt, s.opts.Now())
			}
			obj, err := s.GetObject(ctx, d)
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			if !bytes.Equal(obj.Raw, tt.data) {
				t.Errorf("GetObject returned other bytes")
			}
			if obj.Info != info {
				t.Errorf("GetObject info %+v; StatObject %+v", obj.Info, info)
			}
			if tt.wantZstd {
				raw, err := s.dec.DecodeAll(obj.Zstd, nil)
				if err != nil || !bytes.Equal(raw, tt.data) || int64(len(obj.Zstd)) != info.StoredSize {
					t.Errorf("Zstd does not decode to the object (err %v)", err)
				}
			} else if obj.Zstd != nil {
				t.Errorf("Zstd = %d bytes for a raw object; want nil", len(obj.Zstd))
			}
			for _, stored := range []bool{false, true} {
				got, err := readObject(ctx, s, d, stored)
				want := tt.data
				if stored && tt.wantZstd {
					want = obj.Zstd
				}
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("ObjectReader (stored %v) = %d bytes, %v; want the %d bytes of GetObject", stored, len(got), err, len(want))
				}
			}
			created, err = s.PutObject(ctx, d, tt.data)
			if err != nil || created {
				t.Fatalf("second PutObject = %v, %v; want false, nil", created, err)
			}
		})
	}
}

func TestPutObjectStoredOnce(t *testing.T) {
	s, c := newTestStore(t)
	ctx := context.Background()
	data := compressible(300<<10, "dedup")
	d := manifest.Sum(data)
	if _, err := s.PutObject(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	before := allKeys(t, s)
	first, _ := s.StatObject(ctx, d)
	c.Advance(5)
	for range 3 {
		if created, err := s.PutObject(ctx, d, slices.Clone(data)); err != nil || created {
			t.Fatalf("PutObject again = %v, %v; want false, nil", created, err)
		}
	}
	if after := allKeys(t, s); !slices.Equal(before, after) {
		t.Errorf("keys changed by a duplicate put:\nbefore %v\nafter  %v", before, after)
	}
	if again, _ := s.StatObject(ctx, d); again != first {
		t.Errorf("object rewritten: %+v, then %+v", first, again)
	}
	if n := len(before); n != 2 {
		t.Errorf("%d keys for one object; want 2 (oc/ chunk 0 and om/): %v", n, before)
	}
}

func TestPutObjectRefused(t *testing.T) {
	opts, _ := testOptions(t)
	opts.Limits = manifest.DefaultLimits()
	opts.Limits.MaxFileBytes = 1000
	s := openStore(t, opts)
	ctx := context.Background()
	before := allKeys(t, s)
	good := []byte("the real bytes")
	tests := []struct {
		name string
		d    manifest.Digest
		data []byte
		code string
	}{
		{"digest of other bytes", manifest.Sum([]byte("other bytes")), good, manifest.CodeDigestMismatch},
		{"zero digest", manifest.Digest{}, good, manifest.CodeDigestMismatch},
		{"one bit off", func() manifest.Digest { d := manifest.Sum(good); d[31] ^= 1; return d }(), good, manifest.CodeDigestMismatch},
		{"too large", manifest.Sum(make([]byte, 1001)), make([]byte, 1001), manifest.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created, err := s.PutObject(ctx, tt.d, tt.data)
			var me *manifest.Error
			if !errors.As(err, &me) || me.Code != tt.code || created {
				t.Fatalf("PutObject = %v, %v; want *manifest.Error %s", created, err, tt.code)
			}
			if keys := allKeys(t, s); !slices.Equal(keys, before) {
				t.Errorf("refused object changed the keys: %v, had %v", keys, before)
			}
			if _, err := s.StatObject(ctx, tt.d); !errors.Is(err, ErrNotFound) {
				t.Errorf("StatObject after refusal: %v; want ErrNotFound", err)
			}
		})
	}
}

func TestMissingObjects(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	fs := someFiles(4, "m")
	putFiles(t, s, fs[0], fs[2])
	d := func(i int) manifest.Digest { return manifest.Sum(fs[i].data) }
	got, err := s.MissingObjects(ctx, []manifest.Digest{d(3), d(0), d(1), d(3), d(2), d(1)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []manifest.Digest{d(3), d(1)}; !slices.Equal(got, want) {
		t.Errorf("MissingObjects = %v; want %v", got, want)
	}
	got, err = s.MissingObjects(ctx, nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("MissingObjects(nil) = %#v, %v; want empty non-nil", got, err)
	}
}

func TestGetObjectNotFound(t *testing.T) {
	s, _ := newTestStore(t)
	d := manifest.Sum([]byte("nothing"))
	if _, err := s.GetObject(context.Background(), d); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetObject = %v; want ErrNotFound", err)
	}
	if _, err := s.StatObject(context.Background(), d); !errors.Is(err, ErrNotFound) {
		t.Errorf("StatObject = %v; want ErrNotFound", err)
	}
}

// TestGetObjectCorrupt damages stored records behind the store's back: the
// damaged bytes must never come out of GetObject, nor out of an
// ObjectReader (raw or as stored), whose per-chunk CRC-32C must catch
// every damage but a consistent rewrite of a chunk and its record, which
// only a SHA-256 sees.
func TestGetObjectCorrupt(t *testing.T) {
	onlyOn(t, "it damages Badger's keys and value log (a bucket's damage: TestS3ObjectsDamaged)", backendBadger)
	ctx := context.Background()
	small := []byte("small raw object\n")
	zobj := compressible(100<<10, "z")
	big := randomBytes(t, 300<<10)
	chunked := compressible(3<<20+5, "chunks")
	flip := func(b []byte, i int) []byte { b = slices.Clone(b); b[i] ^= 0x40; return b }
	tests := []struct {
		name       string
		data       []byte
		damage     func(t *testing.T, s *Store, d manifest.Digest)
		readerSees bool // the ObjectReader's CRC check catches it
	}{
		{"raw bytes replaced by another object's", small, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, chunkKey(d, 0), []byte("small raw objecT\n"))
		}, true},
		{"one bit of a value-log object", big, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, chunkKey(d, 0), flip(big, len(big)/2))
		}, true},
		{"one bit of the third chunk", chunked, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, chunkKey(d, 2), flip(storedChunk(t, s, d, 2), 100))
		}, true},
		{"third chunk gone", chunked, func(t *testing.T, s *Store, d manifest.Digest) {
			deleteRaw(t, s, chunkKey(d, 2))
		}, true},
		{"two chunks swapped", chunked, func(t *testing.T, s *Store, d manifest.Digest) {
			a, b := storedChunk(t, s, d, 0), storedChunk(t, s, d, 1)
			setRaw(t, s, chunkKey(d, 0), b)
			setRaw(t, s, chunkKey(d, 1), a)
		}, true},
		{"zstd frame garbage", zobj, func(t *testing.T, s *Store, d manifest.Digest) {
			info, _ := s.StatObject(ctx, d)
			setRaw(t, s, chunkKey(d, 0), randomBytes(t, int(info.StoredSize)))
		}, true},
		{"zstd frame of other bytes, record rewritten to match", zobj, func(t *testing.T, s *Store, d manifest.Digest) {
			other := s.enc.EncodeAll(flip(zobj, 7), nil)
			setRaw(t, s, chunkKey(d, 0), other)
			rewriteMeta(t, s, d, func(m *objectMeta) {
				m.chunks[0] = chunkRef{stored: uint32(len(other)), crc: crc32.Checksum(other, castagnoli)}
				m.info.StoredSize = int64(len(other))
			})
		}, false},
		{"truncated", big, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, chunkKey(d, 0), big[:len(big)-1])
		}, true},
		{"bytes gone, meta left", small, func(t *testing.T, s *Store, d manifest.Digest) {
			deleteRaw(t, s, chunkKey(d, 0))
		}, true},
		{"meta garbage", small, func(t *testing.T, s *Store, d manifest.Digest) {
			setRaw(t, s, metaKey(d), []byte("garbage"))
		}, true},
		{"meta claims a huge size", zobj, func(t *testing.T, s *Store, d manifest.Digest) {
			rewriteMeta(t, s, d, func(m *objectMeta) { m.info.Size = 1 << 40 })
		}, true},
		{"meta claims a huge chunk", big, func(t *testing.T, s *Store, d manifest.Digest) {
			rewriteMeta(t, s, d, func(m *objectMeta) { m.chunkRaw = 1 << 30 })
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestStore(t)
			d := manifest.Sum(tt.data)
			if _, err := s.PutObject(ctx, d, tt.data); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, s, d)
			obj, err := s.GetObject(ctx, d)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("GetObject = %d bytes, %v; want ErrCorrupt", len(obj.Raw), err)
			}
			if !tt.readerSees {
				return
			}
			for _, stored := range []bool{false, true} {
				got, err := readObject(ctx, s, d, stored)
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("ObjectReader (stored %v) = %d bytes, %v; want ErrCorrupt", stored, len(got), err)
				}
				if len(got) > 0 && !bytes.HasPrefix(tt.data, got) && !stored {
					t.Errorf("ObjectReader returned %d bytes that are not the object's", len(got))
				}
			}
		})
	}
}

// TestValueLogFileCorruption flips a byte inside a value-log file on disk,
// as a failing disk would: the object must fail verification, never be
// returned with the wrong bytes.
func TestValueLogFileCorruption(t *testing.T) {
	onlyOn(t, "it damages Badger's value-log files", backendBadger)
	opts, _ := testOptions(t)
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := randomBytes(t, 256<<10) // incompressible, above the value threshold: value log
	d := manifest.Sum(data)
	if _, err := s.PutObject(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	vlogs, _ := filepath.Glob(filepath.Join(opts.Dir, "*.vlog"))
	damaged := false
	for _, p := range vlogs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, data[1000:1064]); i >= 0 {
			b[i+10] ^= 0xff
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			damaged = true
		}
	}
	if !damaged {
		t.Fatalf("object bytes not found in any of %v", vlogs)
	}
	s = openStore(t, opts)
	obj, err := s.GetObject(ctx, d)
	if err == nil || bytes.Equal(obj.Raw, data) {
		t.Fatalf("GetObject after disk damage = %d bytes, %v; want an error", len(obj.Raw), err)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Logf("GetObject error is not ErrCorrupt (Badger caught it first): %v", err)
	}
	for _, stored := range []bool{false, true} {
		got, err := readObject(ctx, s, d, stored)
		if !errors.Is(err, ErrCorrupt) || len(got) != 0 {
			t.Errorf("ObjectReader after disk damage = %d bytes, %v; want none and ErrCorrupt", len(got), err)
		}
	}
}
