package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Backup and restore are Badger's own (its backup stream and Load over
// s.db): they move a Badger store's every key, objects' chunks included,
// and have no counterpart on another kvStore.
//
// Backup format: Badger's backup stream (badger.DB.Backup), a sequence of
// frames, each a little-endian uint64 length and that many bytes of a
// protobuf KVList. It holds every live key of the store (objects, catalog,
// device records) at one read timestamp.

// ErrLocked: another process (a running server) has the store's directory
// open; Badger allows one writer, or any number of read-only openers.
var ErrLocked = errors.New("store is in use by another process")

// backupStreamBatch is Badger's soft limit on one KVList of the stream
// (stream.go maxStreamSize); a frame also holds the value that crossed it.
const backupStreamBatch = 100 << 20

// maxBackupFrame bounds one frame of a backup being restored, so a damaged
// or hostile length cannot make Restore allocate gigabytes: one stream
// batch plus the largest value the store can hold plus slack.
func (s *Store) maxBackupFrame() uint64 {
	return uint64(backupStreamBatch + s.opts.ValueLogFileSize + 16<<20)
}

// BackupStats says what a Backup or Restore moved.
type BackupStats struct {
	Bytes int64 // bytes of the backup stream
}

// Backup writes a consistent snapshot of the whole store to w (Badger's
// backup stream, see above) and returns its size. It reads in one
// snapshot while the store keeps serving and writing, so it can run on a
// live server. A cancelled ctx stops it at the next write to w. Badger
// only (its stream over s.db, see above).
func (s *Store) Backup(ctx context.Context, w io.Writer) (BackupStats, error) {
	cw := &ctxWriter{ctx: ctx, w: w}
	if err := s.badgerOnly("backup"); err != nil {
		return BackupStats{}, err
	}
	if err := ctx.Err(); err != nil {
		return BackupStats{}, err
	}
	if _, err := s.db.Backup(cw, 0); err != nil {
		return BackupStats{Bytes: cw.n}, fmt.Errorf("backup: %w", err)
	}
	return BackupStats{Bytes: cw.n}, nil
}

// ctxWriter counts what passes and fails writes once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
	n   int64
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Restore loads a backup made by Backup into the store, which must hold no
// key at all (open it on an empty directory); a non-empty store is
// ErrExists and nothing is written. Each frame is checked for its length
// (a damaged backup is ErrCorrupt) and for disk space before Badger reads
// it. Run Verify afterwards: Restore checks the framing, not the content.
// A failed Restore leaves a partly loaded store: delete its directory.
// Badger only (Badger's Load over s.db, see above).
func (s *Store) Restore(ctx context.Context, r io.Reader) (BackupStats, error) {
	if err := s.badgerOnly("restore"); err != nil {
		return BackupStats{}, err
	}
	if s.readOnly != nil {
		return BackupStats{}, fmt.Errorf("restore: %w", s.readOnly)
	}
	empty := true
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, nil, false, func(key, _ []byte) error {
			if string(key) == keyExternal {
				return nil // written by Open with Options.Blobs: still empty
			}
			empty = false
			return errStopScan
		})
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return BackupStats{}, fmt.Errorf("restore: %w", err)
	}
	if !empty {
		return BackupStats{}, fmt.Errorf("restore: the store already holds data (restore only into an empty directory): %w", ErrExists)
	}
	fr := &frameReader{r: r, max: s.maxBackupFrame(), ctx: ctx, check: s.ensureSpace, remaining: remainingOf(r)}
	err = s.load(fr)
	s.metas.changed() // the load wrote om/ records, even a failed one
	if err != nil {
		if fr.err != nil {
			err = fr.err
		}
		return BackupStats{Bytes: fr.n}, fmt.Errorf("restore: %w", err)
	}
	if fr.err != nil {
		return BackupStats{Bytes: fr.n}, fmt.Errorf("restore: %w", fr.err)
	}
	s.gens.catalogChanged()
	return BackupStats{Bytes: fr.n}, nil
}

