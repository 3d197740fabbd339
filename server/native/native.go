// Package native is patchwire's own device protocol: POST /v1/check,
// answered with a signed check answer (package checksig) that names the
// target bundle and the one step object a device on its current bundle
// downloads (package step, made by server/patcher). The decision is the
// Capgo endpoint's (resolver.Decide on the in-memory catalog, as a current
// Capgo plugin would report the device), so both protocols always agree on
// what a device gets. An answer nothing of the device's own decided
// (resolver.Decision.PerDevice) is a fleet answer, signed for every device
// sending the same request, and the current second's fleet answers are
// signed once (fleet.go). It is a package of its own, like server/capgo,
// because it is one protocol: the server root keeps transport, admin and
// the object endpoints, and hands this package what it needs (Deps).
package native

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/server/catalog"
	"github.com/patchwire/patchwire/server/patcher"
)

// PluginVersion is the plugin version native checks are decided as: a
// modern Capgo plugin, so every feature gate of the resolver is open and
// the decision and its code are those a current Capgo device would get.
const PluginVersion = "8.99.0"

// DefaultAnswerTTL is how long a signed check answer is valid by default.
const DefaultAnswerTTL = 24 * time.Hour

// MaxCheckBody bounds a check request's JSON body.
const MaxCheckBody = 16 << 10

// Deps are what the protocol needs from the server. Catalog, Patcher,
// Signer, Decode and WriteError are required.
type Deps struct {
	// Catalog answers what a device's app serves, from memory.
	Catalog *catalog.Catalog
	// Patcher plans steps and makes the missing ones in the background.
	Patcher *patcher.Patcher
	// Signer signs every answer.
	Signer *checksig.Signer
	// AnswerTTL is how long an answer is valid (its Expires); default
	// DefaultAnswerTTL.
	AnswerTTL time.Duration
	// Decode reads the JSON request body strictly, at most limit bytes;
	// its errors go to WriteError.
	Decode func(w http.ResponseWriter, r *http.Request, limit int64, v any) error
	// WriteError answers with the server's JSON error for err (an *Error,
	// or a store or body error).
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// Admit applies the per-device limits to a check of deviceID and, when
	// it refuses, answers the 429 itself. Nil admits every check.
	Admit func(w http.ResponseWriter, r *http.Request, deviceID string) bool
	// Log receives nothing on the hot path; default slog.Default().
	Log *slog.Logger
	// Now is the clock of IssuedAt and Expires; default time.Now.
	Now func() time.Time
}

// Error is a refused request: its HTTP status, stable code and message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Handler serves the native protocol.
type Handler struct {
	d      Deps
	fleet  *fleetCache
	counts signCounts
}

// New returns the protocol's handler over d.
func New(d Deps) *Handler {
	if d.AnswerTTL <= 0 {
		d.AnswerTTL = DefaultAnswerTTL
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Admit == nil {
		d.Admit = func(http.ResponseWriter, *http.Request, string) bool { return true }
	}
	return &Handler{d: d, fleet: newFleetCache(FleetAnswersKept)}
}

// Register adds POST /v1/check to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+api.PathCheck, h.handleCheck)
}

