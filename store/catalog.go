package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/webhook"
)

// Rules for names the catalog accepts.
const (
	// MaxAppIDLen bounds an app id.
	MaxAppIDLen = 128
	// MaxVersionLen bounds a bundle version string.
	MaxVersionLen = 64
	// MaxLinkLen bounds BundleMeta.Link, in bytes.
	MaxLinkLen = 2048
	// MaxCommentLen bounds BundleMeta.Comment, in bytes.
	MaxCommentLen = 4096
)

// ValidateAppID checks an app id: 1–128 characters from [A-Za-z0-9._-],
// starting with a letter or digit. The error wraps ErrInvalid.
func ValidateAppID(id string) error {
	if id == "" || len(id) > MaxAppIDLen {
		return invalid("app id", id, fmt.Sprintf("must be 1 to %d characters", MaxAppIDLen))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return invalid("app id", id, "must start with a letter or digit")
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return invalid("app id", id, "may hold only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// ParseVersion parses a bundle version: strict semantic versioning
// (MAJOR.MINOR.PATCH with optional -prerelease and +build, no leading
// zeros, no "v" prefix, numbers that fit in uint64), at most 64 bytes.
// The error wraps ErrInvalid.
func ParseVersion(v string) (*semver.Version, error) {
	const rule = "must be a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] without a \"v\" prefix"
	if len(v) > MaxVersionLen {
		return nil, invalid("version", v, fmt.Sprintf("is %d bytes, more than %d", len(v), MaxVersionLen))
	}
	sv, err := semver.StrictNewVersion(v)
	if err != nil {
		return nil, invalid("version", v, rule+": "+strings.ToLower(err.Error()))
	}
	return sv, nil
}

// validateMeta checks what the uploader says about bundle version of app
// with manifest m.
func validateMeta(app, version string, m *manifest.Manifest, meta api.BundleMeta) error {
	if meta.MinUpdateVersion != "" {
		if _, err := ParseVersion(meta.MinUpdateVersion); err != nil {
			return fmt.Errorf("min_update_version: %w", err)
		}
	}
	if err := validateText("link", meta.Link, MaxLinkLen); err != nil {
		return err
	}
	if err := validateCapgoKeyID(meta.CapgoKeyID); err != nil {
		return err
	}
	if err := validateRelease(app, version, m, meta.Release); err != nil {
		return err
	}
	return validateText("comment", meta.Comment, MaxCommentLen)
}

// validateCapgoKeyID accepts "" or 20 characters of standard base64, the
// start of a public key's body.
func validateCapgoKeyID(id string) error {
	if id != "" && !api.ValidCapgoKeyID(id) {
		return invalid("capgo_key_id", id, "must be the first 20 base64 characters of the public key")
	}
	return nil
}

// validateText accepts valid UTF-8 of at most max bytes without control
// characters other than newline and tab.
func validateText(field, s string, max int) error {
	if len(s) > max {
		return invalid(field, s, fmt.Sprintf("is %d bytes, more than %d", len(s), max))
	}
	if !utf8.ValidString(s) {
		return invalid(field, s, "is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return invalid(field, s, fmt.Sprintf("contains control character %U", r))
		}
	}
	return nil
}

// appRecord is the a/ value.
type appRecord struct {
	CreatedAt time.Time `json:"created_at"`
}

// bundleRecord is the b/ value.
type bundleRecord struct {
	Manifest  manifest.Digest `json:"manifest"`
	Files     int             `json:"files"`
	Size      int64           `json:"size"`
	CreatedAt time.Time       `json:"created_at"`
	api.BundleMeta
	// Builtin and NativeVersion: the bundle shipped inside the app-store
	// builds of that native version (MarkBuiltin).
	Builtin       bool   `json:"builtin,omitempty"`
	NativeVersion string `json:"native_version,omitempty"`
}

func (r bundleRecord) bundle(app, version string) api.Bundle {
	return api.Bundle{
		App: app, Version: version, Manifest: r.Manifest, Files: r.Files, Size: r.Size, CreatedAt: r.CreatedAt,
		BundleMeta: r.BundleMeta, Builtin: r.Builtin, NativeVersion: r.NativeVersion,
	}
}

// MaxNativeVersionLen bounds a builtin bundle's native version.
const MaxNativeVersionLen = 64

// ValidateNativeVersion checks a native (app-store build) version as
// devices report it (Capgo's version_build): 1–64 characters from
// [A-Za-z0-9.+_-]. The error wraps ErrInvalid.
func ValidateNativeVersion(v string) error {
	if v == "" || len(v) > MaxNativeVersionLen {
		return invalid("native version", v, fmt.Sprintf("must be 1 to %d characters", MaxNativeVersionLen))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".+_-", c) >= 0) {
			return invalid("native version", v, "may hold only letters, digits, '.', '+', '_' and '-'")
		}
	}
	return nil
}

// MarkBuiltin marks bundle version of app as the one shipped inside the
// app-store builds of nativeVersion (ValidateNativeVersion): the server
// makes patches from it, and a device that reports "builtin" on that
// native version is taken to run it. The bundle stays a bundle like any
// other (no channel serves it unless set to it). Marking it again with
// another native version moves the mark; ErrNotFound for a missing bundle.
func (s *Store) MarkBuiltin(ctx context.Context, app, version, nativeVersion string) (api.Bundle, error) {
	if err := ValidateAppID(app); err != nil {
		return api.Bundle{}, err
	}
	if err := ValidateNativeVersion(nativeVersion); err != nil {
		return api.Bundle{}, err
	}
	var b api.Bundle
	err := s.update(ctx, func(txn kvTxn) error {
		r, err := getBundleTxn(txn, app, version)
		if err != nil {
			return err
		}
		r.Builtin, r.NativeVersion = true, nativeVersion
		b, err = putBundleTxn(txn, app, version, r)
		return err
	})
	if err != nil {
		return api.Bundle{}, fmt.Errorf("mark %s %s builtin: %w", app, version, err)
	}
	return b, nil
}

func decodeRecord(key []byte, v []byte, into any) error {
	if err := json.Unmarshal(v, into); err != nil {
		return fmt.Errorf("record %q: %v: %w", key, err, ErrCorrupt)
	}
	return nil
}

// now returns the store clock's time, rounded to get rid of the monotonic
// reading and sub-microsecond noise (JSON round trips stay equal).
func (s *Store) now() time.Time { return s.opts.Now().UTC().Round(time.Microsecond) }

// CreateApp registers app id. It returns ErrExists if the app exists and
// ErrInvalid if the id breaks ValidateAppID's rules.
func (s *Store) CreateApp(ctx context.Context, id string) (api.App, error) {
	if err := ValidateAppID(id); err != nil {
		return api.App{}, err
	}
	var app api.App
	err := s.update(ctx, func(txn kvTxn) error {
		ok, err := exists(txn, appKey(id))
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("app %q: %w", id, ErrExists)
		}
		app = api.App{ID: id, CreatedAt: s.now()}
		v, err := json.Marshal(appRecord{CreatedAt: app.CreatedAt})
		if err != nil {
			return err
		}
		return txn.Set(appKey(id), v)
	})
	if err != nil {
		return api.App{}, fmt.Errorf("create app: %w", err)
	}
	return app, nil
}

