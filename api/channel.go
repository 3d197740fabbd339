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
	Pending *PendingSwitch `json:"pending,omitempty"`
	// Paused freezes the channel's bundle: a device already running what
	// the channel would give it keeps it, every other device is answered
	// "no update" (channel_paused) and keeps what it runs. A channel with
	// a rollout is paused through Rollout.Paused instead (devices outside
	// the rollout keep getting the channel's bundle). Serving another
	// bundle ends the pause.
	Paused bool `json:"paused,omitempty"`
	// Disabled makes the channel answer every device "no update"
	// (channel_disabled): devices keep what they run.
	Disabled bool `json:"disabled,omitempty"`
	// Guard, when set, stops the channel's new bundle by itself when too
	// many of its installs fail (release guard); nil: off.
	Guard *Guard `json:"guard,omitempty"`
	// GuardTrips are the guard's trips, oldest first, at most one per
	// bundle (the last MaxGuardTrips are kept).
	GuardTrips []GuardTrip `json:"guard_trips,omitempty"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// MaxGuardTrips is how many trips a channel record keeps.
const MaxGuardTrips = 20

// Guard is a channel's release guard: after each stats flush the server
// judges the channel's new bundle (the rollout's bundle, else the channel's
// bundle) by the Wilson score lower bound (z = 1.96) of its failure share,
// and acts when it exceeds FailureRateBP with at least MinInstalls attempts.
// The counters are the bundle's on that channel since devices first
// reported it there: a change of the channel does not reset them, so a
// bundle served again is judged with what it did before.
type Guard struct {
	// FailureRateBP is the threshold in basis points, 1..10000 (500 = 5 %).
	FailureRateBP int `json:"failure_rate_bp"`
	// MinInstalls is the fewest attempts (installs plus failures reported
	// for the bundle on the channel) before the guard judges at all.
	MinInstalls int64 `json:"min_installs"`
	// Action is what a trip does: GuardPause, GuardRollback or GuardNotify.
	Action string `json:"action"`
}

// Guard actions (Guard.Action).
const (
	GuardPause    = "pause"    // the rollout (or the channel's bundle) stops spreading
	GuardRollback = "rollback" // the channel goes back to the bundle before
	GuardNotify   = "notify"   // only record the trip
)

// Guard defaults for a guard enabled without them.
const (
	DefaultGuardMinInstalls = 100
	DefaultGuardAction      = GuardPause
)

// GuardSettings is the guard part of ChannelSettings: Off removes the
// guard; otherwise the fields given change the channel's guard (a channel
// without one starts from the defaults, and needs FailureRateBP).
type GuardSettings struct {
	Off           bool    `json:"off,omitempty"`
	FailureRateBP *int    `json:"failure_rate_bp,omitempty"`
	MinInstalls   *int64  `json:"min_installs,omitempty"`
	Action        *string `json:"action,omitempty"`
}

// GuardTrip is one trip of a channel's guard: the bundle it judged, what it
// counted and what it did.
type GuardTrip struct {
	At time.Time `json:"at"`
	// Channel is set in the stats answer (AppStats.GuardTrips) only.
	Channel string `json:"channel,omitempty"`
	Bundle  string `json:"bundle"`
	// Action is the guard's action; Detail says what it did ("paused the
	// rollout", "rolled back to 1.0.0", ...).
	Action string `json:"action"`
	// Failures and Attempts are the counts judged (failures + rollbacks
	// over installs + failures); LowerBound the Wilson lower bound of
	// their share and FailureRateBP the threshold it exceeded.
	Failures      int64   `json:"failures"`
	Attempts      int64   `json:"attempts"`
	LowerBound    float64 `json:"lower_bound"`
	FailureRateBP int     `json:"failure_rate_bp"`
	Detail        string  `json:"detail,omitempty"`
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
	Action   string    `json:"action"` // create, set, rollback, rollout, pause, resume, promote, cancel, update, disable, enable, guard
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
	// Paused pauses (true) or resumes (false) the channel: its rollout when
	// it has one, else its bundle (Channel.Paused).
	Paused *bool `json:"paused,omitempty"`
	// Disabled disables (true) or enables (false) the channel.
	Disabled *bool          `json:"disabled,omitempty"`
	Guard    *GuardSettings `json:"guard,omitempty"`
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
