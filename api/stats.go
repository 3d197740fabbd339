package api

import "time"

// PathStats is the admin route of an app's per-bundle device statistics
// (read scope). The optional query parameter "channel" restricts them to
// the devices and events of one channel.
const PathStats = "/api/v1/apps/{app}/stats"

// AppStats is the body of GET PathStats: per bundle, what devices run it and
// what they reported about it.
type AppStats struct {
	App string `json:"app_id"`
	// Channel is the channel the figures are restricted to, "" for all.
	Channel string        `json:"channel,omitempty"`
	Bundles []BundleStats `json:"bundles"`
	// GuardTrips are the release-guard trips of the app's channels (of
	// Channel only, when set), oldest first per channel.
	GuardTrips []GuardTrip `json:"guard_trips"`
}

// BundleStats are the figures of one bundle version ("builtin" for the
// bundle shipped inside the native app).
type BundleStats struct {
	Version string `json:"version"`
	// Devices is the number of known devices whose last report says they
	// run this bundle (devices idle past the retention are forgotten).
	Devices int64 `json:"devices"`
	// Downloads counts download_complete events: the bundle was fetched.
	Downloads int64 `json:"downloads"`
	// Installs counts set events: a device switched to the bundle.
	Installs int64 `json:"installs"`
	// Failures counts failure events (download, checksum, unzip, set, ...
	// every *_fail action but update_fail, plus checksum_required and
	// insufficient_disk_space).
	Failures int64 `json:"failures"`
	// Rollbacks counts update_fail events: the bundle did not call
	// notifyAppReady in time and the device went back.
	Rollbacks int64 `json:"rollbacks"`
}

// Device is what the server knows about one installation of an app, from
// its update checks and stats.
type Device struct {
	App       string    `json:"app_id"`
	ID        string    `json:"device_id"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Platform  string    `json:"platform"`
	// VersionOS is the operating system version, VersionBuild the native
	// app version, PluginVersion the updater plugin version.
	VersionOS      string `json:"version_os,omitempty"`
	VersionBuild   string `json:"version_build,omitempty"`
	PluginVersion  string `json:"plugin_version,omitempty"`
	CustomID       string `json:"custom_id,omitempty"`
	DefaultChannel string `json:"default_channel,omitempty"`
	IsEmulator     bool   `json:"is_emulator"`
	IsProd         bool   `json:"is_prod"`
	// Bundle is the bundle the device last said it runs; Channel the
	// channel the server last resolved for it.
	Bundle  string `json:"bundle,omitempty"`
	Channel string `json:"channel,omitempty"`
}

// DeviceEvent is one stats event a device sent.
type DeviceEvent struct {
	// At is when the server received it; DeviceAt the device's own
	// timestamp, when it sent one.
	At         time.Time         `json:"at"`
	DeviceAt   *time.Time        `json:"device_at,omitempty"`
	Action     string            `json:"action"`
	Version    string            `json:"version_name"`
	OldVersion string            `json:"old_version_name,omitempty"`
	Channel    string            `json:"channel,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}
