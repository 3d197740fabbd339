package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/patchwire/patchwire/checksig"
)

// SigningKeyFile is the server's ed25519 key for signing check answers,
// under the data directory: a PEM "PRIVATE KEY" block (PKCS #8), mode 0600,
// made once at the first start and kept.
const SigningKeyFile = "signing.key"

// ErrNoSigningKey: the data directory holds no signing key yet.
var ErrNoSigningKey = errors.New("no signing key")

// LoadSigningKey reads DIR/signing.key. A missing file is ErrNoSigningKey;
// a file others may read (on Unix), or one that is not an ed25519 PKCS #8
// key, is an error naming the file.
func LoadSigningKey(dataDir string) (ed25519.PrivateKey, error) {
	name := filepath.Join(dataDir, SigningKeyFile)
	fi, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNoSigningKey)
	}
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: the signing key is readable by others (mode %04o); chmod 600 it", name, fi.Mode().Perm())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return checksig.ParsePrivateKey(name, b)
}

// LoadOrCreateSigningKey returns the key of DIR/signing.key, creating it
// (mode 0600) when absent. Creation is atomic and never replaces a key:
// when two processes race, both end up with the one that landed first.
// created reports whether this call made it.
func LoadOrCreateSigningKey(dataDir string) (priv ed25519.PrivateKey, created bool, err error) {
	priv, err = LoadSigningKey(dataDir)
	if !errors.Is(err, ErrNoSigningKey) {
		return priv, false, err
	}
	_, priv, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	pemKey, err := checksig.EncodePrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, err
	}
	name := filepath.Join(dataDir, SigningKeyFile)
	tmp := name + ".new"
	os.Remove(tmp)
	if err := writeFileAtomic(tmp, pemKey, 0o600); err != nil {
		return nil, false, fmt.Errorf("write signing key: %w", err)
	}
	defer os.Remove(tmp)
	// A hard link creates name only if it does not exist yet.
	if err := os.Link(tmp, name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			priv, err = LoadSigningKey(dataDir)
			return priv, false, err
		}
		return nil, false, fmt.Errorf("write signing key: %w", err)
	}
	if d, err := os.Open(dataDir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return priv, true, nil
}
