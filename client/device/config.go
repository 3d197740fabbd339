package device

import (
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
)

// TransportMode says which HTTP versions a device uses.
type TransportMode int

// Transport modes.
const (
	// TransportAuto tries HTTP/3 first; when no HTTP/3 answer arrives
	// within Config.H3Timeout (UDP blocked, no QUIC listener), it falls
	// back to HTTPS over TCP for the rest of the command.
	TransportAuto TransportMode = iota
	// TransportHTTP3 uses HTTP/3 only.
	TransportHTTP3
	// TransportTCP uses HTTPS (HTTP/2 or HTTP/1.1) over TCP only.
	TransportTCP
)

// ParseTransportMode reads "auto", "h3" or "tcp".
func ParseTransportMode(s string) (TransportMode, error) {
	switch s {
	case "", "auto":
		return TransportAuto, nil
	case "h3", "http3":
		return TransportHTTP3, nil
	case "tcp", "https":
		return TransportTCP, nil
	}
	return 0, fmt.Errorf("transport %q: want auto, h3 or tcp", s)
}

// String names the mode as ParseTransportMode reads it.
func (m TransportMode) String() string {
	switch m {
	case TransportHTTP3:
		return "h3"
	case TransportTCP:
		return "tcp"
	}
	return "auto"
}

// Config is what a device knows about itself and its server. Zero fields
// take the defaults documented on each.
type Config struct {
	// Server is the base URL of the patchwire server, https://host:port.
	Server string
	// App is the app id.
	App string
	// Channel is the channel the device asks for; "" lets the server pick
	// (the answer's channel is then accepted and its floor kept).
	Channel string
	// Platform is ios, android or electron; default android.
	Platform string
	// NativeVersion is the app store build's version; default 1.0.0.
	NativeVersion string
	// DeviceID overrides the id kept in the state directory.
	DeviceID string
	// IsEmulator and IsDev describe the device in the check request.
	IsEmulator, IsDev bool
	// PublicKeys are the ed25519 keys check answers must be signed with.
	// At least one is required.
	PublicKeys []ed25519.PublicKey
	// ReleaseKeys are the release keys (`patchwire key release create`)
	// built into the app. When set, an update is installed only with a
	// release statement that verifies with one of them (or with a key a
	// verified rotation introduced) and matches the target; unsigned
	// bundles are refused. Empty: release statements are not required.
	ReleaseKeys []ed25519.PublicKey
	// TLS configures certificate checks; nil trusts the system roots.
	TLS *tls.Config
	// Transport picks HTTP/3, TCP, or HTTP/3 with fallback (default).
	Transport TransportMode
	// H3Timeout is how long an HTTP/3 request may take to get its response
	// headers before TransportAuto falls back to TCP; default 1.5s.
	H3Timeout time.Duration
	// CheckTimeout bounds the check request; default 30s.
	CheckTimeout time.Duration
	// IdleTimeout aborts a download that receives nothing for this long
	// (slow retrieval, stalls); default 20s.
	IdleTimeout time.Duration
	// Retries is how many times a download is tried per source before the
	// update fails; each try resumes what the last one received. Default 4.
	Retries int
	// RetryDelay is the first pause between tries (doubling); default 200ms.
	RetryDelay time.Duration
	// NoCompression asks for objects as raw bytes; by default a device
	// accepts zstd (Content-Encoding), decodes it under the object's size
	// bound and hashes the decoded bytes.
	NoCompression bool
	// Concurrency is how many downloads run at once; default 4.
	Concurrency int
	// Codecs are the patch codecs offered to the server; default every
	// codec of package delta.
	Codecs []string
	// StatsURL is where Capgo-style stats events go; default
	// Server+"/stats". NoStats disables them.
	StatsURL string
	NoStats  bool
	// Limits bound a bundle; default manifest.DefaultLimits().
	Limits manifest.Limits
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives progress and fallback notes; default discards.
	Logger *slog.Logger
}

// withDefaults returns c with zero fields filled.
func (c Config) withDefaults() Config {
	if c.Platform == "" {
		c.Platform = "android"
	}
	if c.NativeVersion == "" {
		c.NativeVersion = "1.0.0"
	}
	if c.H3Timeout <= 0 {
		c.H3Timeout = 1500 * time.Millisecond
	}
	if c.CheckTimeout <= 0 {
		c.CheckTimeout = 30 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 20 * time.Second
	}
	if c.Retries <= 0 {
		c.Retries = 4
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 200 * time.Millisecond
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if len(c.Codecs) == 0 {
		for _, k := range delta.All() {
			c.Codecs = append(c.Codecs, k.Name())
		}
	}
	if c.Limits == (manifest.Limits{}) {
		c.Limits = manifest.DefaultLimits()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Server = strings.TrimRight(c.Server, "/")
	if c.StatsURL == "" && c.Server != "" {
		c.StatsURL = c.Server + "/stats"
	}
	return c
}

// validate checks what Update needs.
func (c Config) validate() error {
	if c.Server == "" {
		return errors.New("device: no server URL")
	}
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("device: server %q: want https://host[:port]", c.Server)
	}
	if c.App == "" {
		return errors.New("device: no app id")
	}
	if len(c.PublicKeys) == 0 {
		return errors.New("device: no public key to verify check answers with")
	}
	for _, k := range slices.Concat(c.PublicKeys, c.ReleaseKeys) {
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("device: public key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
	}
	for _, name := range c.Codecs {
		if _, ok := delta.Lookup(name); !ok {
			return fmt.Errorf("device: unknown codec %q", name)
		}
	}
	return nil
}

// keyIDs returns the sorted ids of the configured keys.
func (c Config) keyIDs() []string { return sortedKeyIDs(c.PublicKeys) }

// sortedKeyIDs returns the ids of keys, sorted, each once.
func sortedKeyIDs(keys []ed25519.PublicKey) []string {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, checksig.KeyID(k))
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
