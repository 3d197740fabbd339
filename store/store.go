package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/manifest"
)

// Options configure a Store. Only Dir is required.
type Options struct {
	// Dir holds the Badger files. It is created if missing and locked to
	// one process.
	Dir string
	// Logger receives the store's and Badger's warnings and errors.
	// Default: slog.Default().
	Logger *slog.Logger
	// Limits bound the manifests the store decodes and the objects it
	// accepts (MaxFileBytes). Default (zero value): manifest.DefaultLimits().
	Limits manifest.Limits
	// GCGrace protects unreferenced objects: one is deleted only after it
	// was found unreferenced, marked, and still found unreferenced at least
	// GCGrace later, so downloads of a just-deleted bundle can finish.
	// Default 1h.
	GCGrace time.Duration
	// GCInterval is the period of the background garbage collector.
	// Default 10m; a negative value disables the loop (call
	// CollectGarbage yourself). Keep it well below GCGrace.
	GCInterval time.Duration
	// UploadTTL is how long an upload session lives. Default 24h.
	UploadTTL time.Duration
	// Now is the clock (GC marks, creation times, session expiry).
	// Default time.Now; tests substitute a controlled clock.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Limits == (manifest.Limits{}) {
		o.Limits = manifest.DefaultLimits()
	}
	if o.GCGrace <= 0 {
		o.GCGrace = time.Hour
	}
	if o.GCInterval == 0 {
		o.GCInterval = 10 * time.Minute
	}
	if o.UploadTTL <= 0 {
		o.UploadTTL = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Badger tuning. doc.go explains the durability choice; the numbers follow
// the small-machine starting point of docs/security-bar.md §4.
const (
	// valueThreshold: values of at least 64 KiB go to the value log, smaller
	// ones stay in the LSM tree. Most web-bundle files by count (small JS
	// chunks, CSS, SVG, JSON) are below it: a GET is one table lookup and
	// deleting them needs no value-log GC. The files that make up most of
	// the bytes (big JS bundles, images, fonts) are above it, so compaction
	// never rewrites them. Catalog records and the 26-byte om/ meta always
	// stay in the LSM tree, so key scans and HEAD checks never touch the
	// value log.
	valueThreshold = 64 << 10
	// valueLogFileSize: smaller files than Badger's 1 GiB make value-log GC
	// reclaim space sooner (it never collects the newest file).
	valueLogFileSize = 256 << 20
	memTableSize     = 32 << 20
	numMemtables     = 3
	// maxRetries bounds retries of a transaction that hit badger.ErrConflict.
	maxRetries = 16
	// deleteBatch is how many objects one GC delete transaction removes.
	deleteBatch = 256
	// zstdWindow keeps every stored zstd frame decodable with an 8 MiB
	// window, the limit RFC 9659 sets for the "zstd" content coding, so the
	// server may send Object.Zstd as is.
	zstdWindow = 8 << 20
)

// Store is the Badger-backed object store and catalog. It is safe for
// concurrent use. Close it exactly once, after every call has returned.
type Store struct {
	db    *badger.DB
	opts  Options
	log   *slog.Logger
	enc   *zstd.Encoder
	dec   *zstd.Decoder
	cache *manifestCache

	gcMu      sync.Mutex // one CollectGarbage at a time
	stopGC    context.CancelFunc
	gcDone    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the store in opts.Dir and starts the background
// garbage collector unless opts.GCInterval < 0. A database Badger cannot
// open, including one it panics on, is reported as an error wrapping
// ErrCorrupt.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("open store: empty directory: %w", ErrInvalid)
	}
	opts.setDefaults()
	log := opts.Logger.With("component", "store")

	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := openBadger(badgerOptions(opts.Dir, opts.Logger.With("component", "badger")))
	if err != nil {
		return nil, err
	}

	conc := min(4, runtime.GOMAXPROCS(0))
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithWindowSize(zstdWindow),
		zstd.WithEncoderConcurrency(conc),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: zstd encoder: %w", err)
	}
	maxObject := uint64(1 << 30)
	if opts.Limits.MaxFileBytes > 0 {
		maxObject = uint64(opts.Limits.MaxFileBytes)
	}
	maxManifest := uint64(64 << 20)
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(conc),
		zstd.WithDecoderMaxMemory(max(maxObject, maxManifest)),
		zstd.WithDecoderMaxWindow(zstdWindow))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: zstd decoder: %w", err)
	}

	s := &Store{db: db, opts: opts, log: log, enc: enc, dec: dec, cache: newManifestCache(16)}
	if opts.GCInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopGC = cancel
		s.gcDone = make(chan struct{})
		go s.gcLoop(ctx)
	}
	return s, nil
}

