package manifest

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// bundle50MB is a web-bundle-shaped 50 MiB of random bytes: one 20 MiB
// file, 100 of 256 KiB and 1280 of 4 KiB in 20 folders.
func bundle50MB() map[string][]byte {
	rng := rand.NewChaCha8([32]byte{50})
	files := map[string][]byte{}
	add := func(p string, n int) {
		b := make([]byte, n)
		rng.Read(b)
		files[p] = b
	}
	add("assets/video.bin", 20<<20)
	for i := range 100 {
		add(fmt.Sprintf("js/chunk-%03d.js", i), 256<<10)
	}
	for i := range 1280 {
		add(fmt.Sprintf("img/%02d/icon-%04d.png", i%20, i), 4<<10)
	}
	return files
}

func totalBytes(files map[string][]byte) int64 {
	var n int64
	for _, b := range files {
		n += int64(len(b))
	}
	return n
}

// rawSHA256 hashes each file of files once, as plain SHA-256 in memory.
func rawSHA256(files map[string][]byte) {
	for _, b := range files {
		Sum(b)
	}
}

// BenchmarkOpenDir50MB ingests a 50 MiB folder (page cache warm). Besides
// MB/s it reports x-raw-sha256: its speed over plain SHA-256 of the same
// bytes in memory on one core, measured in the same run (goal: at least
// 0.5; files are hashed in parallel, so it can pass 1 on several cores).
func BenchmarkOpenDir50MB(b *testing.B) {
	files := bundle50MB()
	dir := b.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	size := totalBytes(files)
	b.SetBytes(size)
	b.ReportAllocs()
	// The reference is timed between the iterations, outside the timer, so
	// that both see the same machine load.
	var raw time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		start := time.Now()
		rawSHA256(files)
		raw += time.Since(start)
		b.StartTimer()
		src, err := OpenDir(context.Background(), dir, DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		src.Close()
	}
	b.StopTimer()
	b.ReportMetric(raw.Seconds()/b.Elapsed().Seconds(), "x-raw-sha256")
}

// BenchmarkSHA256Raw hashes the same bytes as BenchmarkOpenDir50MB, file by
// file, already in memory: the reference speed.
func BenchmarkSHA256Raw(b *testing.B) {
	files := bundle50MB()
	b.SetBytes(totalBytes(files))
	b.ResetTimer()
	for b.Loop() {
		rawSHA256(files)
	}
}

// BenchmarkOpenZip50MB ingests the same bundle as a stored zip in memory.
func BenchmarkOpenZip50MB(b *testing.B) {
	files := bundle50MB()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for p, body := range files {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: p, Method: zip.Store})
		if err != nil {
			b.Fatal(err)
		}
		fw.Write(body)
	}
	w.Close()
	z := buf.Bytes()
	b.SetBytes(totalBytes(files))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := OpenZip(context.Background(), bytes.NewReader(z), int64(len(z)), DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}
