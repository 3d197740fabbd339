package store

import (
	"context"
	"encoding/binary"
	"io"
	"testing"

	"github.com/patchwire/patchwire/manifest"
)

// benchObjects returns n distinct 1 MiB objects: half of each is random,
// half is repetitive text, as minified JS tends to compress about 2:1.
func benchObjects(b *testing.B, n int, incompressible bool) [][]byte {
	objs := make([][]byte, n)
	text := compressible(512<<10, "bench")
	for i := range objs {
		o := randomBytes(b, 1<<20)
		if !incompressible {
			copy(o[512<<10:], text)
		}
		objs[i] = o
	}
	return objs
}

func benchmarkPut(b *testing.B, incompressible bool) {
	opts, _ := testOptions(b)
	s := openStore(b, opts)
	ctx := context.Background()
	objs := benchObjects(b, 64, incompressible)
	b.SetBytes(1 << 20)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		o := objs[i%len(objs)]
		binary.LittleEndian.PutUint64(o, uint64(i)) // a new object every time
		i++
		if _, err := s.PutObject(ctx, manifest.Sum(o), o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutObject stores new 1 MiB objects, each durable before the
// next starts (one fsync each).
func BenchmarkPutObject(b *testing.B) {
	b.Run("half-compressible", func(b *testing.B) { benchmarkPut(b, false) })
	b.Run("incompressible", func(b *testing.B) { benchmarkPut(b, true) })
}

// BenchmarkPutObjectParallel stores new 1 MiB objects from GOMAXPROCS
// goroutines, as parallel uploads do; Badger groups their fsyncs.
func BenchmarkPutObjectParallel(b *testing.B) {
	opts, _ := testOptions(b)
	s := openStore(b, opts)
	ctx := context.Background()
	objs := benchObjects(b, 1, false)
	b.SetBytes(1 << 20)
	b.ResetTimer()
	var n uint64
	var mu = make(chan struct{}, 1)
	b.RunParallel(func(pb *testing.PB) {
		o := append([]byte(nil), objs[0]...)
		for pb.Next() {
			mu <- struct{}{}
			n++
			id := n
			<-mu
			binary.LittleEndian.PutUint64(o, id)
			if _, err := s.PutObject(ctx, manifest.Sum(o), o); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPutObjectExisting is the dedup path: the object is already there.
func BenchmarkPutObjectExisting(b *testing.B) {
	s, _ := newTestStore(b)
	ctx := context.Background()
	o := benchObjects(b, 1, false)[0]
	d := manifest.Sum(o)
	if _, err := s.PutObject(ctx, d, o); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	for b.Loop() {
		if _, err := s.PutObject(ctx, d, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetObject reads and verifies 1 MiB objects (zstd-stored and raw).
func BenchmarkGetObject(b *testing.B) {
	for _, tc := range []struct {
		name           string
		incompressible bool
	}{{"zstd", false}, {"raw", true}} {
		b.Run(tc.name, func(b *testing.B) {
			s, _ := newTestStore(b)
			ctx := context.Background()
			objs := benchObjects(b, 16, tc.incompressible)
			ds := make([]manifest.Digest, len(objs))
			for i, o := range objs {
				ds[i] = manifest.Sum(o)
				if _, err := s.PutObject(ctx, ds[i], o); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(1 << 20)
			i := 0
			for b.Loop() {
				if _, err := s.GetObject(ctx, ds[i%len(ds)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkStatObject is a HEAD: only the om/ record is read.
func BenchmarkStatObject(b *testing.B) {
	s, _ := newTestStore(b)
	ctx := context.Background()
	o := []byte("small object")
	d := manifest.Sum(o)
	if _, err := s.PutObject(ctx, d, o); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.StatObject(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObjectReader reads a 32 MiB object through an ObjectReader in
// 32 KiB reads, as a response does: stored raw, stored zstd and decoded,
// stored zstd and read as stored; each with Badger's VerifyValueChecksum on
// (the default) and off, to show its cost; GetObject (whole, SHA-256
// verified) beside them.
//
//	go test -run '^$' -bench ObjectReader ./store/
func BenchmarkObjectReader(b *testing.B) {
	const size = 32 << 20
	text := compressible(size, "reader")
	noise := randomBytes(b, size)
	for _, check := range []bool{true, false} {
		name := "vlogcrc-on"
		if !check {
			name = "vlogcrc-off"
		}
		b.Run(name, func(b *testing.B) {
			verifyValueChecksum = check
			defer func() { verifyValueChecksum = true }()
			s, _ := newTestStore(b)
			ctx := context.Background()
			for _, tc := range []struct {
				name   string
				data   []byte
				stored bool
			}{
				{"raw", noise, false},
				{"zstd-decoded", text, false},
				{"zstd-as-stored", text, true},
			} {
				d := manifest.Sum(tc.data)
				if _, err := s.PutObject(ctx, d, tc.data); err != nil {
					b.Fatal(err)
				}
				b.Run(tc.name, func(b *testing.B) {
					buf := make([]byte, 32<<10)
					var n int64
					for b.Loop() {
						r, err := s.OpenObject(ctx, d)
						if err != nil {
							b.Fatal(err)
						}
						if tc.stored {
							r = r.Stored()
						}
						n = r.Size()
						if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
							b.Fatal(err)
						}
						r.Close()
					}
					b.SetBytes(n)
				})
				if !check {
					continue
				}
				b.Run(tc.name+"-GetObject", func(b *testing.B) {
					b.SetBytes(size)
					for b.Loop() {
						if _, err := s.GetObject(ctx, d); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
