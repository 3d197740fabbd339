package capgo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/server/catalog"
	"github.com/patchwire/patchwire/store"
)

// Routes of the Capgo device protocol.
const (
	PathUpdates      = "/updates"
	PathManifestSize = "/updates/manifest_size"
	PathStats        = "/stats"
	PathChannelSelf  = "/channel_self"
)

// Limits bound the device endpoints. Zero fields take DefaultLimits' values.
type Limits struct {
	// UpdateBody bounds the body of /updates and /channel_self.
	UpdateBody int64
	// ManifestSizeBody bounds /updates/manifest_size, which carries a
	// manifest.
	ManifestSizeBody int64
	// StatsBody bounds /stats, an array of up to StatsEvents events.
	StatsBody   int64
	StatsEvents int
	// PendingEvents bounds the stats events waiting for the writer; past it
	// /stats answers 503 (the plugin retries later).
	PendingEvents int
	// PendingDevices bounds the device sightings of update checks waiting
	// for the writer; past it new ones are dropped (and counted).
	PendingDevices int
	// FlushInterval is how often device sightings are written.
	FlushInterval time.Duration
	// DeviceTTL is how long a device that stopped reporting is kept, with
	// its events; ExpireInterval how often expired devices are removed.
	DeviceTTL      time.Duration
	ExpireInterval time.Duration
	// PreparedBytes bounds the memory of prepared update answers (zip
	// checksum and manifest per bundle content).
	PreparedBytes int64
}

