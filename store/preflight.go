package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// preflightTables opens every table the Badger MANIFEST lists, read-only,
// before Badger does. Badger opens tables in goroutines of its own and
// panics there on some corrupt files (badger issues #1883, #1797): no
// recover in Open can catch that, the process dies. Opening them here, on
// this goroutine, turns that panic into ErrCorrupt.
//
// Only panics count. Errors (and MANIFESTs this code cannot read) are left
// for badger.Open to report or to handle itself: a checksum mismatch makes
// it skip the table, and tables the MANIFEST does not list (a compaction
// cut short by a crash) are deleted, never opened.
func preflightTables(bo badger.Options) (err error) {
	f, err := os.Open(filepath.Join(bo.Dir, badger.ManifestFilename))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil
	}
	defer f.Close()
	var current string
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("open badger in %s: %s: panic: %v: %w", bo.Dir, current, r, ErrCorrupt)
		}
	}()
	current = badger.ManifestFilename
	mf, _, err := badger.ReplayManifestFile(f, bo.ExternalMagicVersion, bo)
	if err != nil {
		return nil
	}
	for id, tm := range mf.Tables {
		if tm.KeyID != 0 {
			continue // encrypted; this store never encrypts
		}
		name := table.NewFilename(id, bo.Dir)
		current = filepath.Base(name)
		m, err := z.OpenMmapFile(name, os.O_RDONLY, 0)
		if err != nil {
			continue
		}
		t, err := table.OpenTable(m, table.Options{
			ReadOnly:           true,
			TableSize:          uint64(bo.BaseTableSize),
			BlockSize:          bo.BlockSize,
			BloomFalsePositive: bo.BloomFalsePositive,
			ChkMode:            options.NoVerification,
			Compression:        tm.Compression,
		})
		if err != nil {
			continue // OpenTable closes m on its error paths
		}
		// Not t.DecrRef: dropping the last reference deletes the file.
		_ = t.MmapFile.Close(-1)
	}
	return nil
}
