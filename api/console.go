package api

// Routes the web console reads besides the catalog and channel routes; the
// CLI uses them too (`patchwire stats --series`, `device list`, `device show`).
const (
	// PathWhoami describes the calling key (any valid key).
	PathWhoami = "/api/v1/whoami"
	// PathDevices searches an app's known devices (read scope). Query:
	// q (a device id prefix or a custom id substring, case-insensitive),
	// limit (default 50, at most 500). Newest last_seen first.
	PathDevices = "/api/v1/apps/{app}/devices"
	// PathDevice describes one device: what it reported, its recent
	// events and its stored channels (read scope).
	PathDevice = "/api/v1/apps/{app}/devices/{device}"
	// PathStatsSeries serves time-bucketed counters (read scope). Query:
	// bucket (hour or day, default hour), from and to (Unix seconds;
	// default the last 48 hours), channel and bundle (optional filters).
	PathStatsSeries = "/api/v1/apps/{app}/stats/series"
)

// Whoami answers GET PathWhoami: the key the request was made with, so a
// client can show what it may do.
type Whoami struct {
	KeyID    string   `json:"key_id"`
	Name     string   `json:"name,omitempty"`
	Scope    string   `json:"scope"`
	Apps     []string `json:"apps,omitempty"`
	Channels []string `json:"channels,omitempty"`
}

// DeviceList answers GET PathDevices.
type DeviceList struct {
	Devices []Device `json:"devices"`
}

// DeviceDetail answers GET PathDevice.
type DeviceDetail struct {
	Device Device `json:"device"`
	// Events are the device's most recent stats events, newest first.
	Events   []DeviceEvent  `json:"events"`
	Channels DeviceChannels `json:"channels"`
}

// Series buckets (StatsSeries.Bucket).
const (
	BucketHour = "hour"
	BucketDay  = "day"
)

// CodeDeviceNotFound answers 404 for a device the server does not know.
const CodeDeviceNotFound = "device_not_found"

// StatsSeries answers GET PathStatsSeries: per bundle version, one value per
// time bucket. Times[i] is the start of bucket i (Unix seconds, UTC);
// every slice of a Series has len(Times) values.
type StatsSeries struct {
	App     string   `json:"app_id"`
	Bucket  string   `json:"bucket"`
	From    int64    `json:"from"`
	To      int64    `json:"to"`
	Channel string   `json:"channel,omitempty"`
	Times   []int64  `json:"times"`
	Series  []Series `json:"series"`
}

// Series is one bundle version's counters over time. Devices is a gauge
// (devices running the version at the end of the bucket); the others count
// what happened in the bucket: Checks update checks made from the version,
// Downloads, Installs, Failures and Rollbacks as in BundleStats, and the
// download bytes below.
type Series struct {
	Version   string  `json:"version"`
	Devices   []int64 `json:"devices"`
	Checks    []int64 `json:"checks"`
	Downloads []int64 `json:"downloads"`
	Installs  []int64 `json:"installs"`
	Failures  []int64 `json:"failures"`
	Rollbacks []int64 `json:"rollbacks"`
	// BytesServed is what devices that completed a download of the
	// version in the bucket were sent (Capgo: the zip, or the manifest
	// files their previous bundle lacked, Brotli where served so);
	// BytesFull what full-zip delivery would have sent them.
	BytesServed []int64 `json:"bytes_served"`
	BytesFull   []int64 `json:"bytes_full"`
}