// DefaultLimits returns the limits used when a Limits field is zero.
func DefaultLimits() Limits {
	return Limits{
		UpdateBody:       64 << 10,
		ManifestSizeBody: 8 << 20,
		StatsBody:        2 << 20,
		StatsEvents:      1000,
		PendingEvents:    200_000,
		PendingDevices:   200_000,
		FlushInterval:    time.Second,
		DeviceTTL:        90 * 24 * time.Hour,
		ExpireInterval:   time.Hour,
		PreparedBytes:    64 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	setDefault(&l.UpdateBody, d.UpdateBody)
	setDefault(&l.ManifestSizeBody, d.ManifestSizeBody)
	setDefault(&l.StatsBody, d.StatsBody)
	setDefault(&l.StatsEvents, d.StatsEvents)
	setDefault(&l.PendingEvents, d.PendingEvents)
	setDefault(&l.PendingDevices, d.PendingDevices)
	setDefault(&l.FlushInterval, d.FlushInterval)
	setDefault(&l.DeviceTTL, d.DeviceTTL)
	setDefault(&l.ExpireInterval, d.ExpireInterval)
	setDefault(&l.PreparedBytes, d.PreparedBytes)
	return l
}

// setDefault replaces a zero or negative *v with d.
func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Observer receives what the endpoints do, for metrics. Its methods must be
// cheap and safe for concurrent use.
type Observer interface {
	// UpdateCheck is called once per POST /updates: outcome is "update",
	// the kind of a refusal ("up_to_date", "blocked", "failed"), or
	// "rejected" for 4xx/429 answers and "error" for 5xx; reason is the
	// Capgo code ("update" for updates, "builtin" for a revert).
	UpdateCheck(outcome, reason string)
	// StatsEvents is called with the number of events a /stats request
	// stored and refused.
	StatsEvents(stored, refused int)
	// DevicesDropped counts device sightings dropped because the writer
	// fell behind.
	DevicesDropped(n int)
}

type nopObserver struct{}

func (nopObserver) UpdateCheck(string, string) {}
func (nopObserver) StatsEvents(int, int)       {}
func (nopObserver) DevicesDropped(int)         {}

// Store is the store roles the adapter uses: objects and the zips and
// per-file forms derived from them, manifests (and, without a Snapshot,
// the catalog), and device activity.
type Store interface {
	store.Objects
	store.DerivedObjects
	store.Catalog
	store.DeviceActivity
}

// Deps is what the adapter needs.
type Deps struct {
	Store Store
	// Snapshot reads the resolver's view of an app for one device: the
	// server's catalog.Catalog; nil means a catalog.Catalog of the
	// handler's own over Store.
	Snapshot func(ctx context.Context, app, deviceID string) (resolver.Snapshot, error)
	// PublicURL is the base of absolute download URLs (e.g.
	// "https://updates.example.com"); "" derives it from each request's
	// scheme and Host.
	PublicURL string
	Log       *slog.Logger
	Observer  Observer
	Limits    Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BaseURL, when set, is the base of absolute download URLs for each
	// request instead of PublicURL (the server's, which honours
	// --public-url and the forwarded headers of trusted proxies).
	BaseURL func(r *http.Request) string
	// DeviceLimit, when set, is asked once a request's device id is known
	// (lower-cased): ok, or how long until the device may send again; over
	// the limit the request is answered 429 too_many_requests with
	// Retry-After (server/ratelimit.go's per-device token buckets).
	DeviceLimit func(deviceID string) (retryAfter time.Duration, ok bool)
	// Flushed, when set, is called on the stats writer's goroutine after
	// each committed write of stats events, with the apps they were of
	// (sorted, once each), before the stats requests waiting for that
	// write are answered: so a request that was answered has had it run
	// over its events (the server's release guard, server/guard.go). It
	// delays those answers and the next write: keep it short.
	Flushed func(ctx context.Context, apps []string)
}

// Handler serves the Capgo device protocol. Create it with New, mount it with
// Register, and Close it after the HTTP servers stopped.
type Handler struct {
	st        Store
	snapshot  func(ctx context.Context, app, deviceID string) (resolver.Snapshot, error)
	publicURL string
	baseURL   func(r *http.Request) string
	log       *slog.Logger
	obs       Observer
	lim       Limits
	now       func() time.Time
	// deviceLimit is Deps.DeviceLimit (nil: no per-device limit).
	deviceLimit func(string) (time.Duration, bool)

	prepared *preparedCache
	// unsubscribe ends the publish-event subscription that keeps prepared
	// answers of re-committed bundle versions from being served.
	unsubscribe func()
	rec         *recorder
	refusals    sync.Map // resolver.Code -> encoded body of its constant refusal
}

// New returns a Handler and starts its background writer.
func New(d Deps) *Handler {
	h := &Handler{
		st:        d.Store,
		snapshot:  d.Snapshot,
		publicURL: strings.TrimRight(d.PublicURL, "/"),
		baseURL:   d.BaseURL,
		log:       d.Log,
		obs:       d.Observer,
		lim:       d.Limits.withDefaults(),
		now:       d.Now,

		deviceLimit: d.DeviceLimit,
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With("component", "capgo")
	if h.obs == nil {
		h.obs = nopObserver{}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.snapshot == nil {
		h.snapshot = catalog.New(h.st).Snapshot
	}
	h.prepared = newPreparedCache(h.st, h.lim.PreparedBytes, h.log, h.now)
	h.unsubscribe = h.st.Subscribe(func(e store.PublishEvent) {
		if e.Kind == store.BundleCommitted {
			h.prepared.forget(e.App, e.Version)
		}
	})
	h.rec = newRecorder(h.st, h.lim, h.log, h.obs, d.Flushed)
	return h
}

// Register mounts the endpoints on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	ok := func(w http.ResponseWriter, r *http.Request) { writeBody(w, http.StatusOK, bodyOK) }
	mux.HandleFunc("POST "+PathUpdates, h.handleUpdates)
	mux.HandleFunc("GET "+PathUpdates, ok)
	mux.HandleFunc("POST "+PathManifestSize, h.handleManifestSize)
	mux.HandleFunc("POST "+PathStats, h.handleStats)
	mux.HandleFunc("GET "+PathStats, ok)
	mux.HandleFunc("POST "+PathChannelSelf, h.handleSetChannel)
	mux.HandleFunc("PUT "+PathChannelSelf, h.handleGetChannel)
	mux.HandleFunc("GET "+PathChannelSelf, h.handleListChannels)
	mux.HandleFunc("DELETE "+PathChannelSelf, h.handleUnsetChannel)
}

// Close writes what is still pending, stops the background writer, and
// cancels and waits for background bundle builds and keep-alive touches, so
// nothing uses the store after it returns. Call
// it after the HTTP servers stopped and before the store closes.
func (h *Handler) Close() error {
	h.unsubscribe()
	err := h.rec.close()
	h.prepared.close()
	return err
}

var bodyOK = []byte(`{"status":"ok"}`)

// Shared header values (net/http never modifies them).
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
)

// writeBody answers with an encoded JSON body.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON answers with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeBody(w, status, b)
}

