package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/manifest"
)

// pfxRotation holds an app's release key rotations:
// rk/<app>\x00<sequence uint64 BE> → JSON api.SignedStatement.
const pfxRotation = "rk/"

func rotationPrefix(app string) []byte { return appScopedPrefix(pfxRotation, app) }

func rotationKey(app string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(rotationPrefix(app), seq)
}

// validateRelease checks an uploaded release statement (nil: none) before
// it is stored with bundle version of app: signed by the key it carries,
// and about exactly this bundle. Whether devices trust that key is theirs
// to say; the server only refuses to store a statement that could never
// verify, or one about another bundle.
func validateRelease(app, version string, m *manifest.Manifest, s *api.SignedStatement) error {
	if s == nil {
		return nil
	}
	keys, err := checksig.UploadedKey(*s)
	if err != nil {
		return invalid("release", s.KeyID, err.Error())
	}
	st, err := checksig.VerifyRelease(*s, keys)
	if err != nil {
		return invalid("release", s.KeyID, err.Error())
	}
	want := checksig.ReleaseFor{App: app, Target: api.TargetBundle{Version: version, Manifest: m.Digest(), Files: m.Len(), Size: m.TotalSize()}}
	if err := checksig.Match(st, want); err != nil {
		return invalid("release", s.KeyID, err.Error())
	}
	for _, p := range st.Platforms {
		if p != "ios" && p != "android" && p != "electron" {
			return invalid("release", p, "platforms must be ios, android or electron")
		}
	}
	if err := checksig.ValidateNativeRange(st.NativeRange); err != nil {
		return invalid("release", st.NativeRange, err.Error())
	}
	return nil
}

// AddReleaseRotation appends a release key rotation to app's chain. It
// must be signed by the key it carries, be for app, and be the next in
// sequence (1 for the first); a rotation signed by a key an earlier one
// revoked is refused. The server cannot make one: devices verify each
// with the release keys they trust. It returns the rotation's sequence.
func (s *Store) AddReleaseRotation(ctx context.Context, app string, r api.SignedStatement) (uint64, error) {
	if err := ValidateAppID(app); err != nil {
		return 0, err
	}
	keys, err := checksig.UploadedKey(r)
	if err != nil {
		return 0, invalid("rotation", r.KeyID, err.Error())
	}
	rot, err := checksig.VerifyRotation(r, keys)
	if err != nil {
		return 0, invalid("rotation", r.KeyID, err.Error())
	}
	if rot.App != app {
		return 0, invalid("rotation", rot.App, fmt.Sprintf("is signed for another app than %s", app))
	}
	v, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	err = s.update(ctx, func(txn kvTxn) error {
		if ok, err := exists(txn, appKey(app)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("app %s: %w", app, ErrNotFound)
		}
		chain, err := rotationsTxn(txn, app)
		if err != nil {
			return err
		}
		if want := uint64(len(chain)) + 1; rot.Sequence != want {
			return invalid("rotation", fmt.Sprint(rot.Sequence), fmt.Sprintf("sequence must be %d, the next of app %s", want, app))
		}
		if len(chain) >= api.MaxRotations {
			return invalid("rotation", fmt.Sprint(rot.Sequence), fmt.Sprintf("app %s has %d rotations, the most kept", app, len(chain)))
		}
		for _, prev := range chain {
			var p api.KeyRotation
			if p.UnmarshalBinary(prev.Payload) == nil && slices.Contains(p.Revoke, r.KeyID) {
				return invalid("rotation", r.KeyID, fmt.Sprintf("is signed by a key rotation %d revoked", p.Sequence))
			}
		}
		return txn.Set(rotationKey(app, rot.Sequence), v)
	})
	if err != nil {
		return 0, fmt.Errorf("add release key rotation for %s: %w", app, err)
	}
	return rot.Sequence, nil
}

// ReleaseRotations is app's chain of release key rotations in sequence
// order (empty, not an error, for an app without any; ErrNotFound for an
// unknown app).
func (s *Store) ReleaseRotations(ctx context.Context, app string) ([]api.SignedStatement, error) {
	var chain []api.SignedStatement
	err := s.view(ctx, func(txn kvTxn) error {
		if ok, err := exists(txn, appKey(app)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("app %s: %w", app, ErrNotFound)
		}
		var err error
		chain, err = rotationsTxn(txn, app)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("release key rotations of %s: %w", app, err)
	}
	return chain, err
}

func rotationsTxn(txn kvTxn, app string) ([]api.SignedStatement, error) {
	chain := []api.SignedStatement{}
	err := scan(txn, rotationPrefix(app), true, func(key, v []byte) error {
		var r api.SignedStatement
		if err := decodeRecord(key, v, &r); err != nil {
			return err
		}
		chain = append(chain, r)
		return nil
	})
	return chain, err
}
