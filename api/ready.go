package api

import "time"

// Routes of issue 8's "patches ready before devices are served": the
// signing key for CI machines, and the builtin-bundle marker.
const (
	// PathSigningKey answers the public half of the key check answers are
	// signed with (SigningKeyInfo); any valid API key may read it.
	PathSigningKey = "/api/v1/signing-key"
	// PathBundleBuiltin marks a bundle as the one shipped inside an
	// app-store build (PUT, BuiltinRequest).
	PathBundleBuiltin = "/api/v1/apps/{app}/bundles/{version}/builtin"
)

// Query parameters of the routes that change what a channel serves (create
// and update with a bundle, set, rollback, rollout): see PendingSwitch.
const (
	// QueryWait "false" answers at once (202 with the pending switch);
	// absent or "true" answers when devices are served (or, past the
	// server's longest wait for one request, 202).
	QueryWait = "wait"
	// QueryPatchWait is the most the server makes patches for before it
	// switches anyway, as a Go duration ("10m", "0s"); absent: the
	// server's --patch-wait (rollback: 0, it switches at once).
	QueryPatchWait = "patch_wait"
)

// PendingSwitch is a change of what a channel serves that waits for its
// patches: the channel record still serves the old bundle (devices keep
// getting the old answer) until every patch from the bases that matter
// exists, or until Deadline, when the server switches anyway. A later
// change of what the channel serves replaces it.
type PendingSwitch struct {
	// Action is the history action the switch is recorded as: set,
	// rollout, promote, rollback, update.
	Action string `json:"action"`
	// Bundle is the bundle the channel serves after the switch.
	Bundle string `json:"bundle"`
	// Rollout is the channel's rollout after the switch (nil: none).
	Rollout *Rollout `json:"rollout,omitempty"`
	// Since is when the change was asked for; it also names the switch.
	Since time.Time `json:"since"`
	// Deadline is when the server switches even with patches missing.
	Deadline time.Time `json:"deadline"`
	// BasesTotal and BasesDone count the (base, target) pairs whose
	// patches are made before the switch; 0/0 until they are counted.
	BasesTotal int `json:"bases_total"`
	BasesDone  int `json:"bases_done"`
}

// SigningKeyInfo answers GET /api/v1/signing-key.
type SigningKeyInfo struct {
	// PublicKey is base64 of the 32-byte ed25519 public key, as
	// `patchwire key signing --public` prints it for apps to build in.
	PublicKey string `json:"public_key"`
	// KeyID is the id signed answers carry (SignedCheck.KeyID).
	KeyID string `json:"key_id"`
}

// BuiltinRequest is the body of PUT .../bundles/{version}/builtin: the
// bundle is the one shipped inside the app-store builds of NativeVersion.
type BuiltinRequest struct {
	NativeVersion string `json:"native_version"`
}
