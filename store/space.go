package store

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Sentinel errors of the disk-space guard (issue 14 item 1). Test for them
// with [errors.Is].
var (
	// ErrInsufficientStorage: the write would leave less free space on the
	// store's file system than Options.Reserve, so it was refused and
	// nothing was written. Writes work again once space is freed.
	ErrInsufficientStorage = errors.New("insufficient storage")
	// ErrReadOnly: the store was opened read-only (Options.ReadOnly, or
	// because the disk was full at start: then the error also wraps
	// ErrInsufficientStorage); every write fails with it.
	ErrReadOnly = errors.New("store is read-only")
)

// Why a reserve: Badger writes through memory maps of sparse files. The
// value-log file in use is mapped at twice ValueLogFileSize, the memtable
// write-ahead log (.mem) at twice MemTableSize, and every new table (.sst,
// from a memtable flush or a compaction) is created at its full size and
// then filled through its map. A page of such a map that the file system
// cannot back when it is first written is not an error Badger can return:
// the process dies with SIGBUS. So the store refuses writes (with
// ErrInsufficientStorage) while the space they need would eat into a reserve
// large enough to back everything Badger may still write on its own:
//
//   - 2 × ValueLogFileSize: the rest of the value-log file in use, one
//     rotation, and what value-log GC rewrites before it deletes a file;
//   - 2 × numMemtables × MemTableSize: the active write-ahead log and the
//     tables the memtables waiting for flush become;
//   - 8 × MemTableSize: the largest compaction, level 0 (up to
//     NumLevelZeroTablesStall tables of about a memtable each) into level 1,
//     whose output exists before its input is deleted.
//
// Badger creates and maps these files itself (there is no hook to
// preallocate them with fallocate), so keeping the reserve free is what
// keeps the maps backed.

// DefaultReserve is the reserve the store keeps free by default for Badger
// value-log files of vlogFileSize bytes and memtables of memTableSize bytes
// (see the comment above): with the defaults, 960 MiB.
func DefaultReserve(vlogFileSize, memTableSize int64) int64 {
	return 2*vlogFileSize + (2*numMemtables+8)*memTableSize
}

const (
	// spaceTTL is how long a free-space reading is trusted. Each write
	// granted meanwhile is subtracted from it.
	spaceTTL = time.Second
	// spaceRecheck: a write at least this large always reads the free
	// space anew.
	spaceRecheck = 4 << 20
	// spaceWarnEvery spaces out the low-space warnings.
	spaceWarnEvery = time.Minute
	// writeAmplification: a write of n bytes may occupy up to this many
	// times n for a while (write-ahead log or value log, then a table, then
	// a compaction's copy).
	writeAmplification = 2
)

// spaceGuard keeps writes from eating into the reserve. It reads the free
// space of dir's file system (statfs) at most once per spaceTTL, and
// subtracts what it grants in between.
type spaceGuard struct {
	dir     string
	reserve int64 // negative: guard off
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	est      int64 // free bytes: last reading minus grants since
	at       time.Time
	lastWarn time.Time
}

func newSpaceGuard(dir string, reserve int64, log *slog.Logger) *spaceGuard {
	return &spaceGuard{dir: dir, reserve: reserve, log: log, now: time.Now}
}

// read returns the free space now; ok is false where the platform cannot
// tell (the guard is then off).
func (g *spaceGuard) read() (free int64, ok bool) {
	free, err := freeBytes(g.dir)
	if err != nil {
		return 0, false
	}
	return free, true
}