// writeAPIError answers a 4xx/429 error: {error, message, moreInfo}, or
// {error, message} for on_premise_app (protocol §2.2).
func writeAPIError(w http.ResponseWriter, e *apiError) {
	m := map[string]any{"error": e.code, "message": e.message}
	if e.code != string(resolver.CodeOnPremiseApp) {
		m["moreInfo"] = e.moreInfo
	}
	writeJSON(w, e.status, m)
}

// writeInternal answers a failure of the server itself.
func (h *Handler) writeInternal(w http.ResponseWriter, r *http.Request, err error) {
	if status, code, ok := storageStatus(err); ok {
		writeJSON(w, status, map[string]any{"error": code, "message": err.Error(), "moreInfo": map[string]any{}})
		return
	}
	h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]any{
		"error": "internal_error", "message": "internal error; see the server log", "moreInfo": map[string]any{}})
}

// errTooLarge is a body past its limit.
type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string {
	return "request body larger than " + strconv.FormatInt(e.limit, 10) + " bytes"
}

// bodyPool holds request body buffers.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// readBody reads the whole body into a pooled buffer, refusing more than
// limit bytes. Release the buffer with putBody when done with it.
func readBody(r *http.Request, limit int64) (*[]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge{limit}
	}
	bp := bodyPool.Get().(*[]byte)
	b := (*bp)[:0]
	if r.ContentLength > int64(cap(b)) {
		b = make([]byte, 0, r.ContentLength+1)
	}
	var err error
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow
		}
		var n int
		n, err = r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			err = errTooLarge{limit}
			break
		}
		if err != nil {
			break
		}
	}
	*bp = b
	if err != io.EOF {
		putBody(bp)
		return nil, err
	}
	return bp, nil
}

func putBody(bp *[]byte) {
	if cap(*bp) <= 64<<10 {
		*bp = (*bp)[:0]
		bodyPool.Put(bp)
	}
}

// bodyError answers a body that could not be read, and returns the code.
func (h *Handler) bodyError(w http.ResponseWriter, r *http.Request, err error) string {
	var tl errTooLarge
	if errors.As(err, &tl) {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{
			"error": codeBodyTooLarge, "message": tl.Error(), "moreInfo": map[string]any{"limit": tl.limit}})
		return codeBodyTooLarge
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		// Cut for arriving too slowly (the server's body rate or read
		// deadline): the client may retry, unlike a malformed body.
		writeJSON(w, http.StatusRequestTimeout, map[string]any{"error": codeRequestTimeout, "message": err.Error()})
		return codeRequestTimeout
	}
	e := parseError(err)
	writeAPIError(w, e)
	return e.code
}

// codeBodyTooLarge is the error of a 413, codeRequestTimeout of a 408.
const (
	codeBodyTooLarge   = "body_too_large"
	codeRequestTimeout = "request_timeout"
)

// appendBase appends the base of absolute URLs: BaseURL's, PublicURL, or
// the request's scheme and Host. It is JSON-string content (quoted already).
func (h *Handler) appendBase(dst []byte, r *http.Request) []byte {
	if h.baseURL != nil {
		return appendJSONInner(dst, h.baseURL(r))
	}
	if h.publicURL != "" {
		return appendJSONInner(dst, h.publicURL)
	}
	if r.TLS != nil {
		dst = append(dst, "https://"...)
	} else {
		dst = append(dst, "http://"...)
	}
	return appendJSONInner(dst, r.Host)
}

// appendJSONInner appends s JSON-escaped, without the quotes.
func appendJSONInner(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := jsontext.AppendQuote(nil, s)
			return append(dst, q[1:len(q)-1]...)
		}
	}
	return append(dst, s...)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONInner(dst, s)
	return append(dst, '"')
}
