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
	"sync/atomic"
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
	// Reserve is the free space, in bytes, the store keeps on its file
	// system so that Badger never writes to a memory-mapped page the disk
	// cannot back (a SIGBUS; see space.go). Writes that would eat into it
	// fail with ErrInsufficientStorage, and a store opened with less free
	// space than this opens read-only. Default (0): DefaultReserve of the
	// Badger sizes below (960 MiB with their defaults); negative: no guard.
	Reserve int64
	// ValueLogFileSize is the size at which Badger starts a new value-log
	// file. Default 256 MiB, or Limits.MaxFileBytes if larger; Badger allows
	// 1 MiB up to 2 GiB and no value larger than it, so it must be at least
	// Limits.MaxFileBytes. Smaller files shrink the reserve (and suit small
	// disks and tests).
	ValueLogFileSize int64
	// MemTableSize is the size of one Badger memtable. Default 32 MiB; at
	// least 512 KiB (a transaction may hold 15 % of it, and a value up to
	// the 64 KiB value threshold must fit).
	MemTableSize int64
	// IndexCacheSize is Badger's cache of table indexes and Bloom filters,
	// bytes. Default (0) 16 MiB; negative: none (indexes are read from the
	// memory-mapped tables on every lookup).
	IndexCacheSize int64
	// BlockCacheSize is Badger's cache of table data blocks, bytes. Default
	// (0) none: blocks are uncompressed and read straight from the
	// memory-mapped tables, so the page cache serves them.
	BlockCacheSize int64
	// ObjectCacheSize bounds, in bytes, the recently read small object
	// chunks (up to 256 KiB each) kept in memory, checked, so the objects
	// most downloaded are served without a database read. Default (0)
	// 32 MiB; negative: none.
	ObjectCacheSize int64
	// Blobs, when set, is where the bytes of new objects go ([S3Blobs]: an
	// S3-compatible bucket); their om/ records, and everything else, stay
	// in Badger under Dir. Objects already stored in Badger stay readable.
	// Default nil: objects' bytes are Badger keys too.
	Blobs Blobs
	// Catalog, when set, is a PostgreSQL connection string (a URL or
	// key=value, as libpq takes): the catalog runs there (pgKV), shared by
	// every node given the same one, and Badger under Dir keeps only what
	// is the node's own (cluster.go). Objects' bytes then always go
	// through the blob seam: Blobs when set (shared, S3), else this node's
	// Badger (one node only). A directory that ran with a Catalog refuses
	// to open without one.
	Catalog string
	// CatalogRecheck is, with a Catalog, how long CatalogGeneration and
	// DeviceChannelsGeneration trust their in-memory value (kept moving by
	// the PostgreSQL notices) before reading the generation rows again.
	// Default 0: every call reads them, so a read after another node's
	// write returned always sees it (cluster.go). `serve --catalog-recheck`.
	CatalogRecheck time.Duration
	// ReadOnly opens the database read-only (another read-only opener may
	// share it): every write fails with ErrReadOnly and no GC runs.
	ReadOnly bool
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
	if o.ValueLogFileSize == 0 {
		// Badger refuses values larger than a value-log file.
		o.ValueLogFileSize = min(max(valueLogFileSize, o.Limits.MaxFileBytes), 2<<30-1)
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = memTableSize
	}
	if o.ObjectCacheSize == 0 {
		o.ObjectCacheSize = objectCacheSize
	}
	if o.IndexCacheSize == 0 {
		o.IndexCacheSize = indexCacheSize
	}
	if o.Reserve == 0 {
		o.Reserve = DefaultReserve(o.ValueLogFileSize, o.MemTableSize)
	}
}