// ensure returns nil if a write of n bytes leaves the reserve free, else an
// error wrapping ErrInsufficientStorage.
func (g *spaceGuard) ensure(n int64) error {
	if g.reserve < 0 {
		return nil
	}
	need := g.reserve + writeAmplification*max(n, 0)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.at.IsZero() || now.Sub(g.at) >= spaceTTL || n >= spaceRecheck || g.est < need {
		free, ok := g.read()
		if !ok {
			return nil
		}
		g.est, g.at = free, now
	}
	if g.est < need {
		g.warn(now, "disk full: refusing writes")
		return fmt.Errorf("%w: a write of %s needs %s free on the store's disk (%s for the write, %s reserve), and %s is free; free disk space (delete bundles, then the GC reclaims them) or lower the reserve",
			ErrInsufficientStorage, formatBytes(n), formatBytes(need),
			formatBytes(need-g.reserve), formatBytes(g.reserve), formatBytes(g.est))
	}
	g.est -= writeAmplification * max(n, 0)
	if g.est < 2*g.reserve {
		g.warn(now, "disk space low: writes are refused when the free space falls to the reserve")
	}
	return nil
}

// warn logs msg at most once per spaceWarnEvery. g.mu is held.
func (g *spaceGuard) warn(now time.Time, msg string) {
	if !g.lastWarn.IsZero() && now.Sub(g.lastWarn) < spaceWarnEvery {
		return
	}
	g.lastWarn = now
	g.log.Warn(msg, "dir", g.dir, "free_bytes", g.est, "reserve_bytes", g.reserve)
}

// ensureSpace is called at the top of every write that can size itself
// (objects, manifests, derived forms, device records): nil if the store is
// writable and n more bytes leave the reserve free, else an error wrapping
// ErrReadOnly or ErrInsufficientStorage, with nothing written.
func (s *Store) ensureSpace(n int64) error {
	if s.readOnly != nil {
		return s.readOnly
	}
	return s.space.ensure(n)
}

// ReadOnly reports whether the store was opened read-only (Options.ReadOnly,
// or a disk with less free space than the reserve at Open); every write then
// fails with ReadOnlyError.
func (s *Store) ReadOnly() bool { return s.readOnly != nil }

// ReadOnlyError is the error every write returns while ReadOnly, nil
// otherwise. It says why the store is read-only.
func (s *Store) ReadOnlyError() error { return s.readOnly }

// Space reports the free bytes on the store's file system (-1 where the
// platform cannot tell) and the reserve the store keeps (negative: none).
func (s *Store) Space() (free, reserve int64) {
	free, ok := s.space.read()
	if !ok {
		free = -1
	}
	return free, s.space.reserve
}

// formatBytes prints n for people: "3.0 MiB (3145728 bytes)".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTP"[exp], n)
}

// openMode decides how Open opens the database: nil for read-write, else
// the error every write of the read-only store will return. A disk with
// less free space than the reserve opens read-only, said loudly in the log.
func openMode(opts Options, g *spaceGuard, log *slog.Logger) error {
	if opts.ReadOnly {
		return fmt.Errorf("%w: it was opened read-only", ErrReadOnly)
	}
	if g.reserve < 0 {
		log.Warn("disk-space guard off: a full disk can crash the server", "dir", opts.Dir)
		return nil
	}
	if min := DefaultReserve(opts.ValueLogFileSize, opts.MemTableSize); g.reserve < min {
		log.Warn("disk reserve below what Badger may write on its own: a full disk can crash the server",
			"reserve_bytes", g.reserve, "recommended_bytes", min)
	}
	free, ok := g.read()
	if !ok {
		log.Warn("free disk space unknown on this platform: writes are not guarded against a full disk", "dir", opts.Dir)
		return nil
	}
	if free >= g.reserve {
		return nil
	}
	log.Error("DISK FULL AT START: the store is read-only; it serves reads, every write fails; free disk space and restart",
		"dir", opts.Dir, "free_bytes", free, "reserve_bytes", g.reserve)
	return fmt.Errorf("%w: %w: the store's disk had %s free at start, less than the reserve of %s; the store serves reads only: free disk space and restart, or restart with a smaller reserve",
		ErrReadOnly, ErrInsufficientStorage, formatBytes(free), formatBytes(g.reserve))
}
