package resolver

import (
	"github.com/patchwire/patchwire/manifest"
)

// Reserved bundle names (protocol §1, §2.3).
const (
	// Builtin is the name of the bundle shipped inside the native app. A
	// device running it reports version_name "builtin"; a channel whose
	// Bundle is Builtin sends devices back to it.
	Builtin = "builtin"
	// Unknown is the plugin's other reserved version name. As a
	// version_build it is refused with unknown_version_build.
	Unknown = "unknown"
)

// Platform is a device platform as the plugin reports it.
type Platform string

// The platforms the protocol knows.
const (
	PlatformIOS      Platform = "ios"
	PlatformAndroid  Platform = "android"
	PlatformElectron Platform = "electron"
)

// Valid reports whether p is one of the three known platforms.
func (p Platform) Valid() bool {
	return p == PlatformIOS || p == PlatformAndroid || p == PlatformElectron
}

// Device is what a device reports in an update check or a channel request
// (protocol §1), already decoded from JSON but not otherwise interpreted:
// the resolver does the "builtin" substitution and the version coercion
// itself, so pass the fields as received.
type Device struct {
	AppID    string
	DeviceID string // lower-cased by the caller (the resolver lower-cases again where it hashes)
	Platform Platform

	// VersionBuild is the native app version (version_build), e.g. "1.2"
	// or "1.2.3"; see ParseNativeVersion for what is accepted.
	VersionBuild string
	// VersionName is the bundle the device runs now (version_name), or
	// "builtin" for the native-shipped assets.
	VersionName string
	// PluginVersion is the @capgo/capacitor-updater version, strict semver.
	PluginVersion string

	IsEmulator bool
	IsProd     bool // the protocol's default when the key is absent is true

	// DefaultChannel is the channel the device asks for (plugin config
	// defaultChannel, or what setChannel/getChannel stored locally); "" for
	// none. See SelectChannel for what it means.
	DefaultChannel string
	CustomID       string
	// KeyID is the first 20 characters of the device's public key, "" when
	// the app has no encryption key.
	KeyID string

	// Provider is set by the HTTP layer when the request comes from a known
	// provider's infrastructure (e.g. "google", "apple"), "" otherwise. It
	// only matters for apps with App.BlockProviderInfra.
	Provider string
}

// Policy is a channel's auto-update policy: how far a bundle may move away
// from the device's native version (protocol §8 step 10).
type Policy string

// The auto-update policies. All comparisons are against the native version
// (version_build), never the bundle the device runs.
const (
	// PolicyNone allows any bundle version.
	PolicyNone Policy = "none"
	// PolicyMajor refuses a bundle whose major is greater than the native
	// major (disable_auto_update_to_major). Capgo's default.
	PolicyMajor Policy = "major"
	// PolicyMinor refuses a bundle whose major.minor differs from the
	// native major.minor (disable_auto_update_to_minor).
	PolicyMinor Policy = "minor"
	// PolicyPatch refuses a bundle whose major.minor.patch differs from the
	// native one (disable_auto_update_to_patch).
	PolicyPatch Policy = "patch"
	// PolicyMetadata refuses a bundle whose MinUpdateVersion is greater
	// than the native version (disable_auto_update_to_metadata); a bundle
	// without MinUpdateVersion makes the channel misconfigured_channel.
	// Capgo stores it as "version_number".
	PolicyMetadata Policy = "metadata"
)

// ParsePolicy maps a stored or submitted policy name to a Policy. It accepts
// the five names above and Capgo's "version_number" for PolicyMetadata; ""
// is PolicyMajor (Capgo's column default). Anything else is false.
func ParsePolicy(s string) (Policy, bool) {
	switch s {
	case "", "major":
		return PolicyMajor, true
	case "none", "minor", "patch", "metadata":
		return Policy(s), true
	case "version_number":
		return PolicyMetadata, true
	}
	return "", false
}

// Rollout is a second bundle a channel serves to a sticky percentage of its
// devices. The zero value is "no rollout".
//
// Membership is deterministic: a device is in when Bucket(ID, device) <
// BasisPoints. Raising BasisPoints only adds devices, lowering it only
// removes the most recently added ones, and a new ID draws everyone again.
// Paused freezes the rollout: a device already running Bundle keeps it
// (whatever its bucket), every other device gets the channel's Bundle.
// Promote (channel Bundle := rollout Bundle) and cancel (clear the rollout)
// are catalog operations outside this package.
type Rollout struct {
	// ID names this rollout; changing it re-draws every device. When empty
	// the resolver uses "channel:<name>:<bundle>" so a new rollout bundle
	// still re-draws.
	ID string
	// Bundle is the rollout's bundle version; "" means no rollout. A
	// rollout whose bundle is missing or deleted is ignored.
	Bundle string
	// BasisPoints is the share of devices in the rollout, 0..10000
	// (values outside are clamped).
	BasisPoints int
	// Paused stops devices from entering; see the type comment.
	Paused bool
}

// Active reports whether the rollout is configured at all.
func (r Rollout) Active() bool { return r.Bundle != "" }

