package capgo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

// maxEncryptionBytes bounds the api.CapgoEncryptionPath file read.
const maxEncryptionBytes = 64 << 20

// prepareEncrypted builds the answer of a bundle encrypted in CI
// (api.CapgoEncryption): the zip is the uploaded encrypted zip, the
// session key and checksum come from the bundle's encryption file, each
// manifest entry names its ciphertext object with its signed plaintext
// hash, and nothing is derived (ciphertext does not compress, and the
// server cannot rebuild a zip it cannot read). Files under api.CapgoDir
// are not listed.
func prepareEncrypted(ctx context.Context, st Store, m *manifest.Manifest) (*prepared, error) {
	encEntry, _ := m.Lookup(api.CapgoEncryptionPath)
	zipEntry, hasZip := m.Lookup(api.CapgoZipPath)
	if encEntry.Size > maxEncryptionBytes {
		return nil, fmt.Errorf("encrypted bundle: %s is %d bytes, more than %d", api.CapgoEncryptionPath, encEntry.Size, maxEncryptionBytes)
	}
	obj, err := st.GetObject(ctx, encEntry.Digest)
	if err != nil {
		return nil, fmt.Errorf("encrypted bundle: %s: %w", api.CapgoEncryptionPath, err)
	}
	enc, err := parseEncryption(obj.Raw)
	if err != nil {
		return nil, err
	}
	p := &prepared{sizes: map[manifest.Digest]int64{}, served: map[manifest.Digest]int64{},
		sessionKey: enc.SessionKey, checksum: enc.Checksum}
	if hasZip {
		p.zip, p.zipHex, p.zipSize = zipEntry.Digest, zipEntry.Digest.String(), zipEntry.Size
	}
	b := []byte{'['}
	n := 0
	for _, e := range m.Entries() {
		if strings.HasPrefix(e.Path, api.CapgoDir) {
			continue
		}
		hash, ok := enc.Files[e.Path]
		if !ok {
			return nil, fmt.Errorf("encrypted bundle: %s has no signed hash for %s", api.CapgoEncryptionPath, e.Path)
		}
		p.sizes[e.Digest], p.served[e.Digest] = e.Size, e.Size
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(append(b, `{"file_name":`...), e.Path)
		b = appendJSONString(append(b, `,"file_hash":`...), hash)
		b = append(b, `,"download_url":"`...)
		p.holes = append(p.holes, len(b))
		b = append(b, "/o/"...)
		b = append(b, e.Digest.String()...)
		b = append(b, `"}`...)
	}
	p.manifest = append(b, ']')
	p.weigh()
	return p, nil
}

// parseEncryption decodes an uploaded api.CapgoEncryptionPath file. The
// session key and checksum go into answers unescaped, so they must be
// base64 (and ':') and lowercase hex; the signed file hashes are written
// as JSON strings.
func parseEncryption(raw []byte) (api.CapgoEncryption, error) {
	var enc api.CapgoEncryption
	if err := json.Unmarshal(raw, &enc); err != nil || enc.Format != 1 || enc.SessionKey == "" {
		return enc, fmt.Errorf("encrypted bundle: %s does not decode as format 1 (%v)", api.CapgoEncryptionPath, err)
	}
	if strings.Trim(enc.SessionKey, base64Chars+":") != "" || strings.Trim(enc.Checksum, "0123456789abcdef") != "" {
		return enc, fmt.Errorf("encrypted bundle: %s: session_key or checksum has characters outside base64 and hex", api.CapgoEncryptionPath)
	}
	return enc, nil
}
