package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store/pgtest"
	"github.com/patchwire/patchwire/store/s3test"
)

// clock is a controllable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// testOptions returns options for a store in a fresh temp dir, with the
// background GC off and a controlled clock, on the backend the suite runs
// on (testBackend).
func testOptions(t testing.TB) (Options, *clock) {
	opts, c := localOptions(t)
	switch testBackend() {
	case backendBadgerS3:
		opts.Blobs = openTestS3(t, s3test.Shared(t), "objects")
	case backendPostgresS3:
		opts.Catalog = pgtest.Database(t)
		opts.Blobs = openTestS3(t, s3test.Shared(t), "objects")
	}
	return opts, c
}

// localOptions are testOptions on Badger alone, whatever the suite's
// backend: for tests that set up the engines they are about themselves.
func localOptions(t testing.TB) (Options, *clock) {
	c := newClock()
	return Options{Dir: t.TempDir(), Logger: testLogger(t), GCInterval: -1, Now: c.Now}, c
}

// The backends the whole store suite runs on, chosen by the environment
// variable PATCHWIRE_TEST_STORE (make test runs the package once on each):
// Badger alone (the default), Badger with objects' bytes in S3
// (versitygw), and the catalog in PostgreSQL with objects in S3 (the
// cluster setup).
const (
	backendBadger     = "badger"
	backendBadgerS3   = "badger+s3"
	backendPostgresS3 = "postgres+s3"
)

// testBackend is the backend of this run; an unknown name panics, so a typo
// in CI does not quietly test Badger again.
func testBackend() string {
	switch b := os.Getenv("PATCHWIRE_TEST_STORE"); b {
	case "", backendBadger:
		return backendBadger
	case backendBadgerS3, backendPostgresS3:
		return b
	default:
		panic(fmt.Sprintf("PATCHWIRE_TEST_STORE=%q: want %s, %s or %s", b, backendBadger, backendBadgerS3, backendPostgresS3))
	}
}

// onlyOn skips the test unless the suite runs on one of backends: for
// tests of one engine's own mechanics (Badger's files, its key layout).
func onlyOn(t testing.TB, why string, backends ...string) {
	t.Helper()
	if !slices.Contains(backends, testBackend()) {
		t.Skipf("%s: runs on %v, this run is %s", why, backends, testBackend())
	}
}

// openStore opens a store and closes it when the test ends.
func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newTestStore(t testing.TB) (*Store, *clock) {
	t.Helper()
	opts, c := testOptions(t)
	return openStore(t, opts), c
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// compressible returns n bytes of text that zstd shrinks a lot.
func compressible(n int, seed string) []byte {
	b := make([]byte, 0, n+64)
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "function %s_%d(a, b) { return a + b * %d; }\n", seed, i%97, i%13)
	}
	return b[:n]
}

// file is one bundle file for tests.
type file struct {
	path string
	data []byte
}

// manifestOf builds the manifest of files.
func manifestOf(t testing.TB, files ...file) *manifest.Manifest {
	t.Helper()
	es := make([]manifest.Entry, len(files))
	for i, f := range files {
		es[i] = manifest.Entry{Path: f.path, Digest: manifest.Sum(f.data), Size: int64(len(f.data))}
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// putFiles stores every file's bytes.
func putFiles(t testing.TB, s *Store, files ...file) {
	t.Helper()
	for _, f := range files {
		if _, err := s.PutObject(context.Background(), manifest.Sum(f.data), f.data); err != nil {
			t.Fatalf("PutObject %s: %v", f.path, err)
		}
	}
}

// someFiles returns n distinct small files whose content depends on tag.
func someFiles(n int, tag string) []file {
	fs := make([]file, n)
	for i := range fs {
		fs[i] = file{path: fmt.Sprintf("assets/%s-%d.js", tag, i), data: fmt.Appendf(nil, "console.log(%q, %d)\n", tag, i)}
	}
	return fs
}

// allKeys returns every key in the database, with a hash of its value, sorted.
func allKeys(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	err := s.kv.View(context.Background(), func(txn kvTxn) error {
		return scan(txn, nil, true, func(key, v []byte) error {
			out = append(out, fmt.Sprintf("%q=%s", key, manifest.Sum(v)))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// setRaw writes key=value straight into the kv store, bypassing the store's
// checks; through updateData, whose watch keeps the om/ record cache true.
func setRaw(t testing.TB, s *Store, key, value []byte) {
	t.Helper()
	if err := s.updateData(context.Background(), func(txn kvTxn) error { return txn.Set(key, value) }); err != nil {
		t.Fatal(err)
	}
}

func deleteRaw(t testing.TB, s *Store, key []byte) {
	t.Helper()
	if err := s.updateData(context.Background(), func(txn kvTxn) error { return txn.Delete(key) }); err != nil {
		t.Fatal(err)
	}
}