// Channel is one channel of an app as the resolver needs it. Build one with
// NewChannel to start from Capgo's defaults; the zero value denies
// everything (no platform, no device kind, no build kind).
type Channel struct {
	// ID is the store's numeric id, sent by listChannels and used to order
	// channels with the same name.
	ID   int64
	Name string // unique within the app, compared case-sensitively

	// Bundle is the version the channel serves. "" means no bundle
	// assigned yet (Capgo's NULL): devices are told already_on_builtin and
	// keep what they run. Builtin ("builtin") actively sends devices back to
	// the native bundle. Any other value must name a live bundle, else the
	// channel is invisible (treated as not existing).
	Bundle string

	// Public channels serve devices that name no channel: at most one per
	// platform should be public (the resolver takes the first by name, then
	// ID, if there are more).
	Public bool
	// IOS, Android and Electron enable the channel for each platform.
	IOS, Android, Electron bool
	// AllowSelfAssign lets devices choose this channel (setChannel, or as
	// their defaultChannel).
	AllowSelfAssign bool
	// AllowEmulator and AllowDevice admit emulators and real devices.
	AllowEmulator, AllowDevice bool
	// AllowDev and AllowProd admit debug/TestFlight builds and store builds.
	AllowDev, AllowProd bool
	// Policy is the auto-update policy; "" means PolicyMajor.
	Policy Policy
	// AllowUnderNative allows serving a bundle whose version is lower than
	// the device's native version. False (the default, and Capgo's) refuses
	// with disable_auto_update_under_native.
	AllowUnderNative bool
	// Rollout is an optional second bundle for a share of the devices.
	Rollout Rollout
	// Paused freezes the channel: a device that does not run its target
	// already is refused with channel_paused (a paused rollout is
	// Rollout.Paused, which still serves the channel's Bundle).
	Paused bool
	// Disabled refuses every device with channel_disabled: no update,
	// devices keep what they run.
	Disabled bool
}

// NewChannel returns a channel with Capgo's column defaults: private, all
// platforms, emulators and real devices, dev and prod builds, PolicyMajor,
// no downgrade under native, no self-assignment, no rollout.
func NewChannel(name, bundle string) Channel {
	return Channel{
		Name: name, Bundle: bundle,
		IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDevice: true,
		AllowDev: true, AllowProd: true,
		Policy: PolicyMajor,
	}
}

// Enabled reports whether the channel serves platform p.
func (c Channel) Enabled(p Platform) bool {
	switch p {
	case PlatformIOS:
		return c.IOS
	case PlatformAndroid:
		return c.Android
	case PlatformElectron:
		return c.Electron
	}
	return false
}

// Bundle is one bundle version as the resolver needs it.
type Bundle struct {
	Version  string          // semver, or Builtin
	Manifest manifest.Digest // zero: no content yet (no_bundle)
	// MinUpdateVersion is the lowest native version that may run this
	// bundle, used by PolicyMetadata; "" when unset.
	MinUpdateVersion string
	Link, Comment    string // release notes, sent when the app exposes metadata
	Size             int64  // total bytes of the files
	Files            int    // number of files
	// KeyID is the encryption key id the bundle was encrypted for, "" when
	// it is not encrypted.
	KeyID string
	// Deleted bundles are never served; a channel pointing at one is
	// invisible. The store may also simply leave them out of the snapshot.
	Deleted bool
	// Builtin marks the bundle shipped inside the app-store builds of
	// NativeVersion (see BuiltinBundle); it is served only by a channel
	// set to it, like any bundle.
	Builtin       bool
	NativeVersion string
}

// App holds the per-app settings the decisions read.
type App struct {
	// Exists is false for an app id the server does not know; every
	// device request then gets 429 on_premise_app.
	Exists bool
	// BlockProviderInfra refuses update checks whose Device.Provider is set.
	BlockProviderInfra bool
	// ExposeMetadata lets update answers carry the bundle's link and comment.
	ExposeMetadata bool
}

// Snapshot is a consistent view of one app's catalog plus what the server
// stores about one device. The resolver never modifies it.
type Snapshot struct {
	App      App
	Channels []Channel
	Bundles  map[string]Bundle // by version; builtin needs no entry
	// Override is an administrator's pin of this device to a channel name,
	// "" for none. It beats everything else and ignores the channel's
	// public/self-assign/platform settings (platform, device and build
	// restrictions still apply as refusals).
	Override string
	// SelfAssigned is the channel an old plugin (before 5.34/6.34/7.34/8.0)
	// set with POST channel_self and the server stored, "" for none. Newer
	// plugins keep their choice on the device and send it as
	// Device.DefaultChannel instead.
	SelfAssigned string

	// idx is set by Index: lookups that need no scan.
	idx *index
}

// channel returns the channel named name.
func (s *Snapshot) channel(name string) (Channel, bool) {
	if s.idx != nil {
		c, ok := s.idx.byName[name]
		return c, ok
	}
	found := false
	var best Channel
	for _, c := range s.Channels {
		if c.Name == name && (!found || c.ID < best.ID) {
			best, found = c, true
		}
	}
	return best, found
}

// bundleLive reports whether version can be served: the native bundle always
// can, anything else must be in the snapshot and not deleted.
func (s *Snapshot) bundleLive(version string) bool {
	if version == "" || version == Builtin {
		return true
	}
	b, ok := s.Bundles[version]
	return ok && !b.Deleted
}