// handleCheck answers POST /v1/check: the same decision as the Capgo
// endpoint, then for an update the device's step, all signed (signedBody).
func (h *Handler) handleCheck(w http.ResponseWriter, r *http.Request) {
	var req api.CheckRequest
	if err := h.d.Decode(w, r, MaxCheckBody, &req); err != nil {
		h.d.WriteError(w, r, err)
		return
	}
	if err := CheckRequestBounds(req); err != nil {
		h.d.WriteError(w, r, err)
		return
	}
	if !h.d.Admit(w, r, req.DeviceID) {
		return
	}
	ans, err := h.Answer(r.Context(), req)
	if err != nil {
		h.d.WriteError(w, r, err)
		return
	}
	body, err := h.signedBody(ans)
	if err != nil {
		h.d.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", api.CheckContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// CheckRequestBounds refuses oversized fields and a malformed device id
// before any work, as an *Error.
func CheckRequestBounds(req api.CheckRequest) error {
	// In order: when several fields are too long, the first is named.
	for _, f := range [...]struct{ name, v string }{
		{"app_id", req.App}, {"device_id", req.DeviceID}, {"platform", req.Platform},
		{"native_version", req.NativeVersion}, {"channel", req.Channel}, {"current.version", req.Current.Version},
	} {
		if len(f.v) > 256 {
			return &Error{http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s is %d bytes, at most 256", f.name, len(f.v))}
		}
	}
	if len(req.Codecs) > 16 {
		return &Error{http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%d codecs, at most 16", len(req.Codecs))}
	}
	// The Capgo endpoints' device id rule; "" is the decision's missing_info.
	if req.DeviceID != "" && !resolver.ValidDeviceID(req.DeviceID) {
		return &Error{http.StatusBadRequest, api.CodeInvalidDeviceID, "device_id must be a UUID: 36 characters, hex digits and dashes"}
	}
	return nil
}

// Answer decides and plans one check (unsigned). It is a fleet answer
// (api.AudienceFleet) unless something only the device has decided it
// (resolver.Decision.PerDevice): nothing else of the request but its Base
// (api.CheckRequest.Subject) goes into the decision and the plan, so
// every device sending the same gets the same answer.
func (h *Handler) Answer(ctx context.Context, req api.CheckRequest) (api.CheckAnswer, error) {
	now := h.d.Now().UTC().Truncate(time.Second)
	sub := req.Subject()
	ans := api.CheckAnswer{
		Type: api.CheckAnswerType, App: sub.App, Channel: req.Channel, Platform: sub.Platform,
		DeviceID: sub.DeviceID, Base: sub.Base, IssuedAt: now, Expires: now.Add(h.d.AnswerTTL),
	}
	deviceID := strings.ToLower(req.DeviceID)
	app, snap, err := h.d.Catalog.ForDevice(ctx, req.App, deviceID)
	if err != nil {
		return ans, err
	}
	dec := resolver.Decide(snap, resolver.Device{
		AppID:          req.App,
		DeviceID:       deviceID,
		Platform:       resolver.Platform(req.Platform),
		VersionBuild:   req.NativeVersion,
		VersionName:    req.Current.Version,
		PluginVersion:  PluginVersion,
		IsEmulator:     req.IsEmulator,
		IsProd:         !req.IsDev,
		DefaultChannel: req.Channel,
	})
	if !dec.PerDevice {
		ans.Audience = api.AudienceFleet
	}
	channel := ""
	if dec.Update != nil {
		channel = dec.Update.Channel
	} else {
		channel = dec.NoUpdate.Channel
	}
	if channel != "" {
		ans.Channel = channel
		ans.Sequence = app.Sequence(channel)
	}
	if dec.NoUpdate != nil {
		ans.NoUpdate = &api.NoUpdate{Code: string(dec.NoUpdate.Code), Message: dec.NoUpdate.Message}
		return ans, nil
	}
	b := dec.Update.Bundle
	if b.KeyID != "" {
		// Its files are Capgo ciphertext: a native device could not
		// read them, and the server cannot make patches of them.
		ans.NoUpdate = &api.NoUpdate{Code: api.CodeEncryptedForCapgo, Message: fmt.Sprintf(
			"bundle %s is encrypted for Capgo devices (bundle upload --capgo-key); serve native devices a bundle uploaded without it", b.Version)}
		return ans, nil
	}
	if b.Version == resolver.Builtin {
		ans.Update = &api.Update{Target: api.TargetBundle{Version: resolver.Builtin}}
		return ans, nil
	}
	// The device's bundle is known when the app has it (a registered
	// builtin included, for a device on "builtin" that reports none).
	from, known := snap.RunningManifest(req.Current.Version, req.NativeVersion, req.Current.Manifest)
	ref, ready, err := h.d.Patcher.Step(ctx, from, known, b.Manifest)
	if err != nil {
		return ans, err
	}
	if !ready && known {
		h.d.Patcher.Schedule(from, b.Manifest)
	}
	ans.Update = &api.Update{
		Target: api.TargetBundle{Version: b.Version, Manifest: b.Manifest, Files: b.Files, Size: b.Size},
		Step:   &ref,
		// As CI signed it (bundle upload --release-key); the server only
		// passes it on.
		Release: app.Release(b.Version),
	}
	return ans, nil
}
