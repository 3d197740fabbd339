package api

// Capgo end-to-end encryption (v2) of a bundle, made in CI by
// `bundle upload --capgo-key` (client/capgo). The server never holds a key:
// the bundle's files are stored as ciphertext, and two more files travel
// in the bundle under CapgoDir, which the Capgo adapter hands out in its
// own way and never lists in a manifest answer.
const (
	// CapgoDir holds the files of an encrypted bundle that are not app files.
	CapgoDir = ".patchwire/"
	// CapgoEncryptionPath is the JSON CapgoEncryption of the bundle.
	CapgoEncryptionPath = CapgoDir + "capgo-encryption.json"
	// CapgoZipPath is the encrypted zip of the app files, what a plugin
	// without manifest (delta) support downloads.
	CapgoZipPath = CapgoDir + "bundle.zip.enc"
)

// CapgoEncryption is what the plugin needs to decrypt and check an
// encrypted bundle, as the /updates answer carries it.
type CapgoEncryption struct {
	Format int `json:"format"` // 1
	// KeyID is the first 20 characters of the public key's base64 body
	// (Bundle.CapgoKeyID holds it too, for the key_id_mismatch check).
	KeyID string `json:"key_id"`
	// SessionKey is base64(IV) ":" base64(RSA private-key encryption of the
	// AES-128 key).
	SessionKey string `json:"session_key"`
	// Checksum is the signed SHA-256 of the plaintext zip (hex of the RSA
	// private-key encryption of the raw digest).
	Checksum string `json:"checksum"`
	// Files maps each app file's path to its signed SHA-256 of the
	// plaintext (the manifest answer's file_hash).
	Files map[string]string `json:"files"`
}

// CodeEncryptedForCapgo is the native check's no-update code for a
// channel that serves a Capgo-encrypted bundle: native devices cannot
// decrypt it, so they keep what they run.
const CodeEncryptedForCapgo = "encrypted_for_capgo"
