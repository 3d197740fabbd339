package api

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/patchwire/patchwire/manifest"
)

// Capgo end-to-end encryption (v2) of a bundle, made in CI by
// `bundle upload --capgo-key` (client/capgo). The server never holds a key:
// the bundle's files are stored as ciphertext, and what the plugin needs to
// decrypt and check them (CapgoEncryption) travels in the upload's
// metadata (BundleMeta.CapgoEncryption), not as a file, so a new version
// uploads only the files that changed. An upload may add one file under
// CapgoDir, the encrypted zip for plugins without manifest delivery
// (`--capgo-zip`); the Capgo adapter hands it out as the answer's url and
// never lists it in a manifest answer.
const (
	// CapgoDir holds the files of an encrypted bundle that are not app files.
	CapgoDir = ".patchwire/"
	// CapgoEncryptionPath is where uploads before the encryption moved into
	// the metadata carried the JSON CapgoEncryption, as a file of the
	// bundle; the Capgo adapter still reads such bundles.
	CapgoEncryptionPath = CapgoDir + "capgo-encryption.json"
	// CapgoZipPath is the encrypted zip of the app files, what a plugin
	// without manifest (delta) support downloads. Optional: without it the
	// bundle is delivered by manifest only.
	CapgoZipPath = CapgoDir + "bundle.zip.enc"
)

// CapgoEncryption is what the plugin needs to decrypt and check an
// encrypted bundle, as the /updates answer carries it.
type CapgoEncryption struct {
	Format int `json:"format"` // 1
	// KeyID is the first 20 characters of the public key's base64 body
	// (the bundle's BundleMeta.CapgoKeyID, for the key_id_mismatch check).
	KeyID string `json:"key_id"`
	// SessionKey is base64(IV) ":" base64(RSA private-key encryption of the
	// AES-128 key).
	SessionKey string `json:"session_key"`
	// Checksum is the signed SHA-256 of the plaintext zip (hex of the RSA
	// private-key encryption of the raw digest), "" when the upload has no
	// zip (CapgoZipPath): manifest delivery checks file hashes instead.
	Checksum string `json:"checksum,omitempty"`
	// Files maps each app file's path to its signed SHA-256 of the
	// plaintext (the manifest answer's file_hash).
	Files map[string]string `json:"files"`
}

// Sizes of the encryption's parts with Capgo's RSA-2048 keys.
const (
	capgoIVBytes     = 16
	capgoRSABytes    = 256
	capgoSignedChars = 2 * capgoRSABytes
	// CapgoKeyIDLen is the length of a key_id.
	CapgoKeyIDLen = 20
)

// ValidCapgoKeyID reports whether id looks like a key_id: 20 characters
// of standard base64 (no padding), the start of a public key's body.
func ValidCapgoKeyID(id string) bool {
	return len(id) == CapgoKeyIDLen && strings.Trim(id, base64Alphabet) == ""
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// Check validates e against the bundle it encrypts, m: format 1, a key_id,
// a session key of a 16-byte IV and a 256-byte RSA block, signed hashes of
// 512 lowercase hex characters, one for every app file (every path not
// under CapgoDir) and none for anything else, and a checksum when m holds
// the encrypted zip (optional otherwise). What it accepts is safe to write into a JSON
// answer unescaped (session key and checksum) or escaped (file hashes).
func (e *CapgoEncryption) Check(m *manifest.Manifest) error {
	if e.Format != 1 {
		return fmt.Errorf("format %d, want 1", e.Format)
	}
	if !ValidCapgoKeyID(e.KeyID) {
		return fmt.Errorf("key_id %q is not the first %d base64 characters of a public key", clip(e.KeyID), CapgoKeyIDLen)
	}
	iv, key, ok := strings.Cut(e.SessionKey, ":")
	if !ok || decodedLen(iv) != capgoIVBytes || decodedLen(key) != capgoRSABytes {
		return fmt.Errorf("session_key %q is not base64(%d-byte IV):base64(%d-byte RSA block)", clip(e.SessionKey), capgoIVBytes, capgoRSABytes)
	}
	_, hasZip := m.Lookup(CapgoZipPath)
	switch {
	case hasZip && e.Checksum == "":
		return fmt.Errorf("no checksum, but the bundle has the encrypted zip %s", CapgoZipPath)
	case e.Checksum != "" && !signedHex(e.Checksum):
		return fmt.Errorf("checksum %q is not %d lowercase hex characters", clip(e.Checksum), capgoSignedChars)
	}
	apps := 0
	for _, f := range m.Entries() {
		if strings.HasPrefix(f.Path, CapgoDir) {
			continue
		}
		apps++
		h, ok := e.Files[f.Path]
		if !ok {
			return fmt.Errorf("files: no signed hash for %s", f.Path)
		}
		if !signedHex(h) {
			return fmt.Errorf("files: the hash of %s is not %d lowercase hex characters", f.Path, capgoSignedChars)
		}
	}
	if len(e.Files) != apps {
		for p := range e.Files {
			if _, ok := m.Lookup(p); !ok || strings.HasPrefix(p, CapgoDir) {
				return fmt.Errorf("files: a hash for %q, which is not an app file of the bundle", clip(p))
			}
		}
	}
	return nil
}

// decodedLen is the length of standard base64 s decoded, -1 if it is not.
func decodedLen(s string) int {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return -1
	}
	return len(b)
}

func signedHex(s string) bool {
	return len(s) == capgoSignedChars && strings.Trim(s, "0123456789abcdef") == ""
}

// clip shortens a rejected value for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// CodeEncryptedForCapgo is the native check's no-update code for a
// channel that serves a Capgo-encrypted bundle: native devices cannot
// decrypt it, so they keep what they run.
const CodeEncryptedForCapgo = "encrypted_for_capgo"

// CodeInvalidCapgoEncryption is the admin API's 400 code for an upload
// whose capgo_encryption is malformed or does not match its files.
const CodeInvalidCapgoEncryption = "invalid_capgo_encryption"
