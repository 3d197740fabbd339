package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/webhook"
)

// Webhooks: an app's hooks (wh/) and a durable queue of deliveries (wq/)
// that is also their log. A publish writes one delivery per subscribed
// hook in the same transaction as the change it reports (publishTxn), so
// once the change is committed its deliveries are too: a crash right after
// commit loses none. The server's worker sends each hook's deliveries in
// sequence order (wn/ numbers an app's events), one at a time, and records
// every attempt (RecordWebhookAttempt).

// webhookTypes maps the store's publish events to the webhook event types
// hooks subscribe to. A new kind is one line here, plus a publishTxn call
// inside the transaction that makes it.
var webhookTypes = map[EventKind]string{
	BundleCommitted: webhook.EventBundleUploaded,
	ChannelServes:   webhook.EventChannelChanged,
	GuardTripped:    webhook.EventGuardTripped,
	ChannelPaused:   webhook.EventRolloutPaused,
}

// WebhookEventTypes lists the event types a hook may subscribe to, sorted.
func WebhookEventTypes() []string {
	var names []string
	for _, n := range webhookTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

const (
	pfxWebhook      = "wh/" // wh/<app>\x00<hook id>: hook record
	pfxWebhookQueue = "wq/" // wq/<app>\x00<hook id>\x00<seq>: delivery
	pfxWebhookSeq   = "wn/" // wn/<app>: last event sequence of the app

	// MaxWebhooksPerApp bounds an app's hooks.
	MaxWebhooksPerApp = 32
	// MaxWebhookURLLen bounds a hook's URL, in bytes.
	MaxWebhookURLLen = 2048
	// WebhookLogKeep is how many finished (delivered or failed) deliveries
	// each hook keeps in its log; older ones are pruned as new ones finish.
	WebhookLogKeep = 100

	webhookIDPrefix     = "wh_"
	webhookSecretPrefix = "whsec_"
)

func webhookKey(app, id string) []byte { return appScopedKey(pfxWebhook, app, id) }

// hookRecord is the wh/ value. The secrets are kept as they are: the
// worker signs with them. Previous is the secret before the current one
// (RotateWebhookSecret), which signs beside it until PreviousExpires and
// is ignored after.
type hookRecord struct {
	URL             string     `json:"url"`
	Events          []string   `json:"events"`
	Secret          string     `json:"secret"`
	Previous        string     `json:"previous,omitempty"`
	PreviousExpires *time.Time `json:"previous_expires,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
}

// previousValid reports whether r's previous secret still signs at now.
func (r hookRecord) previousValid(now time.Time) bool {
	return r.Previous != "" && r.PreviousExpires != nil && now.Before(*r.PreviousExpires)
}

// newWebhookSecret makes a hook secret: whsec_ and 32 random bytes.
func newWebhookSecret() (string, error) {
	var sb [32]byte
	if _, err := rand.Read(sb[:]); err != nil {
		return "", err
	}
	return webhookSecretPrefix + base64.RawURLEncoding.EncodeToString(sb[:]), nil
}

// randomHex is n random bytes, hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// ValidateWebhookURL checks the form of a hook URL: absolute http or https
// with a host, no user info, at most MaxWebhookURLLen bytes. Where the
// host points is the server's check (it resolves it).
func ValidateWebhookURL(raw string) (*url.URL, error) {
	if len(raw) > MaxWebhookURLLen {
		return nil, invalid("webhook url", raw, fmt.Sprintf("longer than %d bytes", MaxWebhookURLLen))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("webhook url", raw, "not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalid("webhook url", raw, "must be http:// or https://")
	}
	if u.Hostname() == "" {
		return nil, invalid("webhook url", raw, "has no host")
	}
	if u.User != nil {
		return nil, invalid("webhook url", raw, "must not hold a user or password")
	}
	return u, nil
}

// normalizeEvents checks and sorts a hook's event types, dropping repeats.
func normalizeEvents(events []string) ([]string, error) {
	known := WebhookEventTypes()
	var out []string
	for _, e := range events {
		if !slices.Contains(known, e) {
			return nil, invalid("webhook event", e, fmt.Sprintf("unknown event type (known: %v)", known))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, invalid("webhook events", "", fmt.Sprintf("name at least one of %v", known))
	}
	slices.Sort(out)
	return out, nil
}

// CreateWebhook registers a hook of app that receives events (event types
// of WebhookEventTypes) at rawURL, and returns it with its secret, which
// is made here and shown only now. The app must exist (ErrNotFound); the
// URL must pass ValidateWebhookURL; an app has at most MaxWebhooksPerApp.
func (s *Store) CreateWebhook(ctx context.Context, app, rawURL string, events []string) (api.Webhook, string, error) {
	if err := ValidateAppID(app); err != nil {
		return api.Webhook{}, "", err
	}
	if _, err := ValidateWebhookURL(rawURL); err != nil {
		return api.Webhook{}, "", err
	}
	events, err := normalizeEvents(events)
	if err != nil {
		return api.Webhook{}, "", err
	}
	id, err := randomHex(8)
	if err != nil {
		return api.Webhook{}, "", err
	}
	id = webhookIDPrefix + id
	secret, err := newWebhookSecret()
	if err != nil {
		return api.Webhook{}, "", err
	}
	rec := hookRecord{URL: rawURL, Events: events, Secret: secret, CreatedAt: s.now()}
	err = s.updateData(ctx, func(txn kvTxn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		n := 0
		if err := scan(txn, appScopedPrefix(pfxWebhook, app), false, func(_, _ []byte) error { n++; return nil }); err != nil {
			return err
		}
		if n >= MaxWebhooksPerApp {
			return fmt.Errorf("app %q has %d webhooks already, the most it may have: %w", app, n, ErrInvalid)
		}
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return txn.Set(webhookKey(app, id), v)
	})
	if err != nil {
		return api.Webhook{}, "", fmt.Errorf("create webhook: %w", err)
	}
	return api.Webhook{ID: id, App: app, URL: rawURL, Events: events, CreatedAt: rec.CreatedAt}, secret, nil
}

// ListWebhooks lists app's hooks by id (no secrets; when a previous
// secret still signs, when it stops). An unknown app is ErrNotFound.
func (s *Store) ListWebhooks(ctx context.Context, app string) ([]api.Webhook, error) {
	if err := ValidateAppID(app); err != nil {
		return nil, err
	}
	var list []api.Webhook
	err := s.view(ctx, func(txn kvTxn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		hooks, err := hooksTxn(txn, appScopedPrefix(pfxWebhook, app))
		now := s.now()
		for _, h := range hooks {
			list = append(list, h.public(now))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return list, nil
}

// storedHook is a hook with its record (its secrets).
type storedHook struct {
	api.Webhook
	rec hookRecord
}

// secrets are the secrets that sign h's deliveries at now: the current
// one, then the previous one while it has not expired.
func (h storedHook) secrets(now time.Time) []string {
	if h.rec.previousValid(now) {
		return []string{h.rec.Secret, h.rec.Previous}
	}
	return []string{h.rec.Secret}
}

// public is h as the API shows it at now.
func (h storedHook) public(now time.Time) api.Webhook {
	w := h.Webhook
	if h.rec.previousValid(now) {
		t := *h.rec.PreviousExpires
		w.PreviousSecretExpires = &t
	}
	return w
}

// hooksTxn reads the hooks under pfx (wh/ for all, wh/<app>\x00 for one app's).
func hooksTxn(txn kvTxn, pfx []byte) ([]storedHook, error) {
	var out []storedHook
	err := scan(txn, pfx, true, func(key, v []byte) error {
		app, id, ok := splitAppScoped(key[len(pfxWebhook):])
		if !ok {
			return fmt.Errorf("webhook key %q: %w", key, ErrCorrupt)
		}
		var r hookRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("webhook %s: %v: %w", id, err, ErrCorrupt)
		}
		out = append(out, storedHook{api.Webhook{ID: id, App: app, URL: r.URL, Events: r.Events, CreatedAt: r.CreatedAt}, r})
		return nil
	})
	return out, err
}

// splitAppScoped splits "<app>\x00<rest>".
func splitAppScoped(k []byte) (app, rest string, ok bool) {
	i := slices.Index(k, bundleSep)
	if i < 0 {
		return "", "", false
	}
	return string(k[:i]), string(k[i+1:]), true
}

// hookByIDTxn finds hook id among all apps' hooks (ErrNotFound).
func hookByIDTxn(txn kvTxn, id string) (storedHook, error) {
	hooks, err := hooksTxn(txn, []byte(pfxWebhook))
	if err != nil {
		return storedHook{}, err
	}
	i := slices.IndexFunc(hooks, func(h storedHook) bool { return h.ID == id })
	if i < 0 {
		return storedHook{}, fmt.Errorf("webhook %q: %w", id, ErrNotFound)
	}
	return hooks[i], nil
}

// RotateWebhookSecret makes hook id a new secret and returns the hook and
// the secret, shown only now. The secret it replaces keeps signing
// deliveries beside the new one for expirePrevious (0: it stops at once;
// at most api.MaxExpirePrevious, else ErrInvalid); a previous secret
// from an earlier rotation is dropped, so a hook has at most two. An
// unknown hook is ErrNotFound; neither error changes anything.
func (s *Store) RotateWebhookSecret(ctx context.Context, id string, expirePrevious time.Duration) (api.Webhook, string, error) {
	if expirePrevious < 0 || expirePrevious > api.MaxExpirePrevious {
		return api.Webhook{}, "", invalid("expire_previous_in", expirePrevious.String(),
			fmt.Sprintf("must be from 0 (at once) to %s", api.MaxExpirePrevious))
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return api.Webhook{}, "", err
	}
	var out api.Webhook
	err = s.updateData(ctx, func(txn kvTxn) error {
		h, err := hookByIDTxn(txn, id)
		if err != nil {
			return err
		}
		now := s.now()
		rec := h.rec
		rec.Previous, rec.PreviousExpires = "", nil
		if expirePrevious > 0 {
			at := now.Add(expirePrevious)
			rec.Previous, rec.PreviousExpires = h.rec.Secret, &at
		}
		rec.Secret = secret
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		out = storedHook{h.Webhook, rec}.public(now)
		return txn.Set(webhookKey(h.App, id), v)
	})
	if err != nil {
		return api.Webhook{}, "", fmt.Errorf("rotate webhook secret: %w", err)
	}
	return out, secret, nil
}

// DeleteWebhook removes hook id with its queue and log (ErrNotFound when
// there is no such hook); deliveries not yet sent are dropped.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	err := s.updateData(ctx, func(txn kvTxn) error {
		h, err := hookByIDTxn(txn, id)
		if err != nil {
			return err
		}
		app := h.App
		// Read the app's sequence, which every publish to the hook writes:
		// a publish committing meanwhile makes this transaction conflict
		// and start over, so it cannot leave a row of the removed hook.
		if _, _, err := getValue(txn, []byte(pfxWebhookSeq+app)); err != nil {
			return err
		}
		var keys [][]byte
		if err := scan(txn, webhookQueuePrefix(app, id), false, func(key, v []byte) error {
			keys = append(keys, bytes.Clone(key))
			return nil
		}); err != nil {
			return err
		}
		keys = append(keys, webhookKey(app, id))
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}