// GetApp returns app id, or ErrNotFound.
func (s *Store) GetApp(ctx context.Context, id string) (api.App, error) {
	if err := ValidateAppID(id); err != nil {
		return api.App{}, err
	}
	var app api.App
	err := s.view(ctx, func(txn kvTxn) error {
		var err error
		app, err = getAppTxn(txn, id)
		return err
	})
	if err != nil {
		return api.App{}, fmt.Errorf("get app: %w", err)
	}
	return app, nil
}

func getAppTxn(txn kvTxn, id string) (api.App, error) {
	v, ok, err := getValue(txn, appKey(id))
	if err != nil {
		return api.App{}, err
	}
	if !ok {
		return api.App{}, fmt.Errorf("app %q: %w", id, ErrNotFound)
	}
	var r appRecord
	if err := decodeRecord(appKey(id), v, &r); err != nil {
		return api.App{}, err
	}
	return api.App{ID: id, CreatedAt: r.CreatedAt}, nil
}

// ListApps returns every app, ordered by id.
func (s *Store) ListApps(ctx context.Context) ([]api.App, error) {
	apps := []api.App{}
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, []byte(pfxApp), true, func(key, v []byte) error {
			var r appRecord
			if err := decodeRecord(key, v, &r); err != nil {
				return err
			}
			apps = append(apps, api.App{ID: string(key[len(pfxApp):]), CreatedAt: r.CreatedAt})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return apps, nil
}

// CommitBundle publishes version of app with manifest m, in one
// transaction: it checks that the app exists (ErrNotFound), that the
// version is new (ErrExists: versions are immutable), and that every
// object m references is stored (*MissingObjectsError listing them); then
// it writes the manifest and the bundle record and clears the GC marks of
// m's objects. Either all of that becomes visible or none of it; when
// CommitBundle returns nil it is on stable storage.
//
// The object checks read the om/ keys inside the transaction, so a garbage
// collector deleting one of them concurrently makes one of the two
// transactions fail with a conflict; CommitBundle then retries and reports
// the object missing. A committed bundle never references a missing object.
func (s *Store) CommitBundle(ctx context.Context, app, version string, m *manifest.Manifest, meta api.BundleMeta) (api.Bundle, error) {
	if err := ValidateAppID(app); err != nil {
		return api.Bundle{}, err
	}
	if _, err := ParseVersion(version); err != nil {
		return api.Bundle{}, err
	}
	if m == nil {
		return api.Bundle{}, fmt.Errorf("manifest: nil: %w", ErrInvalid)
	}
	if err := validateMeta(app, version, m, meta); err != nil {
		return api.Bundle{}, err
	}
	if err := ValidateCapgoEncryption(meta, m); err != nil {
		return api.Bundle{}, err
	}
	keyID := meta.CapgoKeyID
	if meta.CapgoEncryption != nil {
		keyID = meta.CapgoEncryption.KeyID
	}
	enc := m.Encode()
	md := manifest.Sum(enc)
	zm := s.enc.EncodeAll(enc, nil)
	digests := m.Digests()
	if err := s.ensureSpace(int64(len(zm)) + 1024); err != nil {
		return api.Bundle{}, fmt.Errorf("commit bundle %s %s: %w", app, version, err)
	}

	var b api.Bundle
	err := s.update(ctx, func(txn kvTxn) error {
		if err := checkBundleFree(txn, app, version); err != nil {
			return err
		}
		var missing []manifest.Digest
		for _, d := range digests {
			ok, err := exists(txn, metaKey(d))
			if err != nil {
				return err
			}
			if !ok {
				missing = append(missing, d)
			}
		}
		if len(missing) > 0 {
			return &MissingObjectsError{Digests: missing}
		}
		if err := addReferences(txn, digests); err != nil {
			return err
		}
		ok, err := exists(txn, manifestKey(md))
		if err != nil {
			return err
		}
		if !ok {
			if err := txn.Set(manifestKey(md), zm); err != nil {
				return err
			}
		}
		r := bundleRecord{
			Manifest: md, Files: m.Len(), Size: m.TotalSize(), CreatedAt: s.now(), BundleMeta: meta,
		}
		// The encryption is kept beside the record (ce/), not in it.
		r.CapgoKeyID, r.CapgoEncryption = keyID, nil
		if meta.CapgoEncryption != nil {
			if err := putCapgoEncryptionTxn(txn, app, version, meta.CapgoEncryption); err != nil {
				return err
			}
		}
		if b, err = putBundleTxn(txn, app, version, r); err != nil {
			return err
		}
		return s.publishTxn(txn, PublishEvent{Kind: BundleCommitted, App: app, Version: version}, webhook.Data{Version: version})
	})
	if err != nil {
		return api.Bundle{}, fmt.Errorf("commit bundle %s %s: %w", app, version, err)
	}
	s.emit(PublishEvent{Kind: BundleCommitted, App: app, Version: version})
	return b, nil
}

// putBundleTxn writes r as the record of bundle version of app in txn and
// returns the bundle it describes.
func putBundleTxn(txn kvTxn, app, version string, r bundleRecord) (api.Bundle, error) {
	v, err := json.Marshal(r)
	if err != nil {
		return api.Bundle{}, err
	}
	return r.bundle(app, version), txn.Set(bundleKey(app, version), v)
}

// checkBundleFree checks inside txn that app exists and version does not.
func checkBundleFree(txn kvTxn, app, version string) error {
	ok, err := exists(txn, appKey(app))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("app %q: %w", app, ErrNotFound)
	}
	ok, err = exists(txn, bundleKey(app, version))
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("version %q of app %q: %w (bundle versions are immutable: publish a new version)", version, app, ErrExists)
	}
	return nil
}

