package capgo

import (
	"archive/zip"
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// Encrypted is a bundle encrypted for upload: a manifest.Source of the
// ciphertext files (and, with Options.Zip, the encrypted zip at
// api.CapgoZipPath), and the encryption to send in the bundle's metadata
// (api.BundleMeta.CapgoEncryption).
type Encrypted struct {
	manifest.Source
	Encryption api.CapgoEncryption
}

// Options are the choices of Encrypt.
type Options struct {
	// Zip adds the encrypted zip of the plaintext files (api.CapgoZipPath)
	// and its signed checksum, for plugins without manifest delivery
	// (below 5.10.0, 6.25.0, 7.0.35). Without it the bundle is delivered
	// by manifest only, and a new version uploads only the files that
	// changed.
	Zip bool
}

// Encrypt reads every file of src and returns the bundle the server
// stores for app: each file encrypted with the app's session
// (DeriveSession) and its signed checksum, plus, with opt.Zip, the zip of
// the plaintext files encrypted whole. It holds the ciphertexts in memory.
func Encrypt(src manifest.Source, k *rsa.PrivateKey, app string, opt Options) (*Encrypted, error) {
	s, err := DeriveSession(k, app)
	if err != nil {
		return nil, err
	}
	sessionKey, err := SessionKey(k, s)
	if err != nil {
		return nil, err
	}
	enc := api.CapgoEncryption{Format: 1, KeyID: KeyID(&k.PublicKey), SessionKey: sessionKey, Files: map[string]string{}}
	files := map[string][]byte{}
	var zipBuf bytes.Buffer
	zw := zip.NewWriter(&zipBuf)
	for _, e := range src.Manifest().Entries() {
		plain, err := readFile(src, e.Path)
		if err != nil {
			return nil, err
		}
		if enc.Files[e.Path], err = SignChecksum(k, sha256.Sum256(plain)); err != nil {
			return nil, err
		}
		files[e.Path] = s.Encrypt(plain)
		if !opt.Zip {
			continue
		}
		// A deterministic zip: fixed times, manifest order.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Path, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(plain); err != nil {
			return nil, err
		}
	}
	if opt.Zip {
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if enc.Checksum, err = SignChecksum(k, sha256.Sum256(zipBuf.Bytes())); err != nil {
			return nil, err
		}
		files[api.CapgoZipPath] = s.Encrypt(zipBuf.Bytes())
	}
	entries := make([]manifest.Entry, 0, len(files))
	for p, b := range files {
		entries = append(entries, manifest.Entry{Path: p, Digest: manifest.Sum(b), Size: int64(len(b))})
	}
	m, err := manifest.New(entries, manifest.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("encrypted bundle: %w", err)
	}
	return &Encrypted{Source: memorySource{m: m, files: files}, Encryption: enc}, nil
}

func readFile(src manifest.Source, path string) ([]byte, error) {
	rc, err := src.Open(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// memorySource is a manifest.Source over bytes in memory.
type memorySource struct {
	m     *manifest.Manifest
	files map[string][]byte
}

func (s memorySource) Manifest() *manifest.Manifest { return s.m }

func (s memorySource) Open(path string) (io.ReadCloser, error) {
	b, ok := s.files[path]
	if !ok {
		return nil, fmt.Errorf("encrypted bundle: no file %q", path)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s memorySource) Close() error { return nil }
