package server

import (
	"time"

	"github.com/patchwire/patchwire/manifest"
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
	// DisableHTTP3 keeps the UDP listener off (and Alt-Svc absent).
	DisableHTTP3 bool

	// PatchWait is how long a change of what a channel serves waits for
	// its patches before the server switches anyway (switch.go); 0 is
	// DefaultPatchWait, negative switches at once. A request may ask for
	// another wait (api.QueryPatchWait).
	PatchWait time.Duration

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
	ReadTimeout           time.Duration // whole request, body included (uploads)
	WriteTimeout          time.Duration
	IdleTimeout           time.Duration
	MaxHeaderBytes        int
}

// DefaultLimits returns the limits used when a Config leaves them zero.
func DefaultLimits() Limits {
	return Limits{
		Bundle:                manifest.DefaultLimits(),
		MaxJSONBytes:          8 << 20,
		MaxUploadBytes:        512 << 20,
		AuthFailuresPerMinute: 30,
		ReadHeaderTimeout:     10 * time.Second,
		ReadTimeout:           10 * time.Minute,
		WriteTimeout:          10 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		MaxHeaderBytes:        64 << 10,
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
	return l
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
