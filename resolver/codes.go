package resolver

import "net/http"

// Code is a machine-readable reason sent as the JSON "error" field. The
// values are the Capgo backend's (protocol §8 "Complete list of /updates
// error codes", §7): the unmodified plugin reads them, so never rename one.
type Code string

// Codes of POST /updates, in the order of the document's table.
const (
	CodeNoNewVersion            Code = "no_new_version_available"
	CodeAlreadyOnBuiltin        Code = "already_on_builtin"
	CodeNoChannel               Code = "no_channel"
	CodeNullChannelData         Code = "null_channel_data" // defensive in Capgo; never produced here
	CodeNoBundle                Code = "no_bundle"
	CodeNoBundleURL             Code = "no_bundle_url"      // the HTTP layer's: no URL and no manifest
	CodeNoURLOrManifest         Code = "no_url_or_manifest" // the HTTP layer's final guard
	CodeMisconfiguredChannel    Code = "misconfigured_channel"
	CodeRevertToBuiltinTooOld   Code = "revert_to_builtin_plugin_version_too_old"
	CodeUnknownVersionBuild     Code = "unknown_version_build"
	CodeSemverError             Code = "semver_error"
	CodeUnsupportedPlugin       Code = "unsupported_plugin_version"
	CodeMissingInfo             Code = "missing_info"
	CodeKeyIDMismatch           Code = "key_id_mismatch"
	CodeDisabledPlatformIOS     Code = "disabled_platform_ios"
	CodeDisabledPlatformAndroid Code = "disabled_platform_android"
	CodeDisabledPlatformElec    Code = "disabled_platform_electron"
	CodeDisableMajor            Code = "disable_auto_update_to_major"
	CodePrivateChannel          Code = "cannot_update_via_private_channel"
	CodeDisableMinor            Code = "disable_auto_update_to_minor"
	CodeDisablePatch            Code = "disable_auto_update_to_patch"
	CodeDisableMetadata         Code = "disable_auto_update_to_metadata"
	CodeDisableUnderNative      Code = "disable_auto_update_under_native"
	CodeDisableProdBuild        Code = "disable_prod_build"
	CodeDisableDevBuild         Code = "disable_dev_build"
	CodeDisableDevice           Code = "disable_device"
	CodeDisableEmulator         Code = "disable_emulator"
	CodeProviderBlocked         Code = "provider_infrastructure_request_blocked"
	CodeOnPremiseApp            Code = "on_premise_app"
	CodeTooManyRequests         Code = "too_many_requests"       // the HTTP layer's rate limiter
	CodeInvalidJSONBody         Code = "invalid_json_body"       // the HTTP layer's parser
	CodeInvalidJSONParseBody    Code = "invalid_json_parse_body" // the HTTP layer's parser
	CodeMissingDeviceID         Code = "missing_device_id"       // the HTTP layer's parser
	CodeMissingAppID            Code = "missing_app_id"          // the HTTP layer's parser

	// CodeManifestOnlyBundle is patchwire's own (the HTTP layer's): the
	// bundle is Capgo-encrypted and was uploaded without its zip, so only
	// plugins with manifest delivery can take it, and this one cannot.
	// Kind blocked, like key_id_mismatch: the device keeps what it runs
	// without a download failure every check; `bundle upload --capgo-zip`
	// serves such plugins too.
	CodeManifestOnlyBundle Code = "manifest_only_bundle"

	// CodeChannelPaused is patchwire's own: the channel is paused (by an
	// administrator or its release guard), so its bundle reaches no
	// device that does not run it already. Kind blocked: the device keeps
	// what it runs, with no failure stat.
	CodeChannelPaused Code = "channel_paused"
	// CodeChannelDisabled is patchwire's own: the channel is disabled and
	// answers every device "no update". Kind blocked.
	CodeChannelDisabled Code = "channel_disabled"
)

// Codes of the channel_self endpoint (protocol §7) besides the shared ones.
const (
	CodeMissingChannel          Code = "missing_channel"
	CodeCannotOverride          Code = "cannot_override"
	CodeChannelNotFound         Code = "channel_not_found"
	CodePublicSelfSetNotAllowed Code = "public_channel_self_set_not_allowed"
	CodeSelfSetNotAllowed       Code = "channel_self_set_not_allowed"
	CodeOverrideNotAllowed      Code = "override_not_allowed"     // the store failed to write; the HTTP layer's
	CodeInvalidPlatform         Code = "invalid_platform"         // getChannel from an unknown platform
	CodeInvalidQuery            Code = "invalid_query_parameters" // GET/DELETE parse failure; the HTTP layer's
)

// Kind tells the plugin how to treat a non-update answer (protocol §2.2).
// It is sent as the JSON "kind" field of every 200 /updates refusal.
type Kind string

// The three kinds the plugin recognises, and KindNone for answers that carry
// no kind (non-200 and channel_self answers).
const (
	KindUpToDate Kind = "up_to_date" // JS getLatest resolves; no failure stat
	KindBlocked  Kind = "blocked"    // JS getLatest resolves; no failure stat
	KindFailed   Kind = "failed"     // JS getLatest rejects; download_fail stat
	KindNone     Kind = ""
)

