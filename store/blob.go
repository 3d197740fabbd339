package store

import (
	"context"
	"sync"

	"github.com/patchwire/patchwire/manifest"
)

// Blobs is the seam between the store's catalog and where objects' bytes
// live: a flat space of blobs, each the raw bytes of one object under its
// SHA-256. The catalog (om/ records with the chunk table and its CRC-32Cs,
// GC marks, references) stays in the catalog's kv store (kv.go); only the
// bytes move. [BadgerBlobs]
// keeps them in Badger (the default: no Blobs in Options), [S3Blobs] in an
// S3-compatible bucket. TestBlobConformance (blob_test.go) holds both to
// this contract.
//
// Every method is safe for concurrent use. An absent blob is ErrNotFound.
type Blobs interface {
	// PutBlob stores raw as blob d (a blob d already there is kept, or
	// rewritten with the same bytes). It refuses
	// bytes that do not hash to d (a *manifest.Error, CodeDigestMismatch)
	// and never makes a partly written blob visible: when it returns nil
	// the whole blob is durable under d, otherwise d is as it was.
	PutBlob(ctx context.Context, d manifest.Digest, raw []byte) error
	// ReadBlob reads len(p) bytes of blob d at off (io.ReaderAt rules: n <
	// len(p) only with an error, io.EOF at the end).
	ReadBlob(ctx context.Context, d manifest.Digest, p []byte, off int64) (int, error)
	// StatBlob returns the length of blob d.
	StatBlob(ctx context.Context, d manifest.Digest) (int64, error)
	// DeleteBlob removes blob d; an absent one is no error.
	DeleteBlob(ctx context.Context, d manifest.Digest) error
	// ListBlobs calls fn with every blob's digest and length, in no
	// particular order; an error from fn stops the listing and is returned.
	ListBlobs(ctx context.Context, fn func(d manifest.Digest, size int64) error) error
}

// BlobLocator is what a Blobs whose bytes clients can fetch directly
// offers (S3Blobs): a URL for a blob, for answering a download with a
// redirect instead of proxying its bytes.
type BlobLocator interface {
	// BlobURL returns where a client can GET blob d, and how long that URL
	// may be cached (0: forever).
	BlobURL(ctx context.Context, d manifest.Digest) (url string, maxAge int64, ok bool, err error)
}

// digestLocks serializes, per digest, the writers of an external object
// (PutObject, PutDerived: blob upload, then its om/ record) and the
// collector deleting one (om/ record, then the blob), so a blob is never
// deleted under a record written after the collector's read. Badger locks
// its directory to one process, so in-process locks are enough.
type digestLocks [64]sync.Mutex

// lock locks d's stripe and returns its unlock.
func (l *digestLocks) lock(d manifest.Digest) func() {
	m := &l[d[0]%byte(len(l))]
	m.Lock()
	return m.Unlock
}
