// Package capgo is the Capgo plugin protocol adapter: it lets the unmodified
// @capgo/capacitor-updater plugin use patchwire by pointing its updateUrl,
// statsUrl and channelUrl at this server. It speaks the device-facing
// protocol described in docs/capgo-protocol.md (the research notes in
// /work/shared/docs) and nothing else; every decision is the resolver's.
//
// Endpoints (Handler.Register):
//
//	POST   /updates                update check (protocol §1, §2, §8)
//	POST   /updates/manifest_size  sizes of manifest files (§3)
//	GET    /updates, GET /stats    {"status":"ok"}, as Capgo answers
//	POST   /stats                  telemetry, one event or an array (§6)
//	POST   /channel_self           setChannel (§7)
//	PUT    /channel_self           getChannel
//	GET    /channel_self           listChannels (query string)
//	DELETE /channel_self           unsetChannel of old plugins (query string)
//
// # Requests
//
// Bodies are read whole under a size limit (413 past it) and parsed
// strictly as JSON (valid UTF-8, no duplicate member names, nothing after
// the value: otherwise 400 invalid_json_parse_body). Then, in Capgo's order
// (its parsePluginBody): an empty object is 400 invalid_json_body, a missing
// device_id 400 missing_device_id, a missing app_id 400 missing_app_id, a
// version_build that cannot be coerced to semver 400 semver_error; absent
// is_emulator and is_prod default to false and true; then the schema of the
// endpoint is checked (types, formats, lengths) and a failure is 400
// invalid_json_body (invalid_query_parameters for GET and DELETE). Members
// the schema does not name are accepted and ignored, as Capgo does: the
// plugin sends more than the schema lists. An app the store does not know
// is 429 on_premise_app. Error bodies are {error, message, moreInfo}, with
// moreInfo naming the problem (never echoing the request).
//
// # Update answers
//
// An update is {version, url, session_key, checksum[, manifest][, link,
// comment]} and never carries error or kind. url is the bundle's zip,
// built once from its manifest (sorted paths, fixed timestamps, fixed
// deflate level: the same bytes every time), stored as an object and served
// from /o/<sha256>; checksum is its SHA-256. manifest, for plugins that
// understand it, lists every file: file_hash is the SHA-256 of the raw file
// and download_url its /o/ URL, or, for files of 8 KiB and more whose
// Brotli form is smaller, file_name gets ".br" and download_url points at
// the Brotli object (served without Content-Encoding; the plugin decodes
// it and checks file_hash on the result). The zip and Brotli objects are
// derived once (store.PutDerived), concurrent first requests wait for one
// build, and the prepared answer is kept in memory by manifest digest (and
// bundle, for bundles with a Capgo key id).
// A bundle whose zip is larger than the store accepts is delivered
// manifest-only, with Capgo's placeholder url, to plugins that take a
// manifest, and answered no_bundle_url to the others.
//
// A bundle encrypted in CI (encrypted.go) is answered with the session key,
// checksum and signed file hashes of its api.CapgoEncryption, stored beside
// its record; nothing is derived. Uploaded without its encrypted zip (the
// default), it is manifest-only in the same way, and plugins without
// manifest delivery get manifest_only_bundle (blocked) instead. Absolute URLs start
// with Deps.BaseURL's answer when set (the server sets it when it trusts
// proxies), else Deps.PublicURL, else the scheme and Host of the request.
//
// Every other answer of /updates is 200 {error, message, kind, ...} from
// resolver.NoUpdate, or 400/429 as above.
//
// # Devices and stats
//
// Update checks and stats update the device's record (last seen, platform,
// versions, current bundle, channel, custom_id); stats events are stored
// per device with the per-bundle counters `patchwire stats` shows. Writes
// are batched by one background writer: device sightings from update
// checks are flushed about once a second (a crash may lose the last
// second of "last seen"), stats requests wait until their events are
// committed (group commit) and get 503, which the plugin retries, when the
// store cannot keep up.
package capgo
