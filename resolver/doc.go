// Package resolver makes the pure decisions of the update protocol: from what
// a device reports (Device) and a consistent view of the app's catalog
// (Snapshot), either the bundle the device should run (Update) or the reason
// it gets none (NoUpdate), with the exact codes, messages, kinds and HTTP
// statuses of the Capgo backend so that the unmodified
// @capgo/capacitor-updater plugin behaves as it does against Capgo. It does no
// I/O: no HTTP, no storage, no clock, no randomness. The store maps its
// records onto the plain types here; the HTTP layer translates a Decision or
// ChannelResult into a response.
//
// Entry points:
//
//   - Decide: POST /updates, every check in the Capgo order (first wins);
//     Decision.PerDevice says whether something only the device has (its
//     id's rollout draw, a channel stored for it, its key id) decided it,
//     so that the native protocol can sign the others for the whole fleet;
//   - SelectChannel: which channel a device uses and which bundle it wants
//     (override, stored self-assignment, defaultChannel, public channel; then
//     the rollout);
//   - SetChannel, GetChannel, UnsetChannel, ListChannels: the channel_self
//     endpoint's rules;
//   - Bucket, InRollout: sticky percentage rollouts;
//   - ParseVersion, ParseNativeVersion: bounded semver parsing;
//   - KindOf, StatusOf, Message: the code table;
//   - NewChanges: the file changes between two bundles (keep, copy,
//     remove, deliver, each delivery paired with its base) and the bundle
//     patch's dictionary layout, see plan.go; the server makes steps of it.
//
// # Versions
//
// Every version string is capped at MaxVersionLen (64) bytes and parsed
// without regular expressions. Bundle versions, min_update_version and
// plugin_version must be strict semver 2.0.0 (no "v", no shorthand). The
// native version (version_build) is coerced like Capgo does: an optional
// lower-case "v" is dropped and "1" / "1.2" become "1.0.0" / "1.2.0"; nothing
// else is repaired. version_name "builtin" is replaced by the canonical
// native version before any comparison. "Already on the target" compares
// strings; the policy checks compare semver precedence.
//
// # The native bundle
//
// A channel whose Bundle is "" has no bundle yet (Capgo's NULL): devices are
// answered already_on_builtin (up_to_date) and keep what they run, as the
// current Capgo backend does. A channel whose Bundle is "builtin" actively
// sends devices back: a device not on builtin gets an Update whose bundle is
// Builtin, which the HTTP layer sends as the plain {"version":"builtin"}
// success that makes the plugin reset (protocol §2.3); a device already on
// builtin gets already_on_builtin. Plugins before 6.2.0 get
// revert_to_builtin_plugin_version_too_old in both cases.
//
// # Rollouts
//
// A channel may carry a Rollout: a second bundle for BasisPoints/10000 of its
// devices. A device is in when Bucket(rollout id, device id) < BasisPoints,
// so membership is sticky without any stored state, the same on every
// server, monotonic when the percentage is raised (lowering it sends the
// last-admitted devices back to the channel's bundle), and re-drawn by a new
// rollout id. This replaces Capgo's cached random draws with an equivalent
// deterministic one.
//
// A paused rollout is frozen: devices already running the rollout bundle keep
// it (their next check says no_new_version_available), and every other
// device, in the bucket or not, gets the channel's bundle. Nobody enters and
// nobody is pulled back, which is what Capgo does ("already on rollout"
// before "paused") and what Shorebird users ask a pause to mean. Lowering the
// percentage or cancelling is how to pull devices back; promoting and
// cancelling are catalog operations. A rollout whose bundle is missing or
// deleted is ignored.
//
// # Channel selection
//
// An administrator's Override wins over everything and ignores the channel's
// public/self-assign/platform flags (its restrictions are still reported as
// refusals). A self-assignment stored for an old plugin comes next; if its
// channel no longer allows self-assignment the device is refused with
// cannot_update_via_private_channel rather than moved elsewhere. Then the
// device's defaultChannel, honoured only if that channel is enabled for the
// platform and public or self-assignable (otherwise no_channel, with no
// fallback, as in Capgo). With no defaultChannel, the platform's public
// channel. Channels pointing at a missing or deleted bundle are invisible to
// every rule.
package resolver
