package store

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/patchwire/patchwire/manifest"
)

// Sentinel errors. Test for them with [errors.Is]; the returned errors wrap
// them with a message naming the record or field concerned.
var (
	// ErrNotFound: the app, bundle, object, manifest, key or upload session
	// does not exist (an expired upload session counts as absent).
	ErrNotFound = errors.New("not found")
	// ErrExists: the app or bundle version already exists. Bundle versions
	// are immutable.
	ErrExists = errors.New("already exists")
	// ErrUnauthorized: an API key secret that is malformed, unknown or wrong.
	// The error never says which.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrCorrupt: stored bytes that fail verification (an object whose bytes
	// do not hash to its digest, a record that does not decode), or a
	// database that Badger could not open without panicking.
	ErrCorrupt = errors.New("corrupt data")
	// ErrInvalid: an argument that breaks a rule (app id, version, scope,
	// key name, bundle metadata). The wrapping message names the field.
	ErrInvalid = errors.New("invalid argument")
)

// MissingObjectsError is returned by [Store.CommitBundle] when the manifest
// references objects the store does not hold. Nothing was written.
type MissingObjectsError struct {
	Digests []manifest.Digest // in manifest (path) order, each once
}

func (e *MissingObjectsError) Error() string {
	switch len(e.Digests) {
	case 0:
		return "missing objects"
	case 1:
		return fmt.Sprintf("missing object %s", e.Digests[0])
	default:
		return fmt.Sprintf("%d missing objects, first %s", len(e.Digests), e.Digests[0])
	}
}

// invalid wraps ErrInvalid with the field name, the offending value (cut
// short so a hostile 10 KB value does not end up in logs whole) and the rule.
func invalid(field, value, rule string) error {
	return fmt.Errorf("%s %q: %s: %w", field, clip(value), rule, ErrInvalid)
}

// clip shortens s for error messages.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
