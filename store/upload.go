package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// Upload is an upload session: the server creates one per bundle upload,
// receives the objects the store lacks, then commits the bundle. While a
// session is unexpired the objects its manifest references are live for
// the garbage collector.
type Upload struct {
	ID        string // 32 lowercase hex characters (128 random bits)
	App       string
	Version   string
	Manifest  *manifest.Manifest
	Meta      api.BundleMeta
	CreatedAt time.Time
	ExpiresAt time.Time
}

// uploadHeader is the JSON part of a u/ value. The value is
// uvarint(len(header JSON)) | header JSON | zstd(canonical manifest encoding).
type uploadHeader struct {
	App      string          `json:"app"`
	Version  string          `json:"version"`
	Manifest manifest.Digest `json:"manifest"`
	api.BundleMeta
	// CapgoEncrypted: the upload's BundleMeta.CapgoEncryption is at
	// ue/<upload id>, out of this header, which every object sent to the
	// session and every GC pass decodes.
	CapgoEncrypted bool      `json:"capgo_encrypted,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

const uploadIDLen = 32

// CreateUpload opens an upload session for version of app with manifest m.
// It checks up front that the app exists (ErrNotFound) and the version is
// free (ErrExists); CommitBundle checks both again. The session expires
// after Options.UploadTTL.
//
// Creating the session makes m's objects live for the garbage collector,
// in the same transaction: ask MissingObjects after CreateUpload, and
// every object it does not list stays stored until the session ends.
func (s *Store) CreateUpload(ctx context.Context, app, version string, m *manifest.Manifest, meta api.BundleMeta) (Upload, error) {
	if err := ValidateAppID(app); err != nil {
		return Upload{}, err
	}
	if _, err := ParseVersion(version); err != nil {
		return Upload{}, err
	}
	if m == nil {
		return Upload{}, fmt.Errorf("manifest: nil: %w", ErrInvalid)
	}
	if err := validateMeta(app, version, m, meta); err != nil {
		return Upload{}, err
	}
	if err := ValidateCapgoEncryption(meta, m); err != nil {
		return Upload{}, err
	}
	var idb [uploadIDLen / 2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return Upload{}, fmt.Errorf("create upload: %w", err)
	}
	enc := m.Encode()
	created := s.now()
	u := Upload{
		ID: hex.EncodeToString(idb[:]), App: app, Version: version, Manifest: m, Meta: meta,
		CreatedAt: created, ExpiresAt: created.Add(s.opts.UploadTTL),
	}
	h := uploadHeader{
		App: app, Version: version, Manifest: manifest.Sum(enc), BundleMeta: headerMeta(meta),
		CapgoEncrypted: meta.CapgoEncryption != nil, CreatedAt: u.CreatedAt, ExpiresAt: u.ExpiresAt,
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return Upload{}, fmt.Errorf("create upload: %w", err)
	}
	v := binary.AppendUvarint(nil, uint64(len(hj)))
	v = append(v, hj...)
	v = s.enc.EncodeAll(enc, v)

	if err := s.ensureSpace(int64(len(v))); err != nil {
		return Upload{}, fmt.Errorf("create upload for %s %s: %w", app, version, err)
	}
	var ev []byte
	if meta.CapgoEncryption != nil {
		if ev, err = json.Marshal(meta.CapgoEncryption); err != nil {
			return Upload{}, fmt.Errorf("create upload: %w", err)
		}
	}
	digests := m.Digests()
	err = s.updateData(ctx, func(txn kvTxn) error {
		if err := checkBundleFree(txn, app, version); err != nil {
			return err
		}
		if err := addReferences(txn, digests); err != nil {
			return err
		}
		if ev != nil {
			if err := txn.Set(uploadEncryptionKey(u.ID), ev); err != nil {
				return err
			}
		}
		return txn.Set(uploadKey(u.ID), v)
	})
	if err != nil {
		return Upload{}, fmt.Errorf("create upload for %s %s: %w", app, version, err)
	}
	return u, nil
}

// decodeUploadHeader splits a u/ value into its header and the compressed
// manifest.
func decodeUploadHeader(key, v []byte) (uploadHeader, []byte, error) {
	var h uploadHeader
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)-k) {
		return h, nil, fmt.Errorf("record %q: bad header length: %w", key, ErrCorrupt)
	}
	if err := decodeRecord(key, v[k:k+int(n)], &h); err != nil {
		return h, nil, err
	}
	return h, v[k+int(n):], nil
}

// GetUpload returns upload session id, all of it. An unknown, malformed or
// expired id is ErrNotFound.
func (s *Store) GetUpload(ctx context.Context, id string) (Upload, error) {
	return s.getUpload(ctx, id, true)
}

// GetUploadFiles is GetUpload without the Capgo encryption (Meta's
// CapgoEncryption is nil), which holds a signed hash per file: what
// receiving one object of the session needs, without decoding that each
// time. Commit with what GetUpload returns.
func (s *Store) GetUploadFiles(ctx context.Context, id string) (Upload, error) {
	return s.getUpload(ctx, id, false)
}

func (s *Store) getUpload(ctx context.Context, id string, withEncryption bool) (Upload, error) {
	if !validUploadID(id) {
		return Upload{}, fmt.Errorf("get upload %q: %w", clip(id), ErrNotFound)
	}
	var v, ev []byte
	err := s.view(ctx, func(txn kvTxn) error {
		var ok bool
		var err error
		v, ok, err = getValue(txn, uploadKey(id))
		if err == nil && !ok {
			err = fmt.Errorf("upload %s: %w", id, ErrNotFound)
		}
		if err == nil && withEncryption {
			ev, _, err = getValue(txn, uploadEncryptionKey(id))
		}
		return err
	})
	if err != nil {
		return Upload{}, fmt.Errorf("get upload: %w", err)
	}
	h, z, err := decodeUploadHeader(uploadKey(id), v)
	if err != nil {
		return Upload{}, fmt.Errorf("get upload: %w", err)
	}
	if !s.opts.Now().Before(h.ExpiresAt) {
		return Upload{}, fmt.Errorf("get upload: upload %s expired at %s: %w", id, h.ExpiresAt.Format(time.RFC3339), ErrNotFound)
	}
	m, err := s.decodeManifest(h.Manifest, z)
	if err != nil {
		return Upload{}, fmt.Errorf("get upload %s: %w", id, err)
	}
	u := Upload{
		ID: id, App: h.App, Version: h.Version, Manifest: m,
		Meta:      h.BundleMeta,
		CreatedAt: h.CreatedAt, ExpiresAt: h.ExpiresAt,
	}
	if withEncryption && h.CapgoEncrypted {
		// A session whose encryption is gone must not commit as plaintext.
		if ev == nil {
			return Upload{}, fmt.Errorf("get upload %s: its Capgo encryption is missing: %w", id, ErrCorrupt)
		}
		u.Meta.CapgoEncryption = new(api.CapgoEncryption)
		if err := decodeRecord(uploadEncryptionKey(id), ev, u.Meta.CapgoEncryption); err != nil {
			return Upload{}, fmt.Errorf("get upload %s: %w", id, err)
		}
	}
	return u, nil
}

// DeleteUpload ends upload session id (the server does so after a commit).
// An unknown or malformed id is ErrNotFound.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	if !validUploadID(id) {
		return fmt.Errorf("delete upload %q: %w", clip(id), ErrNotFound)
	}
	err := s.updateData(ctx, func(txn kvTxn) error {
		ok, err := exists(txn, uploadKey(id))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("upload %s: %w", id, ErrNotFound)
		}
		return deleteUploadTxn(txn, uploadKey(id))
	})
	if err != nil {
		return fmt.Errorf("delete upload: %w", err)
	}
	return nil
}

// deleteUploadTxn deletes the session at key k (a u/ key) and its
// encryption, if any.
func deleteUploadTxn(txn kvTxn, k []byte) error {
	if err := txn.Delete(k); err != nil {
		return err
	}
	ek := uploadEncryptionKey(string(k[len(pfxUpload):]))
	ok, err := exists(txn, ek)
	if err != nil || !ok {
		return err
	}
	return txn.Delete(ek)
}

func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// headerMeta is meta as the u/ header keeps it: without the Capgo
// encryption, which lives at ue/.
func headerMeta(meta api.BundleMeta) api.BundleMeta {
	meta.CapgoEncryption = nil
	return meta
}
