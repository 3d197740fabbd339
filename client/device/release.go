package device

// Release keys on the device (api/release.go): with Config.ReleaseKeys
// set, an update is installed only when its release statement verifies
// with a trusted release key and matches the target and this device. The
// keys trusted are the configured ones (built into the app), plus those
// introduced by the app's key rotations, minus those revoked; each
// rotation is verified with the keys trusted before it, applied once, in
// sequence, and recorded in trust.json. The chain is fetched from the
// server only when an answer names a key the device does not trust yet, or
// when a sequence floor refuses an answer (a rotation may reset floors).

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
)

// Errors of release keys; every refusal wraps one (or checksig's
// ErrReleaseBadSignature / ErrReleaseMalformed).
var (
	// ErrReleaseUnsigned: an update without a release statement, for a
	// device that trusts release keys.
	ErrReleaseUnsigned = checksig.ErrReleaseUnsigned
	// ErrReleaseUntrusted: a statement signed by a key the device does
	// not trust, or has revoked.
	ErrReleaseUntrusted = checksig.ErrReleaseUntrusted
	// ErrReleaseMismatch: a statement about another app, version, bundle,
	// platform or native version.
	ErrReleaseMismatch = checksig.ErrReleaseMismatch
	// ErrRotationRefused: a key rotation the device does not accept (not
	// signed by a trusted release key, for another app, out of sequence).
	ErrRotationRefused = errors.New("device: release key rotation refused")
)

// maxChainBytes bounds the rotation chain's response.
const maxChainBytes = 1 << 20

// releaseTrust is what trust.json keeps of release keys.
type releaseTrust struct {
	// Roots are the ids of the configured release keys the rotations were
	// accepted under; when they change (a new app build), the rotations
	// are forgotten and the new roots start over.
	Roots     []string           `json:"roots"`
	Rotations []acceptedRotation `json:"rotations,omitempty"`
}

