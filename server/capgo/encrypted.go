package capgo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// maxEncryptionBytes bounds the api.CapgoEncryptionPath file read.
const maxEncryptionBytes = 64 << 20

// preparedKey names a prepared answer: a bundle's manifest, and for a
// bundle with a Capgo key id also the bundle, whose encryption (stored
// beside its record, not in its content) the answer carries.
type preparedKey struct {
	manifest     manifest.Digest
	app, version string
}

// keyOf is the prepared answer's key of bundle b of app.
func keyOf(app string, b resolver.Bundle) preparedKey {
	k := preparedKey{manifest: b.Manifest}
	if b.KeyID != "" {
		k.app, k.version = app, b.Version
	}
	return k
}

// encryptionOf returns the Capgo encryption of the bundle k names, whose
// manifest is m: the one uploaded in its metadata, or, for bundles
// uploaded before it moved there, its api.CapgoEncryptionPath file; nil for
// a bundle in plaintext. Either is checked against m.
func encryptionOf(ctx context.Context, st Store, k preparedKey, m *manifest.Manifest) (*api.CapgoEncryption, error) {
	if k.app != "" {
		enc, err := st.CapgoEncryption(ctx, k.app, k.version)
		if err == nil {
			if err := enc.Check(m); err != nil {
				return nil, fmt.Errorf("encrypted bundle %s %s: %w", k.app, k.version, err)
			}
			return &enc, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	e, ok := m.Lookup(api.CapgoEncryptionPath)
	if !ok {
		return nil, nil
	}
	if e.Size > maxEncryptionBytes {
		return nil, fmt.Errorf("encrypted bundle: %s is %d bytes, more than %d", api.CapgoEncryptionPath, e.Size, maxEncryptionBytes)
	}
	obj, err := st.GetObject(ctx, e.Digest)
	if err != nil {
		return nil, fmt.Errorf("encrypted bundle: %s: %w", api.CapgoEncryptionPath, err)
	}
	return parseEncryption(obj.Raw, m)
}

// prepareEncrypted builds the answer of a bundle encrypted in CI: the zip
// is the uploaded encrypted zip (api.CapgoZipPath) if there is one, else
// the bundle is manifest-only; the session key and checksum are enc's;
// each manifest entry names its ciphertext object with its signed
// plaintext hash, and nothing is derived (ciphertext does not compress,
// and the server cannot rebuild a zip it cannot read). Files under
// api.CapgoDir are not listed.
func prepareEncrypted(m *manifest.Manifest, enc *api.CapgoEncryption) *prepared {
	p := &prepared{sizes: map[manifest.Digest]int64{}, served: map[manifest.Digest]int64{},
		sessionKey: enc.SessionKey, checksum: enc.Checksum, encrypted: true}
	if z, ok := m.Lookup(api.CapgoZipPath); ok {
		p.zip, p.zipHex, p.zipSize = z.Digest, z.Digest.String(), z.Size
	}
	b := []byte{'['}
	n := 0
	for _, e := range m.Entries() {
		if strings.HasPrefix(e.Path, api.CapgoDir) {
			continue
		}
		p.sizes[e.Digest], p.served[e.Digest] = e.Size, e.Size
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(append(b, `{"file_name":`...), e.Path)
		b = appendJSONString(append(b, `,"file_hash":`...), enc.Files[e.Path]) // Check: every app file has one
		b = append(b, `,"download_url":"`...)
		p.holes = append(p.holes, len(b))
		b = append(b, "/o/"...)
		b = append(b, e.Digest.String()...)
		b = append(b, `"}`...)
	}
	p.manifest = append(b, ']')
	p.weigh()
	return p
}

// parseEncryption decodes an uploaded api.CapgoEncryptionPath file and
// checks it against the bundle's manifest m (api.CapgoEncryption.Check):
// what it accepts is safe to write into an answer.
func parseEncryption(raw []byte, m *manifest.Manifest) (*api.CapgoEncryption, error) {
	var enc api.CapgoEncryption
	if err := json.Unmarshal(raw, &enc); err != nil {
		return nil, fmt.Errorf("encrypted bundle: %s does not decode: %w", api.CapgoEncryptionPath, err)
	}
	if err := enc.Check(m); err != nil {
		return nil, fmt.Errorf("encrypted bundle: %s: %w", api.CapgoEncryptionPath, err)
	}
	return &enc, nil
}