// load runs Badger's Load, turning a panic on hostile content into
// ErrCorrupt.
func (s *Store) load(r io.Reader) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("loading the backup: panic: %v: %w", v, ErrCorrupt)
		}
	}()
	return s.db.Load(r, 256)
}

// frameReader passes a backup stream through, checking each frame's length
// before the bytes of the frame go on: at most max, and check(length) must
// allow it (disk space). A backup that ends inside a frame is ErrCorrupt.
// The first failure is kept in err (Badger's Load may wrap or replace it).
type frameReader struct {
	r     io.Reader
	max   uint64
	ctx   context.Context
	check func(n int64) error
	// remaining, when the input's size is known (a file, a byte slice),
	// returns the bytes left to read, so a frame claiming more is refused
	// before Badger allocates for it.
	remaining func() (int64, bool)

	hdr     [8]byte
	pending []byte // header bytes not handed on yet
	left    uint64 // body bytes left of the current frame
	n       int64
	err     error
}

func (f *frameReader) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(f.pending) == 0 && f.left == 0 {
		if err := f.nextFrame(); err != nil {
			return 0, err
		}
	}
	if len(f.pending) > 0 {
		n := copy(p, f.pending)
		f.pending = f.pending[n:]
		return n, nil
	}
	if uint64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= uint64(n)
	f.n += int64(n)
	switch {
	case err == io.EOF && f.left > 0:
		return n, f.fail(fmt.Errorf("backup ends inside a frame, %d bytes short: %w", f.left, ErrCorrupt))
	case err == io.EOF:
		return n, nil // the next Read reports it, between frames
	case err != nil:
		return n, f.fail(err)
	}
	return n, nil
}

// nextFrame reads and checks a frame header; io.EOF is a clean end.
func (f *frameReader) nextFrame() error {
	if err := f.ctx.Err(); err != nil {
		return f.fail(err)
	}
	n, err := io.ReadFull(f.r, f.hdr[:])
	f.n += int64(n)
	switch {
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return f.fail(fmt.Errorf("backup ends inside a frame header after %d bytes: %w", f.n, ErrCorrupt))
	case err != nil:
		return f.fail(err)
	}
	size := binary.LittleEndian.Uint64(f.hdr[:])
	if size > f.max {
		return f.fail(fmt.Errorf("backup frame at byte %d claims %d bytes, more than any frame holds (%d): %w", f.n-8, size, f.max, ErrCorrupt))
	}
	if f.remaining != nil {
		if left, ok := f.remaining(); ok && size > uint64(left) {
			return f.fail(fmt.Errorf("backup frame at byte %d claims %d bytes, and only %d follow: %w", f.n-8, size, left, ErrCorrupt))
		}
	}
	if err := f.check(int64(size)); err != nil {
		return f.fail(err)
	}
	f.pending, f.left = f.hdr[:], size
	return nil
}

// remainingOf tells how many bytes r has left when r knows (an *os.File
// of a regular file, a bytes or strings Reader); nil otherwise.
func remainingOf(r io.Reader) func() (int64, bool) {
	switch r := r.(type) {
	case interface{ Len() int }:
		return func() (int64, bool) { return int64(r.Len()), true }
	case *os.File:
		return func() (int64, bool) {
			fi, err := r.Stat()
			if err != nil || !fi.Mode().IsRegular() {
				return 0, false
			}
			off, err := r.Seek(0, io.SeekCurrent)
			if err != nil {
				return 0, false
			}
			return fi.Size() - off, true
		}
	}
	return nil
}

func (f *frameReader) fail(err error) error {
	if f.err == nil {
		f.err = err
	}
	return f.err
}

// badgerOnly refuses op on a PostgreSQL catalog, naming what to use.
func (s *Store) badgerOnly(op string) error {
	if s.cluster == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: back up the database with pg_dump (and the objects' bucket with its own tools); patchwire's backup and restore are for a Badger catalog", op, ErrCatalogPostgres)
}
