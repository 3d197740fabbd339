package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// openBadgerKV opens the Badger adapter on a new directory, tuned as Open
// tunes Badger, with small sizes.
func openBadgerKV(t *testing.T) badgerKV {
	t.Helper()
	opts := Options{Dir: t.TempDir(), ValueLogFileSize: 1 << 20, MemTableSize: 1 << 20, Logger: slog.New(slog.DiscardHandler)}
	opts.setDefaults()
	db, err := openBadger(badgerOptions(opts, opts.Logger))
	if err != nil {
		t.Fatal(err)
	}
	kv := badgerKV{db}
	t.Cleanup(func() {
		if err := kv.Close(); err != nil {
			t.Error(err)
		}
	})
	return kv
}

// TestKVConformanceBadger holds the Badger adapter to the kv contract.
func TestKVConformanceBadger(t *testing.T) {
	kvConformance(t, func(t *testing.T) kvStore { return openBadgerKV(t) })
}

// TestBadgerKVErrors: Badger's conflict and too-big errors come back as
// the seam's, and errors.Is still finds Badger's.
func TestBadgerKVErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		run       func(kv badgerKV) error
		seam, bdg error
	}{
		{"too big", func(kv badgerKV) error {
			// A 1 MiB memtable commits about 150 KiB at once.
			return kv.Update(ctx, func(txn kvTxn) error {
				for i := range 1 << 12 {
					if err := txn.Set(fmt.Appendf(nil, "k%d", i), make([]byte, 1<<10)); err != nil {
						return err
					}
				}
				return nil
			})
		}, errKVTooBig, badger.ErrTxnTooBig},
		{"conflict", func(kv badgerKV) error {
			return kv.Update(ctx, func(txn kvTxn) error {
				if _, err := txn.Get([]byte("n")); !errors.Is(err, errKVNotFound) {
					return fmt.Errorf("Get: %v", err)
				}
				if err := kv.Update(ctx, func(other kvTxn) error { return other.Set([]byte("n"), []byte("1")) }); err != nil {
					return err
				}
				return txn.Set([]byte("n"), []byte("2"))
			})
		}, errKVConflict, badger.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(openBadgerKV(t))
			if !errors.Is(err, tc.seam) || !errors.Is(err, tc.bdg) {
				t.Fatalf("err = %v, want one wrapping %v and %v", err, tc.seam, tc.bdg)
			}
		})
	}
}