// validate checks the Badger sizes (after setDefaults).
func (o *Options) validate() error {
	if o.ValueLogFileSize < 1<<20 || o.ValueLogFileSize >= 2<<30 {
		return invalid("value-log file size", fmt.Sprint(o.ValueLogFileSize), "must be at least 1 MiB and below 2 GiB")
	}
	if o.Limits.MaxFileBytes > o.ValueLogFileSize {
		return invalid("value-log file size", fmt.Sprint(o.ValueLogFileSize),
			fmt.Sprintf("must be at least the largest file size (%d bytes): Badger keeps no larger value", o.Limits.MaxFileBytes))
	}
	if o.MemTableSize < minMemTableSize {
		return invalid("memtable size", fmt.Sprint(o.MemTableSize), "must be at least 512 KiB")
	}
	if o.BlockCacheSize < 0 {
		return invalid("block cache size", fmt.Sprint(o.BlockCacheSize), "must not be negative")
	}
	return nil
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
	indexCacheSize   = 16 << 20
	objectCacheSize  = 32 << 20
	// minMemTableSize keeps Badger's batch limit (15 % of a memtable) above
	// valueThreshold, as Badger requires.
	minMemTableSize = 512 << 10
	// maxRetries bounds retries of a transaction that hit errKVConflict.
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
	// kv runs the catalog's transactions (kv.go): the Badger adapter over
	// db (kv_badger.go). db itself serves only what is Badger's own:
	// backup and restore (backup.go), value-log GC (gc.go), the files'
	// size (Size), and the bulk loads of tests.
	kv    kvStore
	db    *badger.DB
	opts  Options
	log   *slog.Logger
	enc   *zstd.Encoder
	dec   *zstd.Decoder
	cache *manifestCache
	// chunks keeps recently read small object chunks (chunkcache.go).
	chunks *chunkCache
	// metas keeps recently read om/ records (metacache.go).
	metas *metaCache
	// blobs is Options.Blobs; blobLocks order its writers and the GC (blob.go).
	blobs     Blobs
	blobLocks digestLocks
	// external: keyExternal is set (object_external.go).
	external bool
	// node names this opening among the nodes (patch_lease.go).
	node string
	// localBlobs: a PostgreSQL catalog whose bytes are this node's Badger
	// (cluster.go).
	localBlobs bool
	// orphanSweep is when the GC last listed the blob store (gc_external.go);
	// guarded by gcMu.
	orphanSweep time.Time
	space       *spaceGuard
	// readOnly is what every write returns when the store is read-only
	// (wrapping ErrReadOnly), nil when it is writable.
	readOnly error
	// cluster is the PostgreSQL side of a store opened with
	// Options.Catalog (cluster.go), nil otherwise.
	cluster *cluster
	// gens tells readers that keep a decoded catalog in memory when it
	// changed (generation.go).
	gens generations
	// events are the publish event subscribers (events.go).
	events events
	// reads counts read transactions (ReadTransactions).
	reads atomic.Uint64

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
//
// When the file system has less free space than opts.Reserve, Open opens
// the database read-only instead (opening it for writing could fault on a
// memory map, see space.go), logs an error saying so, and the store serves
// reads while every write fails with an error wrapping ErrReadOnly and
// ErrInsufficientStorage; ReadOnly reports it. Restart after freeing space.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("open store: empty directory: %w", ErrInvalid)
	}
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	log := opts.Logger.With("component", "store")

	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	space := newSpaceGuard(opts.Dir, opts.Reserve, log)
	readOnly := openMode(opts, space, log)
	bo := badgerOptions(opts, opts.Logger.With("component", "badger")).WithReadOnly(readOnly != nil)
	db, err := openBadger(bo)
	if err != nil {
		if readOnly != nil && !opts.ReadOnly {
			hint := ""
			if errors.Is(err, badger.ErrTruncateNeeded) {
				hint = " (the last stop was not clean, and the recovery Badger then does needs free space)"
			}
			err = fmt.Errorf("%w; opening it read-only failed too%s: %w", readOnly, hint, err)
		}
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

	s := &Store{kv: badgerKV{db}, db: db, opts: opts, log: log, enc: enc, dec: dec, cache: newManifestCache(16), chunks: newChunkCache(opts.ObjectCacheSize), metas: newMetaCache(0), blobs: opts.Blobs,
		space: space, readOnly: readOnly, node: newNodeID()}
	if err := s.openCatalog(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.markExternal(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if opts.GCInterval > 0 && readOnly == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopGC = cancel
		s.gcDone = make(chan struct{})
		go s.gcLoop(ctx)
	}
	return s, nil
}

// badgerOptions returns the tuned Badger options; see the constants above
// and doc.go.
func badgerOptions(opts Options, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(opts.Dir).
		// Durability: every committed transaction is fsynced before Commit
		// returns (doc.go, "Durability").
		WithSyncWrites(true).
		WithNumVersionsToKeep(1).
		// Every value-log read is CRC-checked (objectlayout.go, "Integrity").
		WithVerifyValueChecksum(verifyValueChecksum).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(opts.ValueLogFileSize).
		WithMemTableSize(opts.MemTableSize).
		WithNumMemtables(numMemtables).
		WithNumLevelZeroTables(numMemtables).
		WithNumLevelZeroTablesStall(8).
		WithNumCompactors(2).
		// Object values are already zstd-compressed when that helps, and
		// keys are mostly hashes: block compression would burn CPU for
		// nothing. Without compression Badger reads blocks straight from
		// the memory-mapped tables, so no block cache is needed.
		WithCompression(options.None).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithIndexCacheSize(max(opts.IndexCacheSize, 0)).
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
		if strings.Contains(err.Error(), "Another process is using this Badger database") {
			err = fmt.Errorf("%w (stop the server that uses it): %v", ErrLocked, err)
		}
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
		err := s.kv.Close()
		if s.cluster != nil {
			s.cluster.close()
			err = errors.Join(err, s.db.Close())
		}
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
// counters lag by a minute and count the preallocation.) Badger only.
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
// errKVConflict. fn may run more than once: it must reset anything it
// computes. A committed update may have changed the catalog: it moves
// CatalogGeneration. Writes that never touch an app, channel, bundle or
// device-channel record use updateData instead.
//
// On a PostgreSQL catalog the transaction also bumps the shared generation
// (its NOTIFY goes out on commit), so every node's copy is read again.
func (s *Store) update(ctx context.Context, fn func(txn kvTxn) error) error {
	n, err := s.updateBumping(ctx, fn, (*pgTxn).bump)
	if err == nil {
		if s.cluster != nil {
			storeMax(&s.gens.catalog, uint64(n))
		} else {
			s.gens.catalogChanged()
		}
	}
	return err
}

// updateDevices is updateData for writes of app's device-channel records:
// after the commit it moves app's device generation, and on a PostgreSQL
// catalog the transaction bumps app's shared row (every node sees it).
func (s *Store) updateDevices(ctx context.Context, app string, fn func(txn kvTxn) error) error {
	n, err := s.updateBumping(ctx, fn, func(t *pgTxn) (int64, error) { return t.bumpDevices(app) })
	if err == nil {
		if s.cluster != nil {
			storeMax(s.gens.deviceCounter(app), uint64(n))
		} else {
			s.deviceChannelsChanged(app)
		}
	}
	return err
}

// updateBumping is updateData whose transaction, on PostgreSQL, ends with
// bump; it returns the generation bump moved to (0 on Badger).
func (s *Store) updateBumping(ctx context.Context, fn func(txn kvTxn) error, bump func(*pgTxn) (int64, error)) (int64, error) {
	var n int64
	err := s.updateData(ctx, func(txn kvTxn) error {
		if err := fn(txn); err != nil {
			return err
		}
		if w, ok := txn.(*watchedTxn); ok {
			txn = w.kvTxn
		}
		if pt, ok := txn.(*pgTxn); ok {
			var err error
			n, err = bump(pt)
			return err
		}
		return nil
	})
	return n, err
}

// updateData is update for writes outside the catalog (objects, patches,
// derived objects, uploads, keys, device activity, GC marks): it leaves
// CatalogGeneration as it is.
func (s *Store) updateData(ctx context.Context, fn func(txn kvTxn) error) error {
	if s.readOnly != nil {
		return s.readOnly
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var w *watchedTxn
		run := fn
		if s.metas != nil {
			run = func(txn kvTxn) error { w = &watchedTxn{kvTxn: txn}; return fn(w) }
		}
		err := s.kv.Update(ctx, run)
		if err == nil && w != nil && w.wroteMeta {
			s.metas.changed() // after the commit: see metaCache
		}
		if !errors.Is(err, errKVConflict) || attempt == maxRetries {
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

// ReadTransactions is how many read transactions the store has opened
// since it was opened: what the tests that promise "a check touches no
// transaction" and the metrics count.
func (s *Store) ReadTransactions() uint64 { return s.reads.Load() }

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(txn kvTxn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.reads.Add(1)
	return s.kv.View(ctx, fn)
}

// exists reports whether key is present in txn's snapshot. In a read-write
// transaction the read takes part in conflict detection. On Badger it
// reads no value.
func exists(txn kvTxn, key []byte) (bool, error) {
	var err error
	if bt, ok := badgerTxnOf(txn); ok {
		_, err = bt.Get(key)
		err = badgerErr(err)
	} else {
		_, err = txn.Get(key)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errKVNotFound):
		return false, nil
	default:
		return false, err
	}
}

// getValue returns a copy of key's value, or ok=false if it is absent.
func getValue(txn kvTxn, key []byte) (v []byte, ok bool, err error) {
	v, err = txn.Get(key)
	if errors.Is(err, errKVNotFound) {
		return nil, false, nil
	}
	return v, err == nil, err
}

// withValue calls fn with key's value, valid only during fn; an absent key
// is errKVNotFound. On Badger the value is read in place, not copied: the
// path for large values (objects' chunks).
func withValue(txn kvTxn, key []byte, fn func(v []byte) error) error {
	if bt, ok := badgerTxnOf(txn); ok {
		item, err := bt.Get(key)
		if err != nil {
			return badgerErr(err)
		}
		return item.Value(fn)
	}
	v, err := txn.Get(key)
	if err != nil {
		return err
	}
	return fn(v)
}

// scan calls fn for each key with prefix, in key order, with its value
// when values is true (with values false only keys are read: on Badger,
// from the LSM tree alone). key and v are valid only during fn.
func scan(txn kvTxn, prefix []byte, values bool, fn func(key, v []byte) error) error {
	return txn.Scan(prefix, values, fn)
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
