package api

import (
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// Error is the body of every non-2xx JSON answer.
type Error struct {
	Code    string `json:"error"`   // machine-readable, stable
	Message string `json:"message"` // for a person
}

// Error codes the admin API answers with beyond manifest's input codes.
const (
	CodeBadRequest      = "bad_request"
	CodeUnauthorized    = "unauthorized"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeVersionExists   = "version_exists"
	CodeAppExists       = "app_exists"
	CodeMissingObjects  = "missing_objects"
	CodeBodyTooLarge    = "body_too_large"
	CodeTooManyRequests = "too_many_requests"
	CodeInvalidVersion  = "invalid_version"
	CodeInvalidAppID    = "invalid_app_id"
	CodeInternal        = "internal"
)

// Key scopes, stepped like Capgo's key modes: each may do everything the
// one below it may (the README's "Scopes" table lists every route).
const (
	ScopeAdmin  = "admin"  // everything, API keys and apps included (Capgo's "all")
	ScopeWrite  = "write"  // upload, plus change channels, delete bundles, set device overrides
	ScopeUpload = "upload" // upload bundles of the listed apps; set only the channels the key lists
	ScopeRead   = "read"   // look at the catalog, channels and stats
)

// App is one application.
type App struct {
	ID        string    `json:"app_id"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateAppRequest is the body of POST /api/v1/apps.
type CreateAppRequest struct {
	ID string `json:"app_id"`
}

// BundleMeta is what an uploader may say about a bundle besides its files.
type BundleMeta struct {
	MinUpdateVersion string `json:"min_update_version,omitempty"`
	Link             string `json:"link,omitempty"`
	Comment          string `json:"comment,omitempty"`
	// CapgoKeyID is the key_id of the Capgo key the bundle is encrypted
	// with (api.CapgoEncryption), "" for a bundle in plaintext.
	CapgoKeyID string `json:"capgo_key_id,omitempty"`
	// Release is the release key's signed statement about the bundle
	// (`bundle upload --release-key`, api/release.go); the server checks it
	// is whole and about this bundle, stores it, and hands it to native
	// devices with every update to it.
	Release *SignedStatement `json:"release,omitempty"`
	// CapgoEncryption is an encrypted bundle's session key and signed
	// hashes, sent with the upload (CapgoKeyID is then its KeyID or "").
	// The server checks it against the files (a 400
	// invalid_capgo_encryption when it does not fit) and stores it beside
	// the bundle record; bundles read back leave it nil.
	CapgoEncryption *CapgoEncryption `json:"capgo_encryption,omitempty"`
}

// Bundle is one committed bundle version.
type Bundle struct {
	App       string          `json:"app_id"`
	Version   string          `json:"version"`
	Manifest  manifest.Digest `json:"manifest"`
	Files     int             `json:"files"`
	Size      int64           `json:"size"`
	CreatedAt time.Time       `json:"created_at"`
	BundleMeta
	// Builtin marks the bundle shipped inside the app-store builds of
	// NativeVersion (`bundle upload --builtin`): the server makes patches
	// from it, and a device reporting "builtin" on that native version
	// runs it; no channel serves it unless set to it explicitly.
	Builtin       bool   `json:"builtin,omitempty"`
	NativeVersion string `json:"native_version,omitempty"`
	// StoredBytes is what the bundle added to the store after dedup: the
	// size of its distinct files that no bundle of the app committed
	// before it has (filled by the bundle list, store.SetStoredBytes).
	StoredBytes int64 `json:"stored_bytes"`
	// Channels are the channels that serve the bundle or roll it out
	// (filled by the bundle list; a bundle some channel names cannot be
	// deleted).
	Channels []string `json:"channels,omitempty"`
}

// UploadRequest is the body of POST /api/v1/apps/{app}/uploads: the bundle's
// manifest. The server answers with an UploadResponse.
type UploadRequest struct {
	Version string           `json:"version"`
	Files   []manifest.Entry `json:"files"`
	BundleMeta
}

// UploadResponse names the upload session and the objects the server lacks.
type UploadResponse struct {
	ID       string            `json:"upload_id"`
	Manifest manifest.Digest   `json:"manifest"`
	Missing  []manifest.Digest `json:"missing"`
}

// ObjectPutResponse answers PUT /api/v1/uploads/{id}/objects/{sha256}.
type ObjectPutResponse struct {
	Digest  manifest.Digest `json:"sha256"`
	Created bool            `json:"created"` // false when the server already had it
}

// Key is an API key's public description (never its secret).
type Key struct {
	ID    string   `json:"id"`
	Scope string   `json:"scope"`
	Apps  []string `json:"apps,omitempty"` // the apps it acts on; none: every app (read, write)
	// Channels are the channels an upload key may point at a bundle (PUT
	// .../channels/{channel}/bundle, as `bundle upload --channel` does);
	// write and admin keys may set any channel.
	Channels  []string  `json:"channels,omitempty"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateKeyRequest is the body of POST /api/v1/keys.
type CreateKeyRequest struct {
	Scope    string   `json:"scope"`
	Apps     []string `json:"apps,omitempty"`
	Channels []string `json:"channels,omitempty"` // upload scope only (Key.Channels)
	Name     string   `json:"name,omitempty"`
}

// CreateKeyResponse carries the secret once; only its hash is stored.
type CreateKeyResponse struct {
	Key    Key    `json:"key"`
	Secret string `json:"secret"`
}

// ZipUploadResponse answers PUT /api/v1/apps/{app}/bundles/{version} with a
// zip body: the committed bundle and what the upload added to the store.
type ZipUploadResponse struct {
	Bundle        Bundle `json:"bundle"`
	ObjectsNew    int    `json:"objects_new"`
	ObjectsReused int    `json:"objects_reused"`
	BytesReceived int64  `json:"bytes_received"`
}
