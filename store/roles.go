package store

import (
	"context"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// The store's roles: the small interfaces its consumers hold instead of
// *Store, each one job. The server's protocol packages, the catalog
// service and the patcher name only the roles they use, so what a package
// depends on reads from its fields, and a second implementation of a role
// (S3-compatible objects, a PostgreSQL catalog: issue 12) replaces one
// role without touching the others. *Store implements them all.

// Objects is the content-addressed object store: bytes named by their
// SHA-256, written once, verified at write, read back checked.
type Objects interface {
	// PutObject stores raw under d (verified), reporting whether it was new.
	PutObject(ctx context.Context, d manifest.Digest, raw []byte) (created bool, err error)
	// GetObject reads a whole object into memory.
	GetObject(ctx context.Context, d manifest.Digest) (Object, error)
	// OpenObject opens an object for reading a chunk at a time.
	OpenObject(ctx context.Context, d manifest.Digest) (*ObjectReader, error)
	// StatObject reads an object's size and encoding, not its bytes.
	StatObject(ctx context.Context, d manifest.Digest) (ObjectInfo, error)
	// StatObjects is StatObject of many; absent ones are left out.
	StatObjects(ctx context.Context, ds []manifest.Digest) (map[manifest.Digest]ObjectInfo, error)
}

// Patches maps a pair of bundles or files and a codec to the object that
// holds their patch (or to "no useful patch").
type Patches interface {
	// PutPatch records the patch of k (a zero digest: none is useful).
	PutPatch(ctx context.Context, k PatchKey, digest manifest.Digest, size int64) error
	// GetPatch reads the record of k.
	GetPatch(ctx context.Context, k PatchKey) (Patch, error)
	// LookupPatches reads the records of keys; absent ones are left out.
	LookupPatches(ctx context.Context, keys []PatchKey) (map[PatchKey]Patch, error)
	// LeasePatchJob takes the job from → to for ttl across the nodes
	// (ok false: another node has it).
	LeasePatchJob(ctx context.Context, from, to manifest.Digest, ttl time.Duration) (release func(), ok bool, err error)
}

// DerivedObjects maps sources to the objects made from them (Capgo's
// bundle zips and per-file forms), kept while in use.
type DerivedObjects interface {
	// GetDerived reads what was made of srcs.
	GetDerived(ctx context.Context, kind DerivedKind, srcs []manifest.Digest) ([]Derived, error)
	// PutDerived stores made objects and their mappings.
	PutDerived(ctx context.Context, kind DerivedKind, items []DerivedItem) ([]manifest.Digest, error)
	// TouchDerived marks objects in use, reporting those that are gone.
	TouchDerived(ctx context.Context, objs []manifest.Digest) (missing []manifest.Digest, err error)
	// DerivedRefresh is how often an object in use must be touched.
	DerivedRefresh() time.Duration
}

// Catalog is what the decoded in-memory catalog and the patcher read:
// apps' bundles and channels, manifests, device channel assignments, the
// generations that tell a cache it is stale, and the publish events.
type Catalog interface {
	// Snapshot reads everything a check of app decides from.
	Snapshot(ctx context.Context, app, deviceID string) (AppSnapshot, error)
	// CatalogGeneration changes with every write to apps, bundles or channels.
	CatalogGeneration() uint64
	// Generations is CatalogGeneration and app's device channel
	// generation (it changes with every device channel write of app), read
	// together.
	Generations(app string) (catalog, devices uint64)
	// AppDeviceChannels reads every device channel assignment of app.
	AppDeviceChannels(ctx context.Context, app string) (DeviceChannelMaps, error)
	// LoadManifest reads a committed manifest.
	LoadManifest(ctx context.Context, d manifest.Digest) (*manifest.Manifest, error)
	// CapgoEncryption reads an encrypted bundle's session key and signed hashes.
	CapgoEncryption(ctx context.Context, app, version string) (api.CapgoEncryption, error)
	// ListBundles lists an app's bundles.
	ListBundles(ctx context.Context, app string) ([]api.Bundle, error)
	// BundleStats counts the devices on each bundle of a channel.
	BundleStats(ctx context.Context, app, channel string) ([]api.BundleStats, error)
	// Subscribe calls fn after every publish commits.
	Subscribe(fn func(PublishEvent)) (cancel func())
}

// DeviceActivity is what devices' checks and stats write: sightings and
// counters (batched by the caller), self-assigned channels, and the
// expiry of idle devices.
type DeviceActivity interface {
	// RecordActivity writes a batch of sightings and counters.
	RecordActivity(ctx context.Context, a Activity) error
	// SetSelfAssigned records (or, with channel "", clears) a device's own channel choice.
	SetSelfAssigned(ctx context.Context, app, deviceID, channel string) error
	// GetDevice reads one device record (what its last reports said).
	GetDevice(ctx context.Context, app, id string) (api.Device, error)
	// ExpireDevices deletes devices idle for longer than idle.
	ExpireDevices(ctx context.Context, idle time.Duration) (int, error)
}

// Webhooks is what the webhook worker and the admin routes use: hooks,
// their durable delivery queue and its log.
type Webhooks interface {
	// CreateWebhook registers a hook and makes its secret.
	CreateWebhook(ctx context.Context, app, rawURL string, events []string) (api.Webhook, string, error)
	// ListWebhooks lists an app's hooks.
	ListWebhooks(ctx context.Context, app string) ([]api.Webhook, error)
	// RotateWebhookSecret makes a hook a new secret, the previous one
	// signing beside it for a while.
	RotateWebhookSecret(ctx context.Context, id string, expirePrevious time.Duration) (api.Webhook, string, error)
	// DeleteWebhook removes a hook with its queue.
	DeleteWebhook(ctx context.Context, id string) error
	// WebhookQueue returns each hook's next pending delivery.
	WebhookQueue(ctx context.Context) ([]QueuedDelivery, error)
	// RecordWebhookAttempt records one attempt at a delivery.
	RecordWebhookAttempt(ctx context.Context, d QueuedDelivery, a WebhookAttempt) (api.WebhookDelivery, error)
	// ListWebhookDeliveries lists an app's deliveries (one hook's, given one).
	ListWebhookDeliveries(ctx context.Context, app, hook string) ([]api.WebhookDelivery, error)
	// RedeliverWebhook queues a finished delivery again.
	RedeliverWebhook(ctx context.Context, app, deliveryID string) (api.WebhookDelivery, error)
	// Subscribe calls fn after every publish commits.
	Subscribe(fn func(PublishEvent)) (cancel func())
}

// *Store plays every role.
var (
	_ Objects        = (*Store)(nil)
	_ Patches        = (*Store)(nil)
	_ DerivedObjects = (*Store)(nil)
	_ Catalog        = (*Store)(nil)
	_ DeviceActivity = (*Store)(nil)
	_ Webhooks       = (*Store)(nil)
)
