package store

import (
	"context"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// badgerKV is the Badger implementation of kvStore: the embedded default,
// one process over one directory. Every transaction is a Badger
// transaction (serializable, conflict-checked on commit, fsynced before
// Update returns: doc.go, "Durability").
type badgerKV struct{ db *badger.DB }

// badgerTxn is one Badger transaction as a kvTxn. It is a single pointer,
// so it goes into the interface without an allocation.
type badgerTxn struct{ t *badger.Txn }

// badgerTxnOf returns the Badger transaction under t when t is the Badger
// adapter's. The object path uses it where Badger itself is the point:
// objects' chunks are Badger keys read in place (no copy of up to 1 MiB),
// and a presence check reads no value. Any other kvTxn takes the general
// path.
func badgerTxnOf(t kvTxn) (*badger.Txn, bool) {
	if w, ok := t.(*watchedTxn); ok {
		t = w.kvTxn
	}
	bt, ok := t.(badgerTxn)
	return bt.t, ok
}

// Update is db.Update without its closure: fn's error comes back as is,
// the commit's mapped (badgerErr).
func (k badgerKV) Update(_ context.Context, fn func(kvTxn) error) error {
	t := k.db.NewTransaction(true)
	defer t.Discard()
	if err := fn(badgerTxn{t}); err != nil {
		return err
	}
	return badgerErr(t.Commit())
}

// View is db.View: a read-only transaction, discarded after fn.
func (k badgerKV) View(_ context.Context, fn func(kvTxn) error) error {
	t := k.db.NewTransaction(false)
	defer t.Discard()
	return fn(badgerTxn{t})
}

func (k badgerKV) Close() error { return k.db.Close() }

func (t badgerTxn) Get(key []byte) ([]byte, error) {
	item, err := t.t.Get(key)
	if err != nil {
		return nil, badgerErr(err)
	}
	return item.ValueCopy(nil)
}

func (t badgerTxn) Set(key, value []byte) error { return badgerErr(t.t.Set(key, value)) }

func (t badgerTxn) Delete(key []byte) error { return badgerErr(t.t.Delete(key)) }

// Scan iterates with Badger's prefix iterator; with values false it
// prefetches no values, so only the LSM tree is read.
func (t badgerTxn) Scan(prefix []byte, values bool, fn func(key, value []byte) error) error {
	io := badger.DefaultIteratorOptions
	io.Prefix = prefix
	io.PrefetchValues = values
	if values {
		io.PrefetchSize = 16
	}
	it := t.t.NewIterator(io)
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		var err error
		if values {
			err = item.Value(func(v []byte) error { return fn(item.Key(), v) })
		} else {
			err = fn(item.Key(), nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// badgerErr maps Badger's errors to the seam's: a missing key is
// errKVNotFound itself; a conflict and an oversized transaction wrap both
// the seam's error and Badger's, so errors.Is finds either.
func badgerErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return errKVNotFound
	case errors.Is(err, badger.ErrConflict):
		return fmt.Errorf("%w (%w)", errKVConflict, err)
	case errors.Is(err, badger.ErrTxnTooBig):
		return fmt.Errorf("%w (%w)", errKVTooBig, err)
	}
	return err
}
