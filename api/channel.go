package api

import "time"

// Channel is one channel of an app: which bundle it serves, to whom, and
// under which auto-update policy. The server maps it onto resolver.Channel.
type Channel struct {
	App  string `json:"app_id"`
	Name string `json:"name"`
	// ID is a per-store sequence number, sent to devices by listChannels.
	ID int64 `json:"id"`
	// Bundle is a version of the app, "builtin" (send devices back to the
	// bundle shipped in the native app), or "" (no bundle yet).
	Bundle string `json:"bundle"`
	// Public channels serve devices that name none; at most one public
	// channel per platform.
	Public   bool `json:"public"`
	IOS      bool `json:"ios"`
	Android  bool `json:"android"`
	Electron bool `json:"electron"`
	// AllowSelfAssign lets devices choose this channel themselves.
	AllowSelfAssign bool `json:"allow_self_assign"`
	AllowEmulator   bool `json:"allow_emulator"`
	AllowDevice     bool `json:"allow_device"`
	AllowDev        bool `json:"allow_dev"`
	AllowProd       bool `json:"allow_prod"`
	// Policy is none, major, minor, patch or metadata.
	Policy string `json:"policy"`
	// AllowUnderNative allows bundles older than the device's native version.
	AllowUnderNative bool `json:"allow_under_native"`
	// Rollout, when set, serves a second bundle to a sticky share of devices.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Sequence increases with every change of what the channel serves; the
	// native protocol signs it so devices can refuse replays.
	Sequence uint64 `json:"sequence"`
	// Pending is a change of what the channel serves that waits for its
	// patches (PendingSwitch); nil when none.
	Pending   *PendingSwitch `json:"pending,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// Rollout is a percentage rollout of a second bundle on a channel.
type Rollout struct {
	ID          string    `json:"id"`           // changes re-draw which devices are in
	Bundle      string    `json:"bundle"`       // the version rolled out
	BasisPoints int       `json:"basis_points"` // share of devices, 0..10000 (3000 = 30 %)
	Paused      bool      `json:"paused"`
	StartedAt   time.Time `json:"started_at"`
}

// ChannelEvent is one entry of a channel's history: what it served from when.
type ChannelEvent struct {
	At       time.Time `json:"at"`
	Action   string    `json:"action"` // create, set, rollback, rollout, pause, resume, promote, cancel, update
	Bundle   string    `json:"bundle"` // the bundle served after the event
	Previous string    `json:"previous,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// ChannelSettings is the body of channel create and update: every field is
// optional on update (nil leaves the setting as it is).
type ChannelSettings struct {
	Public           *bool   `json:"public,omitempty"`
	IOS              *bool   `json:"ios,omitempty"`
	Android          *bool   `json:"android,omitempty"`
	Electron         *bool   `json:"electron,omitempty"`
	AllowSelfAssign  *bool   `json:"allow_self_assign,omitempty"`
	AllowEmulator    *bool   `json:"allow_emulator,omitempty"`
	AllowDevice      *bool   `json:"allow_device,omitempty"`
	AllowDev         *bool   `json:"allow_dev,omitempty"`
	AllowProd        *bool   `json:"allow_prod,omitempty"`
	Policy           *string `json:"policy,omitempty"`
	AllowUnderNative *bool   `json:"allow_under_native,omitempty"`
	Bundle           *string `json:"bundle,omitempty"`
}

// CreateChannelRequest is the body of POST /api/v1/apps/{app}/channels.
type CreateChannelRequest struct {
	Name string `json:"name"`
	ChannelSettings
}

// SetBundleRequest is the body of PUT .../channels/{channel}/bundle.
type SetBundleRequest struct {
	Bundle string `json:"bundle"` // a version or "builtin"
}

// RolloutRequest is the body of POST .../channels/{channel}/rollout: start
// or change a rollout (Bundle and BasisPoints), or act on the current one.
type RolloutRequest struct {
	Action      string `json:"action"` // start, pause, resume, promote, cancel
	Bundle      string `json:"bundle,omitempty"`
	BasisPoints int    `json:"basis_points,omitempty"`
}

// Rollout actions (RolloutRequest.Action).
const (
	RolloutStart   = "start"   // start a rollout of Bundle, or change its BasisPoints
	RolloutPause   = "pause"   // freeze: devices on the rollout bundle keep it, nobody enters
	RolloutResume  = "resume"  // unfreeze
	RolloutPromote = "promote" // the rollout bundle becomes the channel's bundle
	RolloutCancel  = "cancel"  // end the rollout; everyone gets the channel's bundle
)

// Error codes of the channel and device routes.
const (
	CodeChannelNotFound  = "channel_not_found"  // 404: no such channel
	CodeBundleNotFound   = "bundle_not_found"   // 404: a channel or rollout names a missing bundle
	CodeChannelExists    = "channel_exists"     // 409: the channel name is taken
	CodeInvalidChannel   = "invalid_channel"    // 400: a setting breaks a rule (name, policy, percentage, ...)
	CodePublicConflict   = "public_conflict"    // 409: another channel is public for a platform
	CodeNoPreviousBundle = "no_previous_bundle" // 409: rollback has nothing to go back to
	CodeNoRollout        = "no_rollout"         // 409: rollout action on a channel without one
	CodeBundleInUse      = "bundle_in_use"      // 409: bundle delete refused, a channel serves it
	CodeInvalidDeviceID  = "invalid_device_id"  // 400: device id empty, too long or with control characters
)

// OverrideRequest is the body of PUT /api/v1/apps/{app}/devices/{device}/override.
type OverrideRequest struct {
	Channel string `json:"channel"`
}

// DeviceOverride answers PUT /api/v1/apps/{app}/devices/{device}/override:
// the device (lower-cased) is pinned to Channel.
type DeviceOverride struct {
	App     string `json:"app_id"`
	Device  string `json:"device_id"`
	Channel string `json:"channel"`
}
