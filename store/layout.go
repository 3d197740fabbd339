package store

import (
	"encoding/binary"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// Key prefixes. doc.go describes what each holds; keep the two in step.
const (
	pfxObject   = "o/"
	pfxMeta     = "om/"
	pfxApp      = "a/"
	pfxBundle   = "b/"
	pfxManifest = "m/"
	pfxKey      = "k/"
	pfxUpload   = "u/"
	pfxGCMark   = "gc/"
	keyRefEpoch = "s/ref-epoch"
)

// bundleSep separates app id and version in a b/ key. App ids cannot
// contain it, so "b/<app>\x00" is an exact prefix for one app's bundles.
const bundleSep = 0x00

func digestKey(prefix string, d manifest.Digest) []byte {
	k := make([]byte, 0, len(prefix)+manifest.DigestSize)
	k = append(k, prefix...)
	return append(k, d[:]...)
}

func objectKey(d manifest.Digest) []byte   { return digestKey(pfxObject, d) }
func metaKey(d manifest.Digest) []byte     { return digestKey(pfxMeta, d) }
func manifestKey(d manifest.Digest) []byte { return digestKey(pfxManifest, d) }
func gcMarkKey(d manifest.Digest) []byte   { return digestKey(pfxGCMark, d) }

func appKey(id string) []byte    { return []byte(pfxApp + id) }
func keyKey(id string) []byte    { return []byte(pfxKey + id) }
func uploadKey(id string) []byte { return []byte(pfxUpload + id) }

// bundlePrefix is the prefix of every b/ key of app.
func bundlePrefix(app string) []byte {
	k := make([]byte, 0, len(pfxBundle)+len(app)+1)
	k = append(k, pfxBundle...)
	k = append(k, app...)
	return append(k, bundleSep)
}

func bundleKey(app, version string) []byte {
	return append(bundlePrefix(app), version...)
}

// digestFromKey extracts the digest from a key made by digestKey.
func digestFromKey(prefix string, k []byte) (manifest.Digest, bool) {
	var d manifest.Digest
	if len(k) != len(prefix)+manifest.DigestSize || string(k[:len(prefix)]) != prefix {
		return d, false
	}
	copy(d[:], k[len(prefix):])
	return d, true
}

// Object meta (om/ values): a small binary record, so HEAD and
// missing-object checks read a few bytes from the LSM tree and never the
// value log. Its 26-byte header:
//
//	[0]     format version (1: bytes at o/; 2: chunks at oc/, table follows; objectlayout.go)
//	[1]     encoding: 0 raw, 1 zstd
//	[2:10]  raw size, big-endian uint64
//	[10:18] stored size, big-endian uint64
//	[18:26] created, Unix nanoseconds, big-endian int64
const (
	metaVersion = 1
	metaLen     = 26

	encRaw  = 0
	encZstd = 1
)

// EncodingZstd is the ObjectInfo.Encoding of objects stored zstd-compressed.
const EncodingZstd = "zstd"

// encodeMeta encodes the 26-byte header; alone, it is a format-1 record
// (the object's bytes in one value at o/), as stores written before
// chunking hold (tests build such stores with it). encodeObjectMeta
// (objectlayout.go) appends the chunk table of format 2.
func encodeMeta(info ObjectInfo) []byte {
	b := make([]byte, metaLen)
	b[0] = metaVersion
	if info.Encoding == EncodingZstd {
		b[1] = encZstd
	}
	binary.BigEndian.PutUint64(b[2:], uint64(info.Size))
	binary.BigEndian.PutUint64(b[10:], uint64(info.StoredSize))
	binary.BigEndian.PutUint64(b[18:], uint64(info.CreatedAt.UnixNano()))
	return b
}

// decodeMeta decodes an om/ record of either format (decodeObjectMeta).
func decodeMeta(d manifest.Digest, b []byte) (ObjectInfo, error) {
	m, err := decodeObjectMeta(d, b)
	return m.info, err
}

// GC marks (gc/ values): the time the object was first seen unreferenced,
// Unix nanoseconds, big-endian int64.
func encodeMark(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

func decodeMark(b []byte) (time.Time, bool) {
	if len(b) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), true
}
