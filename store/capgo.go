package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// pfxCapgoEncryption keys an encrypted bundle's api.CapgoEncryption, beside
// its b/ record: ce/<app>\x00<version>. It is kept out of the bundle record,
// which every snapshot and bundle list reads, because it holds a signed
// hash of 512 characters per file.
const pfxCapgoEncryption = "ce/"

func capgoEncryptionKey(app, version string) []byte {
	return appScopedKey(pfxCapgoEncryption, app, version)
}

// pfxUploadEncryption keys an upload session's api.CapgoEncryption:
// ue/<upload id>, apart from the u/ value (uploadHeader.CapgoEncrypted).
const pfxUploadEncryption = "ue/"

func uploadEncryptionKey(id string) []byte { return []byte(pfxUploadEncryption + id) }

// ValidateCapgoEncryption checks an upload's meta.CapgoEncryption against
// its manifest m (api.CapgoEncryption.Check): CapgoKeyID, when set, must be
// its key id, and no file may sit under api.CapgoDir but the encrypted zip.
// Without an encryption it accepts anything. The error wraps ErrInvalid.
func ValidateCapgoEncryption(meta api.BundleMeta, m *manifest.Manifest) error {
	enc := meta.CapgoEncryption
	if enc == nil {
		return nil
	}
	bad := func(reason string) error {
		return fmt.Errorf("capgo_encryption: %s: %w", reason, ErrInvalid)
	}
	if meta.CapgoKeyID != "" && meta.CapgoKeyID != enc.KeyID {
		return bad(fmt.Sprintf("key_id %q differs from the bundle's capgo_key_id %q", enc.KeyID, meta.CapgoKeyID))
	}
	for _, e := range m.Entries() {
		if strings.HasPrefix(e.Path, api.CapgoDir) && e.Path != api.CapgoZipPath {
			return bad(fmt.Sprintf("file %s: the only file an encrypted bundle may have under %s is %s", e.Path, api.CapgoDir, api.CapgoZipPath))
		}
	}
	if err := enc.Check(m); err != nil {
		return bad(err.Error())
	}
	return nil
}

// putCapgoEncryptionTxn writes the encryption of a bundle being committed.
func putCapgoEncryptionTxn(txn kvTxn, app, version string, enc *api.CapgoEncryption) error {
	v, err := json.Marshal(enc)
	if err != nil {
		return err
	}
	return txn.Set(capgoEncryptionKey(app, version), v)
}

// CapgoEncryption returns the encryption bundle version of app was
// uploaded with (BundleMeta.CapgoEncryption); ErrNotFound when it has none
// (a bundle in plaintext, or one uploaded with the encryption as a file,
// api.CapgoEncryptionPath) or does not exist.
func (s *Store) CapgoEncryption(ctx context.Context, app, version string) (api.CapgoEncryption, error) {
	var enc api.CapgoEncryption
	err := s.view(ctx, func(txn kvTxn) error {
		k := capgoEncryptionKey(app, version)
		v, ok, err := getValue(txn, k)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("version %q of app %q has no Capgo encryption: %w", version, app, ErrNotFound)
		}
		return decodeRecord(k, v, &enc)
	})
	if err != nil {
		return api.CapgoEncryption{}, fmt.Errorf("capgo encryption: %w", err)
	}
	return enc, nil
}
