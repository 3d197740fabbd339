package server

import (
	"net/netip"
	"time"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/webhooks"
)

// Config is everything the server needs besides its store.
type Config struct {
	// Addr is HOST:PORT for HTTPS on TCP and HTTP/3 on UDP (same port).
	// Port 0 picks a free port for both.
	Addr string
	// HTTPAddr, when set, is an extra cleartext HTTP/1.1 listener for local
	// development or behind a TLS-terminating proxy or CDN.
	HTTPAddr string
	// TLSCert and TLSKey are PEM files; when both are empty a self-signed
	// certificate is created once under DataDir and reused.
	TLSCert, TLSKey string
	// DataDir holds the self-signed certificate (and the store, opened by
	// the caller).
	DataDir string
	// PublicURL is the base of absolute download URLs when the server sits
	// behind a proxy; empty means "derive from the request".
	PublicURL string
	// TrustedProxies are the peers (--trusted-proxy) whose X-Forwarded-For,
	// X-Forwarded-Proto, X-Forwarded-Host and Forwarded headers name the
	// client address (auth failure limits) and the scheme and host of
	// absolute URLs; headers from other peers are ignored (proxy.go).
	TrustedProxies []netip.Prefix
	// DisableHTTP3 keeps the UDP listener off (and Alt-Svc absent).
	DisableHTTP3 bool

	// PatchWait is how long a change of what a channel serves waits for
	// its patches before the server switches anyway (switch.go); 0 is
	// DefaultPatchWait, negative switches at once. A request may ask for
	// another wait (api.QueryPatchWait).
	PatchWait time.Duration

	// Webhooks configures the webhook worker (server/webhooks): retries,
	// timeouts, and whether hooks may point at internal addresses.
	Webhooks webhooks.Config

	Limits Limits
	// Native configures POST /v1/check and its patches (native.go).
	Native NativeConfig
}

// Limits bound every request. Zero fields take DefaultLimits' values.
type Limits struct {
	Bundle         manifest.Limits // files, bytes and path rules of one bundle
	MaxJSONBytes   int64           // a JSON request body (manifests included)
	MaxUploadBytes int64           // a zip upload body
	// AuthFailuresPerMinute is how many failed authentications one client
	// address may make a minute before it gets 429s.
	AuthFailuresPerMinute int
	ReadHeaderTimeout     time.Duration
	// ReadTimeout bounds a request until its handler starts reading the
	// body; from then on MinBodyRate governs (when it is on), so a large
	// upload on a slow link is not cut while it keeps moving.
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	MaxHeaderBytes int

	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second averaged over MinBodyRateWindow; a slower body is cut with
	// 408 request_timeout (bodyrate.go). A body that arrives whole within
	// one window is never cut, whatever its size. Negative turns it off.
	MinBodyRate       int64
	MinBodyRateWindow time.Duration
	// MaxQUICConns and MaxQUICConnsPerIP cap open HTTP/3 connections in
	// all and per client IP address; past them new handshakes are refused
	// (clients fall back to TCP). Negative turns a cap off (quicgate.go).
	MaxQUICConns      int
	MaxQUICConnsPerIP int
	// UnusedConnTimeout closes a connection (TCP or HTTP/3) that has not
	// sent a request this long after it opened (HTTP/2 connections would
	// otherwise stay for IdleTimeout, HTTP/3 ones too; unused.go);
	// connections that sent one keep IdleTimeout. Negative turns it off.
	UnusedConnTimeout time.Duration

	// DeviceRate and DeviceBurst are the token bucket of each client
	// address on the device endpoints (Capgo /updates, /stats,
	// /channel_self and the native /v1/check; not /o/ or /d/): requests a
	// second, and how many may come at once. DeviceRatePerDevice and
	// DeviceBurstPerDevice are the same per device id. Past them a request
	// gets 429 too_many_requests with Retry-After (server/ratelimit.go). A
	// rate of 0 turns that limit off, and zero is not defaulted (`patchwire
	// serve` sets DefaultDeviceRate and the others); a burst below 1 is one
	// second's worth of the rate.
	DeviceRate           float64
	DeviceBurst          int
	DeviceRatePerDevice  float64
	DeviceBurstPerDevice int
}

// DefaultLimits returns the limits used when a Config leaves them zero
// (the device rate limits excepted: zero is off).
func DefaultLimits() Limits {
	return Limits{
		Bundle:                manifest.DefaultLimits(),
		MaxJSONBytes:          8 << 20,
		MaxUploadBytes:        512 << 20,
		AuthFailuresPerMinute: 30,
		ReadHeaderTimeout:     10 * time.Second,
		ReadTimeout:           time.Minute,
		WriteTimeout:          10 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		MaxHeaderBytes:        64 << 10,
		MinBodyRate:           4 << 10,
		MinBodyRateWindow:     30 * time.Second,
		MaxQUICConns:          10000,
		MaxQUICConnsPerIP:     64,
		UnusedConnTimeout:     10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.Bundle == (manifest.Limits{}) {
		l.Bundle = d.Bundle
	}
	setDefault(&l.MaxJSONBytes, d.MaxJSONBytes)
	setDefault(&l.MaxUploadBytes, d.MaxUploadBytes)
	setDefault(&l.AuthFailuresPerMinute, d.AuthFailuresPerMinute)
	setDefault(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	setDefault(&l.ReadTimeout, d.ReadTimeout)
	setDefault(&l.WriteTimeout, d.WriteTimeout)
	setDefault(&l.IdleTimeout, d.IdleTimeout)
	setDefault(&l.MaxHeaderBytes, d.MaxHeaderBytes)
	setDefault(&l.MinBodyRate, d.MinBodyRate)
	setDefault(&l.MinBodyRateWindow, d.MinBodyRateWindow)
	setDefault(&l.MaxQUICConns, d.MaxQUICConns)
	setDefault(&l.MaxQUICConnsPerIP, d.MaxQUICConnsPerIP)
	setDefault(&l.UnusedConnTimeout, d.UnusedConnTimeout)
	return l
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
