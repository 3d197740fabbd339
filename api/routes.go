package api

// Paths of the admin and object API. {x} marks a path parameter as
// net/http's ServeMux spells it.
const (
	PathApps         = "/api/v1/apps"
	PathBundles      = "/api/v1/apps/{app}/bundles"
	PathBundle       = "/api/v1/apps/{app}/bundles/{version}"
	PathUploads      = "/api/v1/apps/{app}/uploads"
	PathUploadObject = "/api/v1/uploads/{id}/objects/{sha256}"
	PathUploadCommit = "/api/v1/uploads/{id}/commit"
	PathKeys         = "/api/v1/keys"
	PathKey          = "/api/v1/keys/{id}"
	PathObject       = "/o/{sha256}"
	// PathManifest serves a bundle manifest's canonical encoding
	// (manifest.Manifest.Encode) by its digest: immutable and
	// device-independent like /o/{sha256}. Devices fetch it when a step
	// cannot be applied, and verify it against the signed target digest.
	PathManifest = "/m/{sha256}"
	PathHealth   = "/healthz"
)

// Channel and device routes of the admin API.
const (
	PathChannels        = "/api/v1/apps/{app}/channels"
	PathChannel         = "/api/v1/apps/{app}/channels/{channel}"
	PathChannelBundle   = "/api/v1/apps/{app}/channels/{channel}/bundle"
	PathChannelRollback = "/api/v1/apps/{app}/channels/{channel}/rollback"
	PathChannelRollout  = "/api/v1/apps/{app}/channels/{channel}/rollout"
	PathChannelHistory  = "/api/v1/apps/{app}/channels/{channel}/history"
	PathDeviceOverride  = "/api/v1/apps/{app}/devices/{device}/override"
)

// PathAppReleaseKeys is an app's release key rotations in the admin API:
// GET lists them (ReleaseKeyChain), POST appends one (SignedStatement,
// made by `patchwire key release rotate`).
const PathAppReleaseKeys = "/api/v1/apps/{app}/release-keys"
