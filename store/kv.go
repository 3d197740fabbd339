package store

import (
	"context"
	"errors"
)

// The catalog's key-value seam (issue 12).
//
// Every record of the catalog (apps, bundles, channels and their history,
// keys, upload sessions, overrides, devices, events, counters, patch
// mappings, webhook queues, objects' records) is a key and a value in the
// layout store/doc.go lists, read and written in transactions. kvStore is
// what runs those transactions, so that the one implementation of the
// catalog's rules runs on either engine: Badger (the embedded default) or
// PostgreSQL (several nodes over one database). Objects' bytes are not
// here: they go through Blobs (blob.go), in Badger or in S3-compatible
// storage.
//
// badgerKV (kv_badger.go) is the Badger implementation; kvConformance
// (kv_conformance_test.go) is the contract below as a test, which every
// implementation passes.

// kvStore runs the catalog's transactions.
type kvStore interface {
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil: all of its writes become visible at once, or none.
	// Reads take part in conflict detection (serializable): when another
	// transaction committed a write to a key this one read or wrote, the
	// commit fails with errKVConflict and nothing is written; the caller
	// may run fn again.
	Update(ctx context.Context, fn func(kvTxn) error) error
	// View runs fn in a read-only transaction over one consistent
	// snapshot.
	View(ctx context.Context, fn func(kvTxn) error) error
	// Close releases the engine.
	Close() error
}

// kvTxn is one transaction of a kvStore.
type kvTxn interface {
	// Get returns key's value, which the caller owns, or errKVNotFound.
	Get(key []byte) ([]byte, error)
	// Set writes key's value (creating or replacing it). The transaction
	// may keep key and value until it ends: the caller must not change
	// them.
	Set(key, value []byte) error
	// Delete removes key (nothing when it is absent).
	Delete(key []byte) error
	// Scan calls fn for every key starting with prefix, in byte order of
	// the keys, with its value when values is true (else value is nil).
	// key and value are valid only during fn; fn's error stops the scan
	// and is returned.
	Scan(prefix []byte, values bool, fn func(key, value []byte) error) error
}

var (
	// errKVNotFound: the key has no value.
	errKVNotFound = errors.New("store: key not found")
	// errKVConflict: the transaction conflicted with a committed one and
	// was not committed.
	errKVConflict = errors.New("store: transaction conflict")
	// errKVTooBig: the transaction holds more writes than the engine
	// commits at once; the caller splits its work.
	errKVTooBig = errors.New("store: transaction too big")
)
