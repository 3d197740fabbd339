package resolver

import "fmt"

// Decision is the answer to one update check: exactly one of Update and
// NoUpdate is non-nil.
type Decision struct {
	Update   *Update
	NoUpdate *NoUpdate
	// PerDevice reports that something only this device has decided the
	// answer: its id (a rollout draw by the id, a missing id), a channel
	// stored for it (an administrator's override or an old plugin's
	// self-assignment, even one that turned out not to apply), its
	// encryption key id or the provider it called from. When false, every
	// device sending the same other inputs (app, platform, native and
	// bundle versions, channel, build and device kind, plugin version)
	// gets this same decision from the same snapshot, whatever its id.
	PerDevice bool
}

// IsUpdate reports whether the device should move to d.Update.Bundle.
func (d Decision) IsUpdate() bool { return d.Update != nil }

// Update tells the device to run Bundle. When Bundle.Version is Builtin the
// device goes back to its native bundle: the HTTP layer answers the plain
// success form {"version":"builtin"} (protocol §2.3), which needs no URL.
type Update struct {
	Bundle    Bundle
	Channel   string // the channel's name
	Source    Source // which rule chose the channel
	InRollout bool   // Bundle is the channel's rollout bundle
	RolloutID string // the id the device was drawn with, "" without rollout
	// Manifest reports whether the answer carries the per-file manifest
	// (manifestDelivery): plugin >= 5.10.0, 6.25.0, 7.0.35, any 8.x or
	// later; never below 5.
	Manifest bool
	// Metadata reports whether link and comment may be sent: the app
	// exposes metadata and the plugin is not a 5.x-8.x older than 5.35.0,
	// 6.35.0, 7.35.0, 8.35.0 (Capgo's rule: 0.x and 9+ get them).
	Metadata bool
}

// NoUpdate is a refusal or "nothing to do", with everything the HTTP layer
// sends: Status, and the body Body returns.
type NoUpdate struct {
	Code    Code
	Message string
	Kind    Kind // KindNone for 429 on_premise_app
	Status  int  // HTTP status: 200, or 429 for on_premise_app

	// Channel and Target name the chosen channel and the bundle version it
	// wanted, when the decision got that far (for stats and logs; not sent).
	Channel string
	Target  string

	// Extra keys Capgo sends for some codes (protocol §2.2, §8 table); empty
	// means "not sent".
	Version     string // "version": the target bundle
	Old         string // "old": version_name or version_build, per code
	Major       bool   // "major": true for the policy refusals
	DeviceKeyID string // "deviceKeyId"
	BundleKeyID string // "bundleKeyId"
	Provider    string // "provider"
}

// Body returns the JSON object to send: error, message, kind (unless
// KindNone) and the extra keys that are set. unknown_version_build's "body"
// extra (the request as received) is the HTTP layer's to add.
func (n *NoUpdate) Body() map[string]any {
	m := map[string]any{"error": string(n.Code), "message": n.Message}
	if n.Kind != KindNone {
		m["kind"] = string(n.Kind)
	}
	if n.Version != "" {
		m["version"] = n.Version
	}
	if n.Old != "" {
		m["old"] = n.Old
	}
	if n.Major {
		m["major"] = true
	}
	if n.DeviceKeyID != "" {
		m["deviceKeyId"] = n.DeviceKeyID
	}
	if n.BundleKeyID != "" {
		m["bundleKeyId"] = n.BundleKeyID
	}
	if n.Provider != "" {
		m["provider"] = n.Provider
	}
	return m
}

// newNoUpdate returns a refusal with the code's status, kind and message
// (msg when the code's message is templated).
func newNoUpdate(c Code, msg string) *NoUpdate {
	if msg == "" {
		msg = Message(c)
	}
	return &NoUpdate{Code: c, Message: msg, Kind: KindOf(c), Status: StatusOf(c)}
}

func refuse(c Code, msg string) Decision { return Decision{NoUpdate: newNoUpdate(c, msg)} }