// badgerOptions returns the tuned Badger options; see the constants above
// and doc.go.
func badgerOptions(dir string, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		// Durability: every committed transaction is fsynced before Commit
		// returns (doc.go, "Durability").
		WithSyncWrites(true).
		WithNumVersionsToKeep(1).
		// Every value-log read is CRC-checked (objectlayout.go, "Integrity").
		WithVerifyValueChecksum(verifyValueChecksum).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(valueLogFileSize).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithNumLevelZeroTables(numMemtables).
		WithNumLevelZeroTablesStall(8).
		WithNumCompactors(2).
		// Object values are already zstd-compressed when that helps, and
		// keys are mostly hashes: block compression would burn CPU for
		// nothing. Without compression Badger reads blocks straight from
		// the memory-mapped tables, so no block cache is needed.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(16 << 20).
		// Not WithLoggingLevel: it replaces the logger with Badger's own.
		WithLogger(badgerLogger{log}).
		WithMetricsEnabled(false)
}

// openBadger opens the database, turning a Badger panic (it panics on some
// corrupt files instead of returning an error) into ErrCorrupt.
func openBadger(bo badger.Options) (db *badger.DB, err error) {
	if err := preflightTables(bo); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			db = nil
			err = fmt.Errorf("open badger in %s: panic: %v: %w", bo.Dir, r, ErrCorrupt)
		}
	}()
	db, err = badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open badger in %s: %w", bo.Dir, err)
	}
	return db, nil
}

// Close stops the garbage collector, waits for a running collection to
// end, and closes the database. Later calls return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopGC != nil {
			s.stopGC()
			<-s.gcDone
		}
		s.gcMu.Lock() // a CollectGarbage called by someone else
		defer s.gcMu.Unlock()
		err := s.db.Close()
		s.enc.Close()
		s.dec.Close()
		if err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

// Size returns the bytes on disk in LSM tables (.sst) and value-log files
// (.vlog), read from the directory: allocated blocks where the platform
// says, since value-log files are sparse and preallocated. (Badger's own
// counters lag by a minute and count the preallocation.)
func (s *Store) Size() (lsm, vlog int64) {
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		switch filepath.Ext(e.Name()) {
		case ".sst":
			lsm += diskSize(info)
		case ".vlog":
			vlog += diskSize(info)
		}
	}
	return lsm, vlog
}

// update runs fn in a read-write transaction and commits it, retrying on
// badger.ErrConflict. fn may run more than once: it must reset anything it
// computes.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) || attempt == maxRetries {
			return err
		}
		// Back off a little, with jitter, so racing writers spread out.
		d := time.Duration(1+rand.IntN(1<<min(attempt, 6))) * 100 * time.Microsecond
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// exists reports whether key is present in txn's snapshot. In a read-write
// transaction the read takes part in conflict detection.
func exists(txn *badger.Txn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	default:
		return false, err
	}
}

// getValue returns a copy of key's value, or ok=false if it is absent.
func getValue(txn *badger.Txn, key []byte) (v []byte, ok bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err = item.ValueCopy(nil)
	return v, err == nil, err
}

// scan calls fn for each key with prefix, in key order. With values false
// only keys are read (from the LSM tree alone). The item is valid only
// during fn.
func scan(txn *badger.Txn, prefix []byte, values bool, fn func(item *badger.Item) error) error {
	io := badger.DefaultIteratorOptions
	io.Prefix = prefix
	io.PrefetchValues = values
	if values {
		io.PrefetchSize = 16
	}
	it := txn.NewIterator(io)
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if err := fn(it.Item()); err != nil {
			return err
		}
	}
	return nil
}

// badgerLogger routes Badger's log lines to slog: errors and warnings as
// such; Badger's chatty info and debug lines only at slog's debug level.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a) }

func (b badgerLogger) log(level slog.Level, f string, a []any) {
	ctx := context.Background()
	if b.l.Enabled(ctx, level) {
		b.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(f, a...)))
	}
}
