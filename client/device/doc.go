// Package device is the reference device updater: what an app running a
// patchwire-updated web bundle does on the device, written in Go so that
// tests and the `patchwire device` commands can play a device end to end.
// It speaks the native protocol of package api (POST /v1/check, signed
// answers, per-device plans, immutable object and patch URLs).
//
// A device is not a server: this package must never import package store
// or Badger (a test checks `go list -deps`). Of patchwire it imports api,
// manifest and delta only; beyond the standard library, quic-go (HTTP/3),
// klauspost/compress (zstd) and go-json-experiment/json (strict decoding).
//
// # What a device checks
//
// Nothing in an answer is acted on before [VerifyCheck] has checked the
// ed25519 signature over api.SignedMessage (api.SignatureContext, the
// answer's audience, this device's subject and the exact payload bytes),
// with a key the device was configured to trust. A device answer is
// signed for this device's id; a fleet answer for the request it sent but
// for its id (api.Base), so it is what the server says to every device
// sending that request. Then the
// payload must be of type api.CheckAnswerType, bound to this device's app,
// channel, platform and device id, not expired at the moment the check
// started, and its sequence not below the highest one the device has
// accepted for that (app, channel). The plan must start from the manifest
// the device runs, and the target manifest the device rebuilds from its
// current one plus the plan must have the signed digest, before any byte is
// downloaded. Every downloaded object is read through a limit of its
// declared size plus one byte and hashed; every patch output is capped at
// the declared size and hashed; a patch that fails is replaced by a fetch
// of the whole file from /o/{sha256}.
//
// # State directory
//
//	DIR/lock                  flock held while a command runs
//	DIR/device.json           device id (random UUID) and the identity last used
//	DIR/current.json          the pointer: bundle run now, previous one, pending flag
//	DIR/trust.json            trusted key ids and the highest accepted sequence per (app, channel)
//	DIR/builtin.json          the built-in bundle's manifest digest
//	DIR/history.json          last update, events, manifests that failed to start
//	DIR/stats.json            Capgo-style stats events not yet delivered (at most 200)
//	DIR/manifests/<sha256>    canonical manifest encodings, named by their digest
//	DIR/bundles/builtin/      the bundle shipped with the app, registered by Seed
//	DIR/bundles/<version>/    downloaded bundles: the current one, the previous one until ready
//	DIR/bundles/<version>.tmp/ a bundle being assembled; renamed into place when complete
//	DIR/tmp/<sha256>.part     a download in progress, named by its expected digest
//	DIR/tmp/<sha256>.meta     its strong ETag (for If-Range), Content-Encoding and length
//	DIR/tmp/<sha256>          a verified object or patch output waiting for assembly
//
// Every state file is replaced atomically: written to a temporary file,
// fsynced, renamed, and the directory fsynced. A crash at any point leaves
// the pointer naming a complete, verified bundle; leftovers (*.tmp bundle
// folders, bundles nobody points at) are removed on the next start, and
// partial downloads are kept so the next update resumes them.
//
// # Lifecycle
//
// [Seed] registers the built-in bundle. [Update] checks for an update and,
// when there is one, downloads and verifies it, assembles it beside the
// current bundle and switches the pointer: the new bundle is now current
// but pending. The app then runs it and calls [Ready] once it works. A
// "start" is either [Start] (an app launch) or the beginning of the next
// [Update]: a bundle still pending at a start never reported ready, so it
// is rolled back to the previous bundle, remembered as failed (never
// installed again), and reported as an "update_fail" stats event.
package device