// Plugin versions the decisions depend on.
var (
	pluginMinRevertBuiltin = MustParseVersion("6.2.0")
	pluginKeyIDStrict      = MustParseVersion("8.40.7") // key_id checked only above this
	pluginManifest         = [4]Version{MustParseVersion("5.10.0"), MustParseVersion("6.25.0"), MustParseVersion("7.0.35"), MustParseVersion("8.0.0")}
	pluginMetadata         = [4]Version{MustParseVersion("5.35.0"), MustParseVersion("6.35.0"), MustParseVersion("7.35.0"), MustParseVersion("8.35.0")}
	pluginLocalChannel     = [4]Version{MustParseVersion("5.34.0"), MustParseVersion("6.34.0"), MustParseVersion("7.34.0"), MustParseVersion("8.0.0")}
)

// pluginCurrent is the Capgo backend's per-major feature gate, the negation
// of its isDeprecatedPluginVersion(v, mins...): only majors 5 to 8 below
// their minimum (mins[major-5]) lack the feature; every other major has it,
// including 0.x (Capgo's Electron updater reports "0.0.1") and 9 and later.
// Capgo uses it for local channel storage and for link/comment metadata.
func pluginCurrent(v Version, mins [4]Version) bool {
	if m := v.Major(); m >= 5 && m <= 8 {
		return v.Compare(mins[m-5]) >= 0
	}
	return true
}

// manifestDelivery reports whether an update answer carries the per-file
// manifest: plugins 5.10.0, 6.25.0, 7.0.35, any 8.x and every later major.
// This is patchwire's own rule and deliberately not pluginCurrent: Capgo
// also sends a manifest to majors below 5, but the Capacitor plugins
// before 5 predate manifests, and the only 0.x client, Capgo's Electron
// updater, always downloads and unpacks the zip and then fetches the
// manifest's files on top of it (every ".br" entry again, left beside its
// decoded twin), so for majors below 5 a manifest only costs bytes.
func manifestDelivery(v Version) bool {
	if v.Major() < 5 {
		return false
	}
	return pluginCurrent(v, pluginManifest)
}

