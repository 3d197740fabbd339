// Package capgo is Capgo's end-to-end encryption (v2) on the uploader's
// side, as the unmodified @capgo/capacitor-updater plugin decrypts it:
// RSA-2048 key pairs in PKCS#1 PEM, AES-128-CBC with PKCS#7 padding over a
// bundle zip and over each manifest file, the session key and the signed
// checksums. It lives under client because only CI holds the private key:
// the server stores and returns what this package makes, and never needs
// a key.
//
// One difference from Capgo's CLI keeps deduplication: the AES key and IV
// are not drawn at random per upload but derived from the private key and
// the app id (DeriveSession), so a file unchanged between versions
// encrypts to the same ciphertext object, which is neither uploaded nor
// stored twice. The price: whoever sees the stored objects can tell which
// files are equal across versions (not what they hold).
package capgo

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// KeyBits is the size of the RSA keys GenerateKey makes (Capgo's).
const KeyBits = 2048

// PEM block types of Capgo's key files.
const (
	privateBlock = "RSA PRIVATE KEY" // .capgo_key_v2
	publicBlock  = "RSA PUBLIC KEY"  // .capgo_key_v2.pub, the app's CapacitorUpdater.publicKey
)

// GenerateKey makes a new RSA key pair.
func GenerateKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, KeyBits) }

// EncodePrivateKey is the private key as Capgo's CLI writes it (PKCS#1 PEM).
func EncodePrivateKey(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: privateBlock, Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// EncodePublicKey is the public key as the plugin reads it (PKCS#1 PEM,
// "BEGIN RSA PUBLIC KEY", not SPKI).
func EncodePublicKey(k *rsa.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: publicBlock, Bytes: x509.MarshalPKCS1PublicKey(k)})
}

// ParsePrivateKey reads a private key file: PKCS#1 ("RSA PRIVATE KEY", as
// Capgo writes it) or PKCS#8 ("PRIVATE KEY") PEM.
func ParsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("capgo key: no PEM block (want -----BEGIN RSA PRIVATE KEY-----)")
	}
	switch block.Type {
	case privateBlock:
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("capgo key: %w", err)
		}
		return k, checkSize(k)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("capgo key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("capgo key: a %T, want RSA", k)
		}
		return rk, checkSize(rk)
	}
	return nil, fmt.Errorf("capgo key: PEM block %q, want %q (is this the .pub file?)", block.Type, privateBlock)
}

// checkSize refuses keys the plugin cannot use: it wants 256-byte blocks.
func checkSize(k *rsa.PrivateKey) error {
	if k.N.BitLen() != KeyBits {
		return fmt.Errorf("capgo key: %d-bit RSA key, the plugin needs %d bits", k.N.BitLen(), KeyBits)
	}
	return nil
}

// KeyID is what the plugin sends as key_id and Capgo stores per bundle:
// the first 20 characters of the public key's base64 body.
func KeyID(k *rsa.PublicKey) string {
	body := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(k))
	return body[:20]
}

// Session is the AES-128 key and IV that encrypt one app's files.
type Session struct {
	Key, IV [16]byte
}

// sessionSalt names the derivation, so that the same private key used for
// something else never yields these bytes.
const sessionSalt = "patchwire capgo v2 session"

// DeriveSession derives app's AES key and IV from the private key: HKDF
// with SHA-256 over the key's PKCS#1 encoding, the app id as info.
// Every upload of the app with the key gets the same session, so equal
// files have equal ciphertexts (see the package comment).
func DeriveSession(k *rsa.PrivateKey, app string) (Session, error) {
	b, err := hkdf.Key(sha256.New, x509.MarshalPKCS1PrivateKey(k), []byte(sessionSalt), app, 32)
	if err != nil {
		return Session{}, err
	}
	var s Session
	copy(s.Key[:], b[:16])
	copy(s.IV[:], b[16:])
	return s, nil
}

// Encrypt is AES-128-CBC with PKCS#7 padding of plain, whole, with no IV
// prefix: what the plugin's decryptFile undoes.
func (s Session) Encrypt(plain []byte) []byte {
	block, _ := aes.NewCipher(s.Key[:]) // 16 bytes: cannot fail
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	out := make([]byte, len(plain)+pad)
	copy(out, plain)
	copy(out[len(plain):], bytes.Repeat([]byte{byte(pad)}, pad))
	cipher.NewCBCEncrypter(block, s.IV[:]).CryptBlocks(out, out)
	return out
}

// Decrypt undoes Encrypt (for tests and tools; devices use their own).
func (s Session) Decrypt(ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("capgo decrypt: %d bytes is not a whole number of AES blocks", len(ct))
	}
	block, _ := aes.NewCipher(s.Key[:])
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, s.IV[:]).CryptBlocks(out, ct)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errors.New("capgo decrypt: bad padding (wrong key?)")
	}
	return out[:len(out)-pad], nil
}

// privateEncrypt is RSA "private-key encryption" with PKCS#1 v1.5 type 1
// padding (Node's privateEncrypt with RSA_PKCS1_PADDING): a signature of
// raw bytes with no hash prefix. It is deterministic.
func privateEncrypt(k *rsa.PrivateKey, data []byte) ([]byte, error) {
	return rsa.SignPKCS1v15(nil, k, crypto.Hash(0), data)
}

// SessionKey is the session_key the plugin decrypts: base64(IV) ":"
// base64(private-key encryption of the AES key).
func SessionKey(k *rsa.PrivateKey, s Session) (string, error) {
	enc, err := privateEncrypt(k, s.Key[:])
	if err != nil {
		return "", fmt.Errorf("capgo session key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(s.IV[:]) + ":" + base64.StdEncoding.EncodeToString(enc), nil
}

// SignChecksum is a bundle checksum or manifest file_hash for an
// encrypted bundle ("V3" of Capgo's CLI): hex of the private-key
// encryption of the raw SHA-256 of the plaintext, 512 hex characters.
func SignChecksum(k *rsa.PrivateKey, sum [sha256.Size]byte) (string, error) {
	enc, err := privateEncrypt(k, sum[:])
	if err != nil {
		return "", fmt.Errorf("capgo checksum: %w", err)
	}
	return hex.EncodeToString(enc), nil
}

// ParsePublicKey reads a public key as the plugin's config holds it
// (PKCS#1 PEM; SPKI "PUBLIC KEY" is accepted too).
func ParsePublicKey(b []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(string(b))))
	if block == nil {
		return nil, errors.New("capgo public key: no PEM block")
	}
	switch block.Type {
	case publicBlock:
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, fmt.Errorf("capgo public key: a %T, want RSA", k)
	}
	return nil, fmt.Errorf("capgo public key: PEM block %q, want %q", block.Type, publicBlock)
}