// acceptedRotation is one applied key rotation.
type acceptedRotation struct {
	App         string   `json:"app_id"`
	Sequence    uint64   `json:"sequence"`
	SignedBy    string   `json:"signed_by"`
	AddRelease  []string `json:"add_release,omitempty"` // base64 public keys
	AddServer   []string `json:"add_server,omitempty"`
	Revoke      []string `json:"revoke,omitempty"`
	ResetFloors bool     `json:"reset_floors,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

// syncReleaseRoots starts the release trust over when the configured roots
// changed, and reports whether trust.json must be written.
func (t *trust) syncReleaseRoots(cfg Config) bool {
	ids := sortedKeyIDs(cfg.ReleaseKeys)
	if len(ids) == 0 {
		changed := t.Release != nil
		t.Release = nil
		return changed
	}
	if t.Release != nil && slices.Equal(t.Release.Roots, ids) {
		return false
	}
	t.Release = &releaseTrust{Roots: ids}
	return true
}

// rotations are the accepted rotations of app.
func (t *trust) rotations(app string) []acceptedRotation {
	if t.Release == nil {
		return nil
	}
	var out []acceptedRotation
	for _, r := range t.Release.Rotations {
		if r.App == app {
			out = append(out, r)
		}
	}
	return out
}

// keys returns base plus the keys app's rotations added (release or
// server ones), minus every key they revoked.
func (t *trust) keys(app string, base []ed25519.PublicKey, server bool) []ed25519.PublicKey {
	rots := t.rotations(app)
	var revoked []string
	out := slices.Clone(base)
	for _, r := range rots {
		revoked = append(revoked, r.Revoke...)
		added := r.AddRelease
		if server {
			added = r.AddServer
		}
		out = append(out, decodeKeys(added)...)
	}
	return slices.DeleteFunc(out, func(k ed25519.PublicKey) bool { return slices.Contains(revoked, checksig.KeyID(k)) })
}

// decodeKeys decodes a rotation's base64 public keys (checked when it
// was accepted), skipping any that is not one.
func decodeKeys(b64 []string) []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, k := range b64 {
		if b, err := base64.StdEncoding.DecodeString(k); err == nil && len(b) == ed25519.PublicKeySize {
			out = append(out, ed25519.PublicKey(b))
		}
	}
	return out
}

// ReleaseTrust is what a device trusts of release keys, as Status shows it.
type ReleaseTrust struct {
	// Keys are the ids of the release keys the device accepts statements
	// from: those built into the app plus those rotations added, less those
	// they revoked, sorted.
	Keys []string `json:"keys"`
	// ServerKeys are the ids of check-answer keys rotations added (beyond
	// the app's built-in ones), less those revoked.
	ServerKeys []string `json:"server_keys,omitempty"`
	// Rotations is how many rotations were applied; Sequence is the last
	// one's.
	Rotations int    `json:"rotations"`
	Sequence  uint64 `json:"sequence,omitempty"`
}

// releaseTrust sums up app's release trust; nil when the device trusts
// no release keys.
func (t *trust) releaseTrust(app string) *ReleaseTrust {
	if t.Release == nil {
		return nil
	}
	rots := t.rotations(app)
	var revoked []string
	for _, r := range rots {
		revoked = append(revoked, r.Revoke...)
	}
	ids := func(roots []string, add func(acceptedRotation) []string) []string {
		out := slices.Clone(roots)
		for _, r := range rots {
			for _, k := range decodeKeys(add(r)) {
				out = append(out, checksig.KeyID(k))
			}
		}
		out = slices.DeleteFunc(out, func(id string) bool { return slices.Contains(revoked, id) })
		slices.Sort(out)
		return slices.Compact(out)
	}
	rt := &ReleaseTrust{
		Keys:       ids(t.Release.Roots, func(r acceptedRotation) []string { return r.AddRelease }),
		ServerKeys: ids(nil, func(r acceptedRotation) []string { return r.AddServer }),
		Rotations:  len(rots),
	}
	if len(rots) > 0 {
		rt.Sequence = rots[len(rots)-1].Sequence
	}
	return rt
}

// releaseMode reports whether the device trusts release keys.
func (u *updater) releaseMode() bool { return len(u.cfg.ReleaseKeys) > 0 }

// serverKeys are the keys check answers may be signed with now.
func (u *updater) serverKeys() []ed25519.PublicKey {
	return u.st.tr.keys(u.cfg.App, u.cfg.PublicKeys, true)
}

// releaseKeys are the release keys statements may be signed with now.
func (u *updater) releaseKeys() []ed25519.PublicKey {
	return u.st.tr.keys(u.cfg.App, u.cfg.ReleaseKeys, false)
}

// verifyRelease refuses an update whose release statement does not verify
// with a trusted release key, or is about another bundle or device. A
// statement by a key not trusted yet fetches the rotation chain once.
func (u *updater) verifyRelease(ctx context.Context, up *api.Update, res *Result) error {
	if !u.releaseMode() {
		return nil
	}
	if up.Release == nil {
		return fmt.Errorf("%w: the update to %s carries no release statement", ErrReleaseUnsigned, up.Target.Version)
	}
	st, err := checksig.VerifyRelease(*up.Release, u.releaseKeys())
	if errors.Is(err, ErrReleaseUntrusted) {
		changed, serr := u.syncRotations(ctx)
		if serr != nil {
			return fmt.Errorf("release: %w; %w", err, serr)
		}
		if changed {
			st, err = checksig.VerifyRelease(*up.Release, u.releaseKeys())
		}
	}
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := checksig.Match(st, checksig.ReleaseFor{
		Target: up.Target, App: u.cfg.App, Platform: u.cfg.Platform, NativeVersion: u.cfg.NativeVersion,
	}); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	res.ReleaseKey = up.Release.KeyID
	return nil
}

// syncRotations fetches the app's rotation chain and applies the ones not
// applied yet, in sequence, each verified with the release keys trusted
// before it. It reports whether any was applied; the first refused one
// ends the sync with ErrRotationRefused (those before it stay applied).
func (u *updater) syncRotations(ctx context.Context) (bool, error) {
	chain, err := u.fetchChain(ctx)
	if err != nil {
		return false, fmt.Errorf("%w: fetching the key rotations: %v", ErrRotationRefused, err)
	}
	t := &u.st.tr
	last := uint64(len(t.rotations(u.cfg.App)))
	applied := false
	var refused error
	for _, link := range chain.Rotations {
		var peek api.KeyRotation
		if err := peek.UnmarshalBinary(link.Payload); err != nil {
			refused = fmt.Errorf("%w: %v", ErrRotationRefused, err)
			break
		}
		if peek.Sequence <= last {
			continue
		}
		rot, err := checksig.VerifyRotation(link, u.releaseKeys())
		switch {
		case err != nil:
			refused = fmt.Errorf("%w: rotation %d: %w", ErrRotationRefused, peek.Sequence, err)
		case rot.App != u.cfg.App:
			refused = fmt.Errorf("%w: rotation %d is for app %q", ErrRotationRefused, rot.Sequence, rot.App)
		case rot.Sequence != last+1:
			refused = fmt.Errorf("%w: rotation %d, want %d", ErrRotationRefused, rot.Sequence, last+1)
		}
		if refused != nil {
			break
		}
		t.Release.Rotations = append(t.Release.Rotations, accepted(*rot, link.KeyID))
		if rot.ResetFloors {
			t.Floors = slices.DeleteFunc(t.Floors, func(f Floor) bool { return f.App == u.cfg.App })
		}
		u.st.hist.add(Event{At: u.cfg.Now(), Kind: "release_keys_rotated", Detail: fmt.Sprintf("rotation %d signed by %s: %s", rot.Sequence, link.KeyID, checksig.DescribeRotation(*rot))})
		last, applied = rot.Sequence, true
	}
	if applied {
		if err := u.st.writeJSON(trustFile, u.st.tr); err != nil {
			return true, err
		}
	}
	if refused != nil {
		u.st.hist.add(Event{At: u.cfg.Now(), Kind: "rotation_refused", Detail: refused.Error()})
	}
	return applied, refused
}

// accepted is the record of rotation r, signed by key id by.
func accepted(r api.KeyRotation, by string) acceptedRotation {
	enc := func(keys [][]byte) []string {
		var out []string
		for _, k := range keys {
			out = append(out, base64.StdEncoding.EncodeToString(k))
		}
		return out
	}
	return acceptedRotation{App: r.App, Sequence: r.Sequence, SignedBy: by, AddRelease: enc(r.AddRelease),
		AddServer: enc(r.AddServer), Revoke: r.Revoke, ResetFloors: r.ResetFloors, Reason: r.Reason}
}

// fetchChain GETs the app's rotation chain.
func (u *updater) fetchChain(ctx context.Context) (*api.ReleaseKeyChain, error) {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.CheckTimeout)
	defer cancel()
	p := strings.Replace(api.PathReleaseKeys, "{app}", u.cfg.App, 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base.JoinPath(p).String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := u.net.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxChainBytes+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	if len(b) > maxChainBytes {
		return nil, fmt.Errorf("%w: rotation chain over %d bytes", ErrTooLarge, maxChainBytes)
	}
	var chain api.ReleaseKeyChain
	if err := json.Unmarshal(b, &chain); err != nil {
		return nil, fmt.Errorf("rotation chain: %v", err)
	}
	if len(chain.Rotations) > api.MaxRotations {
		return nil, fmt.Errorf("rotation chain of %d links, at most %d", len(chain.Rotations), api.MaxRotations)
	}
	return &chain, nil
}
