// Package webhook is what a patchwire webhook delivery carries and how its
// signature is made and checked. It imports nothing of patchwire's, so a
// receiver written in Go can import it alone:
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//		if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, 5*time.Minute); err != nil {
//			http.Error(w, err.Error(), http.StatusUnauthorized)
//			return
//		}
//		var ev webhook.Event
//		_ = json.Unmarshal(body, &ev)
//		// ev.ID is the same on every retry of one event: dedupe by it.
//	}
//
// The signature is HMAC-SHA256, keyed with the hook's secret, over
// "<unix seconds>.<body>", sent as "Patchwire-Signature: t=<unix>,v1=<hex>";
// while the hook's secret is being rotated, one v1 per valid secret
// ("t=<unix>,v1=<new>,v1=<previous>"), any of which verifies.
// The timestamp is signed too, so a receiver that refuses old timestamps
// (Verify's tolerance) refuses a replayed delivery.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// HeaderSignature is "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	HeaderSignature = "Patchwire-Signature"
	// HeaderEvent is the event's id (Event.ID), the same on every retry
	// and for every hook the event goes to.
	HeaderEvent = "Patchwire-Event"
	// HeaderDelivery is the id of this event's delivery to this hook.
	HeaderDelivery = "Patchwire-Delivery"
)

// Event is the JSON body of a delivery.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"` // bundle.uploaded, channel.changed, ...
	App       string          `json:"app"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Data is what Event.Data holds for the kinds patchwire sends now; kinds
// added later may carry other members.
type Data struct {
	// Version is the uploaded bundle (bundle.uploaded) or the bundle the
	// channel serves now (channel.changed; "" none, "builtin").
	Version string `json:"version,omitempty"`
	// Channel is the channel that changed (channel.changed, guard.tripped,
	// rollout.paused).
	Channel string `json:"channel,omitempty"`
	// Action is what changed it, as the channel's history says: create,
	// set, rollback, rollout, pause, resume, promote, cancel (channel.changed,
	// rollout.paused); the guard's action (guard.tripped).
	Action string `json:"action,omitempty"`
	// Previous is the bundle the channel served before, when that changed
	// (channel.changed).
	Previous string `json:"previous,omitempty"`
	// Rollout is the channel's rollout after the change, if it has one
	// (channel.changed).
	Rollout *Rollout `json:"rollout,omitempty"`
	// Detail says more, for people: for channel.changed what the channel's
	// history records of the change ("rollout 1.2.0 at 10 %", ...).
	Detail string `json:"detail,omitempty"`
}

// Rollout is a channel's rollout in a channel.changed event.
type Rollout struct {
	Bundle      string `json:"bundle"`
	BasisPoints int    `json:"basis_points"` // share of devices, 0..10000 (3000 = 30 %)
	Paused      bool   `json:"paused"`
}

// Errors of Verify and ParseSignature.
var (
	// ErrMalformed: the header is not "t=<unix>,v1=<hex>[,...]".
	ErrMalformed = errors.New("webhook: malformed " + HeaderSignature + " header")
	// ErrMismatch: no v1 signature matches the body and secret.
	ErrMismatch = errors.New("webhook: signature does not match")
	// ErrTimestamp: the signed timestamp is outside the tolerance.
	ErrTimestamp = errors.New("webhook: signature timestamp outside tolerance")
)

// maxHeader bounds the header ParseSignature reads.
const maxHeader = 4096

// Sign returns the HMAC-SHA256 of "<t>.<body>" under secret, hex.
func Sign(secret string, t int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(t, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignatureHeader is the Patchwire-Signature value of body signed at t.
func SignatureHeader(secret string, t time.Time, body []byte) string {
	return SignatureHeaderAll([]string{secret}, t, body)
}

// SignatureHeaderAll is the Patchwire-Signature value of body signed at t
// with each of secrets, one v1 member each, in order:
// "t=<unix>,v1=<first>,v1=<second>". While a hook's secret is being
// rotated its deliveries carry the new and the previous one, so a
// receiver holding either verifies.
func SignatureHeaderAll(secrets []string, t time.Time, body []byte) string {
	u := t.Unix()
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(u, 10))
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(Sign(s, u, body))
	}
	return b.String()
}

// ParseSignature splits a Patchwire-Signature value into its timestamp
// and its v1 signatures (decoded). Members other than t and v1 are
// ignored (later schemes); exactly one t and at least one v1 are required.
func ParseSignature(header string) (t int64, sigs [][]byte, err error) {
	if len(header) > maxHeader {
		return 0, nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxHeader)
	}
	seenT := false
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%w: %q is not key=value", ErrMalformed, part)
		}
		switch k {
		case "t":
			if seenT {
				return 0, nil, fmt.Errorf("%w: two timestamps", ErrMalformed)
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || v != strconv.FormatInt(n, 10) {
				return 0, nil, fmt.Errorf("%w: timestamp %q", ErrMalformed, v)
			}
			t, seenT = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return 0, nil, fmt.Errorf("%w: v1 is not 64 hex digits", ErrMalformed)
			}
			sigs = append(sigs, b)
		}
	}
	if !seenT || len(sigs) == 0 {
		return 0, nil, fmt.Errorf("%w: want t=<unix>,v1=<hex>", ErrMalformed)
	}
	return t, sigs, nil
}

// Verify checks that header signs body with secret at a time within
// tolerance of now (tolerance <= 0: any time). A header may carry several
// v1 signatures (a hook whose secret is being rotated is signed with the
// new and the previous one): one matching is enough.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	return VerifyAt(secret, header, body, tolerance, time.Now())
}

// VerifyAt is Verify with now given.
func VerifyAt(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	t, sigs, err := ParseSignature(header)
	if err != nil {
		return err
	}
	want, _ := hex.DecodeString(Sign(secret, t, body))
	ok := false
	for _, s := range sigs {
		ok = hmac.Equal(s, want) || ok
	}
	if !ok {
		return ErrMismatch
	}
	if tolerance > 0 {
		d := now.Sub(time.Unix(t, 0))
		if d < 0 {
			d = -d
		}
		if d > tolerance {
			return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)", ErrTimestamp,
				time.Unix(t, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
		}
	}
	return nil
}

// Event types (Event.Type, and what a hook subscribes to).
const (
	// EventBundleUploaded: a bundle version was committed.
	EventBundleUploaded = "bundle.uploaded"
	// EventChannelChanged: a channel was created, or what it serves (its
	// bundle or its rollout) changed.
	EventChannelChanged = "channel.changed"
	// EventGuardTripped: a channel's release guard tripped on a bundle
	// (Data.Version); Data.Action is the guard's action, Data.Detail what
	// it counted and did.
	EventGuardTripped = "guard.tripped"
	// EventRolloutPaused: a channel, or its rollout, was paused, by an
	// administrator or by its guard.
	EventRolloutPaused = "rollout.paused"
)