// addReferences is done by every transaction that makes objects live
// (CommitBundle, CreateUpload): it clears their GC marks and rewrites the
// reference epoch, which a GC delete transaction reads, so a GC sweep
// working from an older picture of what is live conflicts and stops.
func addReferences(txn kvTxn, digests []manifest.Digest) error {
	for _, d := range digests {
		marked, err := exists(txn, gcMarkKey(d))
		if err != nil {
			return err
		}
		if marked {
			if err := txn.Delete(gcMarkKey(d)); err != nil {
				return err
			}
		}
	}
	epoch := make([]byte, 16)
	if _, err := rand.Read(epoch); err != nil {
		return err
	}
	return txn.Set([]byte(keyRefEpoch), epoch)
}

// GetBundle returns version of app, or ErrNotFound.
func (s *Store) GetBundle(ctx context.Context, app, version string) (api.Bundle, error) {
	if err := ValidateAppID(app); err != nil {
		return api.Bundle{}, err
	}
	if _, err := ParseVersion(version); err != nil {
		return api.Bundle{}, err
	}
	var b api.Bundle
	err := s.view(ctx, func(txn kvTxn) error {
		r, err := getBundleTxn(txn, app, version)
		b = r.bundle(app, version)
		return err
	})
	if err != nil {
		return api.Bundle{}, fmt.Errorf("get bundle: %w", err)
	}
	return b, nil
}