// Decide answers one update check (POST /updates) from what the device
// reports and a snapshot of the catalog. It applies the Capgo backend's
// checks in the Capgo order (protocol §8); the first that applies wins:
//
//  1. app unknown: 429 on_premise_app;
//  2. app blocks provider infrastructure and Device.Provider is set:
//     provider_infrastructure_request_blocked;
//  3. version_build "unknown": unknown_version_build; version_build not
//     coercible (ParseNativeVersion): semver_error;
//  4. plugin_version not strict semver, or major 4: unsupported_plugin_version;
//  5. app id, device id or version_name empty, or platform not one of the
//     three: missing_info;
//  6. no channel (SelectChannel; a plugin that keeps its channel itself,
//     UsesLocalChannel, is chosen for without Snapshot.SelfAssigned): no_channel;
//     A disabled channel (Channel.Disabled): channel_disabled (patchwire's);
//  7. target bundle without content (zero manifest digest): no_bundle;
//  8. device and bundle key ids both set and different, plugin > 8.40.7:
//     key_id_mismatch;
//  9. device already runs the target: no_new_version_available; else a
//     paused channel (Channel.Paused): channel_paused (patchwire's);
//  10. channel restrictions, in this order: disabled_platform_*,
//     disable_auto_update_to_major, cannot_update_via_private_channel,
//     disable_auto_update_to_minor, disable_auto_update_to_patch,
//     misconfigured_channel / disable_auto_update_to_metadata,
//     disable_auto_update_under_native, disable_prod_build,
//     disable_dev_build, disable_device, disable_emulator. The version
//     checks compare the bundle with the native version (version_build) and
//     are skipped for the native bundle;
//  11. native-bundle target: plugin < 6.2.0: revert_to_builtin_plugin_version_too_old;
//     channel without bundle, or device already on builtin: already_on_builtin;
//     else an Update to Builtin;
//  12. an Update to the target bundle.
//
// The HTTP layer still owns no_bundle_url / no_url_or_manifest (it builds
// the URLs) and the 400/429 codes of request parsing and rate limiting.
func Decide(s Snapshot, d Device) Decision {
	// 1. Unknown app.
	if !s.App.Exists {
		return refuse(CodeOnPremiseApp, "")
	}
	// 2. Provider infrastructure.
	if s.App.BlockProviderInfra && d.Provider != "" {
		n := newNoUpdate(CodeProviderBlocked, "")
		n.Provider = d.Provider
		return Decision{NoUpdate: n, PerDevice: true}
	}
	// 3. Native version.
	if d.VersionBuild == Unknown {
		return refuse(CodeUnknownVersionBuild, "")
	}
	native, err := ParseNativeVersion(d.VersionBuild)
	if err != nil {
		return refuse(CodeSemverError, semverMessage(d.VersionBuild))
	}
	// 4. Plugin version.
	plugin, err := ParseVersion(d.PluginVersion)
	if err != nil {
		return refuse(CodeUnsupportedPlugin, fmt.Sprintf("Plugin version %s is not a valid semver version. Please upgrade to v5.10.0 or later.", d.PluginVersion))
	}
	if plugin.Major() == 4 {
		return refuse(CodeUnsupportedPlugin, fmt.Sprintf("Plugin version %s (v4) is no longer supported. Please upgrade to v5.10.0 or later.", d.PluginVersion))
	}
	// 5. Basics.
	if d.AppID == "" || d.DeviceID == "" || d.VersionName == "" || !d.Platform.Valid() {
		dec := refuse(CodeMissingInfo, "")
		dec.PerDevice = d.DeviceID == ""
		return dec
	}
	// 6. Channel. A current plugin keeps its channel itself: a
	// self-assignment stored for it (before it was current) is ignored.
	if pluginCurrent(plugin, pluginLocalChannel) {
		s.SelfAssigned = ""
	}
	// A channel stored for this device decides, even when it names no
	// visible channel (the decision then is the fleet's, but is not
	// claimed to be).
	perDevice := s.Override != "" || s.SelfAssigned != ""
	sel, ok := SelectChannel(s, d)
	if !ok {
		dec := refuse(CodeNoChannel, "")
		dec.PerDevice = perDevice
		return dec
	}
	perDevice = perDevice || sel.Drawn
	ch := sel.Channel
	cur := currentVersion(d)
	internal := sel.Target == "" || sel.Target == Builtin
	name := sel.Target
	if internal {
		name = Builtin
	}
	fail := func(c Code, msg string) Decision {
		n := newNoUpdate(c, msg)
		n.Channel, n.Target = ch.Name, name
		return Decision{NoUpdate: n, PerDevice: perDevice}
	}
	// versioned is a refusal that carries version and old.
	versioned := func(c Code, msg, old string) Decision {
		dec := fail(c, msg)
		dec.NoUpdate.Version, dec.NoUpdate.Old = name, old
		switch c {
		case CodeDisableMajor, CodeDisableMinor, CodeDisablePatch, CodeDisableMetadata:
			dec.NoUpdate.Major = true
		}
		return dec
	}
	// 6b. A disabled channel answers nobody an update.
	if ch.Disabled {
		return fail(CodeChannelDisabled, fmt.Sprintf("No update, because channel %s is disabled: devices keep the bundle they run", ch.Name))
	}
	// 7. Bundle content.
	b := Bundle{Version: Builtin}
	if !internal {
		b = s.Bundles[sel.Target]
		if b.Version == "" {
			b.Version = sel.Target
		}
		if b.Manifest.IsZero() {
			return fail(CodeNoBundle, "")
		}
	}
	// 8. Encryption key.
	if d.KeyID != "" && b.KeyID != "" && d.KeyID != b.KeyID && plugin.Compare(pluginKeyIDStrict) > 0 {
		dec := fail(CodeKeyIDMismatch, "")
		dec.NoUpdate.DeviceKeyID, dec.NoUpdate.BundleKeyID = d.KeyID, b.KeyID
		dec.PerDevice = true
		return dec
	}
	// 9. Already there.
	if cur == name {
		return fail(CodeNoNewVersion, "")
	}
	// 9b. A paused channel's bundle reaches no new device.
	if ch.Paused {
		return fail(CodeChannelPaused, fmt.Sprintf("No update, because channel %s is paused: %s reaches no device that does not run it already", ch.Name, name))
	}
	// 10. Channel restrictions.
	if !ch.Enabled(d.Platform) {
		return versioned(platformCode(d.Platform), "", cur)
	}
	nat := native.String()
	var bv Version
	bvParsed := false
	bundleVersion := func() (Version, bool) {
		if !bvParsed {
			v, err := ParseVersion(name)
			if err != nil {
				return Version{}, false
			}
			bv, bvParsed = v, true
		}
		return bv, true
	}
	badBundle := func() Decision {
		return fail(CodeSemverError, fmt.Sprintf("Bundle version: %s doesn't follow semver convention", name))
	}
	policy, policyOK := ParsePolicy(string(ch.Policy))
	if !internal {
		if !policyOK {
			return versioned(CodeMisconfiguredChannel, misconfiguredMessage(ch.Name), nat)
		}
		if policy == PolicyMajor {
			v, ok := bundleVersion()
			if !ok {
				return badBundle()
			}
			if v.Major() > native.Major() {
				return versioned(CodeDisableMajor, "", nat)
			}
		}
	}
	if !ch.Public && !ch.AllowSelfAssign && sel.Source != SourceOverride {
		return fail(CodePrivateChannel, privateMessage(ch.Name, d.DefaultChannel))
	}
	if !internal {
		switch policy {
		case PolicyMinor:
			v, ok := bundleVersion()
			if !ok {
				return badBundle()
			}
			if v.Major() != native.Major() || v.Minor() != native.Minor() {
				return versioned(CodeDisableMinor, "", nat)
			}
		case PolicyPatch:
			v, ok := bundleVersion()
			if !ok {
				return badBundle()
			}
			if !v.sameCore(native) {
				return versioned(CodeDisablePatch, "", nat)
			}
		case PolicyMetadata:
			if b.MinUpdateVersion == "" {
				return versioned(CodeMisconfiguredChannel, misconfiguredMessage(ch.Name), nat)
			}
			minV, err := ParseVersion(b.MinUpdateVersion)
			if err != nil {
				return versioned(CodeMisconfiguredChannel, misconfiguredMessage(ch.Name), nat)
			}
			if minV.Compare(native) > 0 {
				return versioned(CodeDisableMetadata, "", nat)
			}
		}
		if !ch.AllowUnderNative {
			v, ok := bundleVersion()
			if !ok {
				return badBundle()
			}
			if v.Less(native) {
				return versioned(CodeDisableUnderNative, "", cur)
			}
		}
	}
	if !ch.AllowProd && d.IsProd {
		return versioned(CodeDisableProdBuild, "", cur)
	}
	if !ch.AllowDev && !d.IsProd {
		return versioned(CodeDisableDevBuild, "", cur)
	}
	if !ch.AllowDevice && !d.IsEmulator {
		return versioned(CodeDisableDevice, "", cur)
	}
	if !ch.AllowEmulator && d.IsEmulator {
		return versioned(CodeDisableEmulator, "", cur)
	}
	// 11. Native bundle.
	if internal {
		if plugin.Less(pluginMinRevertBuiltin) {
			return fail(CodeRevertToBuiltinTooOld, "")
		}
		if sel.Target == "" || d.VersionName == Builtin {
			dec := fail(CodeAlreadyOnBuiltin, "")
			dec.NoUpdate.Version = Builtin
			return dec
		}
	}
	// 12. Update.
	return Decision{Update: &Update{
		Bundle:    b,
		Channel:   ch.Name,
		Source:    sel.Source,
		InRollout: sel.InRollout,
		RolloutID: sel.RolloutID,
		Manifest:  manifestDelivery(plugin),
		Metadata:  s.App.ExposeMetadata && pluginCurrent(plugin, pluginMetadata),
	}, PerDevice: perDevice}
}

func platformCode(p Platform) Code {
	switch p {
	case PlatformIOS:
		return CodeDisabledPlatformIOS
	case PlatformAndroid:
		return CodeDisabledPlatformAndroid
	}
	return CodeDisabledPlatformElec
}

func semverMessage(v string) string {
	return fmt.Sprintf("Native version: %s doesn't follow semver convention, please check https://capgo.app/semver_tester/ to learn more about semver usage in Capgo", v)
}

func misconfiguredMessage(channel string) string {
	return fmt.Sprintf("Channel %s is misconfigured", channel)
}

func privateMessage(channel, defaultChannel string) string {
	if defaultChannel != "" {
		return fmt.Sprintf(`Cannot update via a private channel. The channel "%s" does not allow device self-assignment. Please ensure your defaultChannel "%s" has "Allow devices to self dissociate/associate" set to true.`, channel, defaultChannel)
	}
	return fmt.Sprintf(`Cannot update via a private channel. The channel "%s" does not allow device self-assignment. Please set a defaultChannel with "Allow devices to self dissociate/associate" enabled.`, channel)
}
