package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/patchwire/patchwire/api"
)

// API key secrets look like "pw_<key id>_<secret>": the key id is 16
// lowercase hex characters (8 random bytes, public, used for lookup and in
// logs), the secret part 32 random bytes in unpadded base64url (256 bits).
// Only the SHA-256 of the whole string is stored.
const (
	keyPrefix    = "pw_"
	keyIDLen     = 16
	keySecretLen = 43 // base64.RawURLEncoding.EncodedLen(32)
	keyLen       = len(keyPrefix) + keyIDLen + 1 + keySecretLen

	// MaxKeyNameLen bounds a key's name, in bytes.
	MaxKeyNameLen = 128
	// MaxKeyApps bounds how many apps one key may list.
	MaxKeyApps = 1024
)

// keyRecord is the k/ value.
type keyRecord struct {
	SecretSHA256 []byte    `json:"secret_sha256"`
	Scope        string    `json:"scope"`
	Apps         []string  `json:"apps,omitempty"`
	Channels     []string  `json:"channels,omitempty"`
	Name         string    `json:"name,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

func (r keyRecord) key(id string) api.Key {
	return api.Key{ID: id, Scope: r.Scope, Apps: r.Apps, Channels: r.Channels, Name: r.Name, CreatedAt: r.CreatedAt}
}

// MaxKeyChannels bounds how many channels one upload key may list.
const MaxKeyChannels = 256

// CreateKey makes an API key with scope, the apps it is limited to and a
// name for people; it is CreateScopedKey without channels.
func (s *Store) CreateKey(ctx context.Context, scope string, apps []string, name string) (secret string, k api.Key, err error) {
	return s.CreateScopedKey(ctx, api.CreateKeyRequest{Scope: scope, Apps: apps, Name: name})
}

// CreateScopedKey makes an API key as req describes: its scope
// (api.ScopeAdmin, api.ScopeWrite, api.ScopeUpload or api.ScopeRead), the
// apps it is limited to (valid app ids, which need not exist yet; an upload
// key needs at least one, an admin key takes none), the channels an upload
// key may point at a bundle (valid channel names; upload keys only) and a
// name for people. The server interprets scope, apps and channels
// (server/scope.go). It returns the secret, which is shown once and never
// stored: only its SHA-256 is kept.
func (s *Store) CreateScopedKey(ctx context.Context, req api.CreateKeyRequest) (secret string, k api.Key, err error) {
	scope, name := req.Scope, req.Name
	apps, err := validKeyApps(scope, req.Apps)
	if err != nil {
		return "", api.Key{}, err
	}
	channels, err := validKeyChannels(scope, req.Channels)
	if err != nil {
		return "", api.Key{}, err
	}
	if err := validateKeyName(name); err != nil {
		return "", api.Key{}, err
	}

	err = s.updateData(ctx, func(txn kvTxn) error {
		for {
			id, sec, err := newSecret()
			if err != nil {
				return err
			}
			taken, err := exists(txn, keyKey(id))
			if err != nil {
				return err
			}
			if taken {
				continue // 2^-64 per existing key; try another id
			}
			sum := sha256.Sum256([]byte(sec))
			r := keyRecord{SecretSHA256: sum[:], Scope: scope, Apps: apps, Channels: channels, Name: name, CreatedAt: s.now()}
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			secret, k = sec, r.key(id)
			return txn.Set(keyKey(id), v)
		}
	})
	if err != nil {
		return "", api.Key{}, fmt.Errorf("create key: %w", err)
	}
	return secret, k, nil
}

// validKeyApps checks scope and the apps a key of that scope lists, and
// returns them sorted without duplicates (nil for none).
func validKeyApps(scope string, apps []string) ([]string, error) {
	switch scope {
	case api.ScopeAdmin, api.ScopeWrite, api.ScopeUpload, api.ScopeRead:
	default:
		return nil, invalid("scope", scope, fmt.Sprintf("must be %q, %q, %q or %q", api.ScopeAdmin, api.ScopeWrite, api.ScopeUpload, api.ScopeRead))
	}
	if len(apps) > MaxKeyApps {
		return nil, fmt.Errorf("apps: %d apps, more than %d: %w", len(apps), MaxKeyApps, ErrInvalid)
	}
	for _, a := range apps {
		if err := ValidateAppID(a); err != nil {
			return nil, fmt.Errorf("apps: %w", err)
		}
	}
	apps = sortedSet(apps)
	switch {
	case scope == api.ScopeAdmin && apps != nil:
		return nil, fmt.Errorf("apps: an admin key acts on every app and lists none: %w", ErrInvalid)
	case scope == api.ScopeUpload && apps == nil:
		return nil, fmt.Errorf("apps: an upload key needs at least one app (--app): %w", ErrInvalid)
	}
	return apps, nil
}

// validKeyChannels checks the channels a key of scope lists (upload keys
// only) and returns them sorted without duplicates (nil for none).
func validKeyChannels(scope string, channels []string) ([]string, error) {
	if len(channels) == 0 {
		return nil, nil
	}
	if scope != api.ScopeUpload {
		return nil, fmt.Errorf("channels: only upload keys list channels (%s keys may set every channel or none): %w", scope, ErrInvalid)
	}
	if len(channels) > MaxKeyChannels {
		return nil, fmt.Errorf("channels: %d channels, more than %d: %w", len(channels), MaxKeyChannels, ErrInvalid)
	}
	for _, c := range channels {
		if err := ValidateChannelName(c); err != nil {
			return nil, fmt.Errorf("channels: %w", err)
		}
	}
	return sortedSet(channels), nil
}

// sortedSet returns names sorted without duplicates, nil when empty.
func sortedSet(names []string) []string {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if len(names) == 0 {
		return nil
	}
	return names
}

func validateKeyName(name string) error {
	if len(name) > MaxKeyNameLen {
		return invalid("key name", name, fmt.Sprintf("is %d bytes, more than %d", len(name), MaxKeyNameLen))
	}
	if !utf8.ValidString(name) {
		return invalid("key name", name, "is not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalid("key name", name, fmt.Sprintf("contains control character %U", r))
		}
	}
	return nil
}

// newSecret returns a fresh key id and the full secret string.
func newSecret() (id, secret string, err error) {
	var b [8 + 32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	id = hex.EncodeToString(b[:8])
	return id, keyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[8:]), nil
}

// parseSecret returns the key id of a well-formed secret.
func parseSecret(secret string) (id string, ok bool) {
	if len(secret) != keyLen || secret[:len(keyPrefix)] != keyPrefix || secret[len(keyPrefix)+keyIDLen] != '_' {
		return "", false
	}
	id = secret[len(keyPrefix) : len(keyPrefix)+keyIDLen]
	if !validKeyID(id) {
		return "", false
	}
	var raw [32]byte
	n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(secret[len(keyPrefix)+keyIDLen+1:]))
	if err != nil || n != len(raw) {
		return "", false
	}
	return id, true
}

func validKeyID(id string) bool {
	if len(id) != keyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Authenticate returns the key whose secret this is. Anything wrong
// (malformed, unknown key id, wrong secret) is ErrUnauthorized with no hint
// which. Secrets are compared as SHA-256 digests in constant time.
func (s *Store) Authenticate(ctx context.Context, secret string) (api.Key, error) {
	unauthorized := fmt.Errorf("authenticate: %w", ErrUnauthorized)
	id, ok := parseSecret(secret)
	if !ok {
		return api.Key{}, unauthorized
	}
	sum := sha256.Sum256([]byte(secret))
	var (
		r     keyRecord
		found bool
	)
	err := s.view(ctx, func(txn kvTxn) error {
		v, ok, err := getValue(txn, keyKey(id))
		if err != nil || !ok {
			return err
		}
		found = true
		return decodeRecord(keyKey(id), v, &r)
	})
	if err != nil {
		return api.Key{}, fmt.Errorf("authenticate: %w", err)
	}
	want := r.SecretSHA256
	if !found || len(want) != sha256.Size {
		if found {
			s.log.Error("key record holds a hash of the wrong length", "key_id", id)
		}
		// Compare anyway so an unknown id costs what a wrong secret costs.
		want = make([]byte, sha256.Size)
		subtle.ConstantTimeCompare(sum[:], want)
		return api.Key{}, unauthorized
	}
	if subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return api.Key{}, unauthorized
	}
	return r.key(id), nil
}

// ListKeys returns every key (never a secret), ordered by key id.
func (s *Store) ListKeys(ctx context.Context) ([]api.Key, error) {
	keys := []api.Key{}
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, []byte(pfxKey), true, func(key, v []byte) error {
			var r keyRecord
			if err := decodeRecord(key, v, &r); err != nil {
				return err
			}
			keys = append(keys, r.key(string(key[len(pfxKey):])))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// DeleteKey removes key id; its secret stops authenticating at once. An
// unknown or malformed id is ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	if !validKeyID(id) {
		return fmt.Errorf("delete key %q: %w", clip(id), ErrNotFound)
	}
	err := s.updateData(ctx, func(txn kvTxn) error {
		ok, err := exists(txn, keyKey(id))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("key %q: %w", id, ErrNotFound)
		}
		return txn.Delete(keyKey(id))
	})
	if err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	return nil
}

// CountKeys returns how many keys exist (the server creates the first
// admin key when there are none).
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	n := 0
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, []byte(pfxKey), false, func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		return 0, fmt.Errorf("count keys: %w", err)
	}
	return n, nil
}