func getBundleTxn(txn kvTxn, app, version string) (bundleRecord, error) {
	k := bundleKey(app, version)
	v, ok, err := getValue(txn, k)
	if err != nil {
		return bundleRecord{}, err
	}
	if !ok {
		return bundleRecord{}, fmt.Errorf("version %q of app %q: %w", version, app, ErrNotFound)
	}
	var r bundleRecord
	err = decodeRecord(k, v, &r)
	return r, err
}

// ListBundles returns app's bundles in ascending semantic-version order
// (versions of equal precedence, which differ only in build metadata, in
// byte order). An unknown app is ErrNotFound.
func (s *Store) ListBundles(ctx context.Context, app string) ([]api.Bundle, error) {
	if err := ValidateAppID(app); err != nil {
		return nil, err
	}
	type versioned struct {
		b  api.Bundle
		sv *semver.Version
	}
	var list []versioned
	err := s.view(ctx, func(txn kvTxn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		pfx := bundlePrefix(app)
		return scan(txn, pfx, true, func(key, v []byte) error {
			version := string(key[len(pfx):])
			sv, err := semver.StrictNewVersion(version)
			if err != nil {
				return fmt.Errorf("record %q: version: %v: %w", key, err, ErrCorrupt)
			}
			var r bundleRecord
			if err := decodeRecord(key, v, &r); err != nil {
				return err
			}
			list = append(list, versioned{r.bundle(app, version), sv})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list bundles: %w", err)
	}
	sort.Slice(list, func(i, j int) bool {
		if c := list[i].sv.Compare(list[j].sv); c != 0 {
			return c < 0
		}
		return list[i].b.Version < list[j].b.Version
	})
	out := make([]api.Bundle, len(list))
	for i := range list {
		out[i] = list[i].b
	}
	return out, nil
}

// DeleteBundle removes version of app (ErrNotFound if absent), and its
// manifest unless another bundle uses it. While a channel serves the
// version, or rolls it out, it refuses with ErrBundleInUse (also
// ErrInvalid) naming the channel. The bundle's objects become
// collectable: the garbage collector removes those no bundle or upload
// session references once GCGrace has passed.
func (s *Store) DeleteBundle(ctx context.Context, app, version string) error {
	if err := ValidateAppID(app); err != nil {
		return err
	}
	if _, err := ParseVersion(version); err != nil {
		return err
	}
	err := s.update(ctx, func(txn kvTxn) error {
		r, err := getBundleTxn(txn, app, version)
		if err != nil {
			return err
		}
		// Reading every channel (and the channel id counter) here makes a
		// concurrent channel change that starts serving version conflict
		// with this transaction.
		ch, how, err := channelServing(txn, app, version)
		if err != nil {
			return err
		}
		if ch != "" {
			return fmt.Errorf("channel %q %s version %s; set the channel to another bundle first: %w", ch, how, version, ErrBundleInUse)
		}
		// A concurrent CommitBundle rewrites the epoch: reading it makes this
		// transaction conflict with one that adds a bundle sharing the
		// manifest (the scan below cannot see that new key).
		if _, err := exists(txn, []byte(keyRefEpoch)); err != nil {
			return err
		}
		self := bundleKey(app, version)
		if err := txn.Delete(self); err != nil {
			return err
		}
		if r.CapgoKeyID != "" {
			if err := txn.Delete(capgoEncryptionKey(app, version)); err != nil {
				return err
			}
		}
		shared := false
		errShared := errors.New("shared")
		err = scan(txn, []byte(pfxBundle), true, func(key, v []byte) error {
			if string(key) == string(self) {
				return nil
			}
			var o bundleRecord
			if err := decodeRecord(key, v, &o); err != nil {
				return err
			}
			if o.Manifest == r.Manifest {
				shared = true
				return errShared
			}
			return nil
		})
		if err != nil && !errors.Is(err, errShared) {
			return err
		}
		if shared {
			return nil
		}
		if _, err := exists(txn, manifestKey(r.Manifest)); err != nil {
			return err
		}
		return txn.Delete(manifestKey(r.Manifest))
	})
	if err != nil {
		return fmt.Errorf("delete bundle %s %s: %w", app, version, err)
	}
	return nil
}

// LoadManifest returns the manifest whose canonical encoding hashes to d
// (api.Bundle.Manifest), or ErrNotFound. Stored bytes that do not decode or
// do not hash to d are ErrCorrupt. Decoded manifests are cached; treat the
// result as immutable.
func (s *Store) LoadManifest(ctx context.Context, d manifest.Digest) (*manifest.Manifest, error) {
	var m *manifest.Manifest
	err := s.view(ctx, func(txn kvTxn) error {
		var err error
		m, err = s.loadManifestTxn(txn, d)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load manifest: %w", err)
	}
	return m, nil
}

func (s *Store) loadManifestTxn(txn kvTxn, d manifest.Digest) (*manifest.Manifest, error) {
	// Presence first (on Badger it reads no value), so a cached manifest
	// the collector deleted is not served.
	ok, err := exists(txn, manifestKey(d))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("manifest %s: %w", d, ErrNotFound)
	}
	if m := s.cache.get(d); m != nil {
		return m, nil
	}
	z, ok, err := getValue(txn, manifestKey(d))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("manifest %s: %w", d, ErrNotFound)
	}
	m, err := s.decodeManifest(d, z)
	if err != nil {
		s.log.Error("corrupt manifest", "key", fmt.Sprintf("%s%s", pfxManifest, d), "err", err)
		return nil, err
	}
	s.cache.add(d, m)
	return m, nil
}

// decodeManifest turns a stored (zstd) canonical encoding into a manifest
// and checks it hashes to d.
func (s *Store) decodeManifest(d manifest.Digest, z []byte) (*manifest.Manifest, error) {
	enc, err := s.dec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: zstd: %v: %w", d, err, ErrCorrupt)
	}
	if got := manifest.Sum(enc); got != d {
		return nil, fmt.Errorf("manifest %s: encoding hashes to %s: %w", d, got, ErrCorrupt)
	}
	m, err := manifest.Decode(enc, s.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %v: %w", d, err, ErrCorrupt)
	}
	return m, nil
}