// KindOf returns the kind Capgo derives from an /updates code
// ([BE] getUpdateResponseKind): up_to_date and blocked for the listed codes,
// failed for every other 200 code, KindNone for codes answered with 400 or
// 429.
func KindOf(c Code) Kind {
	switch c {
	case CodeNoNewVersion, CodeAlreadyOnBuiltin:
		return KindUpToDate
	case CodePrivateChannel,
		CodeDisabledPlatformIOS, CodeDisabledPlatformAndroid, CodeDisabledPlatformElec,
		CodeDisableMajor, CodeDisableMinor, CodeDisablePatch, CodeDisableMetadata,
		CodeDisableUnderNative, CodeDisableProdBuild, CodeDisableDevBuild,
		CodeDisableDevice, CodeDisableEmulator, CodeKeyIDMismatch, CodeProviderBlocked,
		CodeManifestOnlyBundle, CodeChannelPaused, CodeChannelDisabled:
		return KindBlocked
	}
	if StatusOf(c) != http.StatusOK {
		return KindNone
	}
	return KindFailed
}

// StatusOf returns the HTTP status Capgo answers a code with: 429 for
// on_premise_app and too_many_requests, 400 for the request-parsing codes,
// 200 for everything else. semver_error is 200 when the resolver finds it
// and 400 when the HTTP layer's parser does; this returns 200.
func StatusOf(c Code) int {
	switch c {
	case CodeOnPremiseApp, CodeTooManyRequests:
		return http.StatusTooManyRequests
	case CodeInvalidJSONBody, CodeInvalidJSONParseBody, CodeMissingDeviceID,
		CodeMissingAppID, CodeInvalidQuery:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// Exact messages for codes whose text has no variable part (protocol §8 table,
// §7). Templated messages are built where the code is produced.
var messages = map[Code]string{
	CodeNoNewVersion:            "No new version available",
	CodeAlreadyOnBuiltin:        "Already on builtin",
	CodeNoChannel:               "no default channel or override",
	CodeNullChannelData:         "channel data still null",
	CodeNoBundle:                "Cannot get bundle",
	CodeNoBundleURL:             "Cannot get bundle url",
	CodeNoURLOrManifest:         "No url or manifest",
	CodeRevertToBuiltinTooOld:   "revert_to_builtin used, but plugin version is too old",
	CodeUnknownVersionBuild:     "Version build is unknown, cannot proceed with update",
	CodeMissingInfo:             "Cannot find device_id or app_id",
	CodeKeyIDMismatch:           "Device encryption key does not match bundle encryption key. The device may have a different public key than the one used to encrypt this bundle.",
	CodeDisabledPlatformIOS:     "Cannot update, ios it's disabled",
	CodeDisabledPlatformAndroid: "Cannot update, android is disabled",
	CodeDisabledPlatformElec:    "Cannot update, electron is disabled",
	CodeDisableMajor:            "Cannot upgrade major version",
	CodeDisableMinor:            "Cannot upgrade minor version",
	CodeDisablePatch:            "Cannot upgrade patch version",
	CodeDisableMetadata:         "Cannot upgrade version, min update version > current version",
	CodeDisableUnderNative:      "Cannot revert under native version",
	CodeDisableProdBuild:        "Cannot update, prod build is disabled",
	CodeDisableDevBuild:         "Cannot update, dev build is disabled",
	CodeDisableDevice:           "Cannot update, device is disabled",
	CodeDisableEmulator:         "Cannot update, emulator is disabled",
	CodeProviderBlocked:         "Update requests from known provider infrastructure are blocked",
	CodeOnPremiseApp:            "On-premise app detected",
	CodeTooManyRequests:         "Too many requests",
	CodeInvalidJSONBody:         "Cannot parse body",
	CodeInvalidJSONParseBody:    "Invalid JSON body",
	CodeMissingDeviceID:         "Cannot find device_id",
	CodeMissingAppID:            "Cannot find app_id",
	CodeManifestOnlyBundle:      "This bundle is delivered file by file (manifest) only, which this plugin version cannot do: update @capgo/capacitor-updater to 5.10.0, 6.25.0, 7.0.35, any 8.x or later, or upload the bundle again with --capgo-zip",

	CodeMissingChannel:          "Cannot find channel in body",
	CodeCannotOverride:          "Cannot change device override current channel don't allow it",
	CodeChannelNotFound:         "Cannot find channel",
	CodePublicSelfSetNotAllowed: "This channel is public and does not allow device self-assignment. Unset the channel and the device will automatically use the public channel.",
	CodeSelfSetNotAllowed:       "This channel does not allow devices to self associate",
	CodeOverrideNotAllowed:      "Cannot do channel override",
	CodeInvalidPlatform:         "Invalid device platform",
}

// Message returns the fixed message of a code, or "" for codes whose message
// has a variable part (semver_error, unsupported_plugin_version,
// misconfigured_channel, cannot_update_via_private_channel): those are built
// by the function that returns them.
func Message(c Code) string { return messages[c] }
