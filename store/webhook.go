package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"

	badger "github.com/dgraph-io/badger/v4"

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

func webhookQueuePrefix(app, id string) []byte {
	return append(appScopedKey(pfxWebhookQueue, app, id), bundleSep)
}

func webhookQueueKey(app, id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(webhookQueuePrefix(app, id), seq)
}

// hookRecord is the wh/ value. The secret is kept as is: the worker signs
// with it.
type hookRecord struct {
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
}

// deliveryRecord is the wq/ value: the exact body sent on every attempt and
// the delivery's state.
type deliveryRecord struct {
	ID          string     `json:"id"`
	Event       string     `json:"event"`
	Type        string     `json:"type"`
	Body        []byte     `json:"body"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	DoneAt      *time.Time `json:"done_at,omitempty"`
}

func (r deliveryRecord) delivery(app, hook string) api.WebhookDelivery {
	return api.WebhookDelivery{ID: r.ID, Hook: hook, App: app, Event: r.Event, Type: r.Type, Status: r.Status,
		Attempts: r.Attempts, LastError: r.LastError, NextAttempt: r.NextAttempt, CreatedAt: r.CreatedAt, DoneAt: r.DoneAt}
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
	var sb [32]byte
	if _, err := rand.Read(sb[:]); err != nil {
		return api.Webhook{}, "", err
	}
	secret := webhookSecretPrefix + base64.RawURLEncoding.EncodeToString(sb[:])
	rec := hookRecord{URL: rawURL, Events: events, Secret: secret, CreatedAt: s.now()}
	err = s.updateData(ctx, func(txn *badger.Txn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		n := 0
		if err := scan(txn, appScopedPrefix(pfxWebhook, app), false, func(*badger.Item) error { n++; return nil }); err != nil {
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

// ListWebhooks lists app's hooks by id (no secrets). An unknown app is
// ErrNotFound.
func (s *Store) ListWebhooks(ctx context.Context, app string) ([]api.Webhook, error) {
	if err := ValidateAppID(app); err != nil {
		return nil, err
	}
	var list []api.Webhook
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		hooks, err := hooksTxn(txn, appScopedPrefix(pfxWebhook, app))
		for _, h := range hooks {
			list = append(list, h.Webhook)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return list, nil
}

// storedHook is a hook with its secret.
type storedHook struct {
	api.Webhook
	Secret string
}

// hooksTxn reads the hooks under pfx (wh/ for all, wh/<app>\x00 for one app's).
func hooksTxn(txn *badger.Txn, pfx []byte) ([]storedHook, error) {
	var out []storedHook
	err := scan(txn, pfx, true, func(item *badger.Item) error {
		app, id, ok := splitAppScoped(item.Key()[len(pfxWebhook):])
		if !ok {
			return fmt.Errorf("webhook key %q: %w", item.Key(), ErrCorrupt)
		}
		return item.Value(func(v []byte) error {
			var r hookRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("webhook %s: %v: %w", id, err, ErrCorrupt)
			}
			out = append(out, storedHook{api.Webhook{ID: id, App: app, URL: r.URL, Events: r.Events, CreatedAt: r.CreatedAt}, r.Secret})
			return nil
		})
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

// DeleteWebhook removes hook id with its queue and log (ErrNotFound when
// there is no such hook); deliveries not yet sent are dropped.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	err := s.updateData(ctx, func(txn *badger.Txn) error {
		hooks, err := hooksTxn(txn, []byte(pfxWebhook))
		if err != nil {
			return err
		}
		i := slices.IndexFunc(hooks, func(h storedHook) bool { return h.ID == id })
		if i < 0 {
			return fmt.Errorf("webhook %q: %w", id, ErrNotFound)
		}
		app := hooks[i].App
		// Read the app's sequence, which every publish to the hook writes:
		// a publish committing meanwhile makes this transaction conflict
		// and start over, so it cannot leave a row of the removed hook.
		if _, _, err := getValue(txn, []byte(pfxWebhookSeq+app)); err != nil {
			return err
		}
		var keys [][]byte
		if err := scan(txn, webhookQueuePrefix(app, id), false, func(item *badger.Item) error {
			keys = append(keys, item.KeyCopy(nil))
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

// channelData is the webhook data of a change of what a channel serves,
// from old to c, recorded in the history as ev (old zero: created).
func channelData(old, c api.Channel, ev api.ChannelEvent) webhook.Data {
	d := webhook.Data{Version: c.Bundle, Channel: c.Name, Action: ev.Action, Detail: ev.Detail}
	if old.Bundle != c.Bundle {
		d.Previous = old.Bundle
	}
	if r := c.Rollout; r != nil {
		d.Rollout = &webhook.Rollout{Bundle: r.Bundle, BasisPoints: r.BasisPoints, Paused: r.Paused}
	}
	return d
}

// publishTxn queues ev, with data as its body's data, for every hook of
// its app that subscribes to its type, inside the transaction that makes
// the change ev reports: one event id and body for all of them, the app's
// next sequence number. Kinds webhookTypes does not name, and apps
// without hooks, write nothing.
func (s *Store) publishTxn(txn *badger.Txn, ev PublishEvent, data webhook.Data) error {
	typ := webhookTypes[ev.Kind]
	if typ == "" {
		return nil
	}
	hooks, err := hooksTxn(txn, appScopedPrefix(pfxWebhook, ev.App))
	if err != nil {
		return err
	}
	hooks = slices.DeleteFunc(hooks, func(h storedHook) bool { return !slices.Contains(h.Events, typ) })
	if len(hooks) == 0 {
		return nil
	}
	seqKey := []byte(pfxWebhookSeq + ev.App)
	v, _, err := getValue(txn, seqKey)
	if err != nil {
		return err
	}
	var seq uint64
	if len(v) == 8 {
		seq = binary.BigEndian.Uint64(v)
	}
	seq++
	if err := txn.Set(seqKey, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return err
	}
	eid, err := randomHex(12)
	if err != nil {
		return err
	}
	now := s.now()
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	body, err := json.Marshal(webhook.Event{ID: "ev_" + eid, Type: typ, App: ev.App, CreatedAt: now, Data: raw})
	if err != nil {
		return err
	}
	for _, h := range hooks {
		did, err := randomHex(12)
		if err != nil {
			return err
		}
		r := deliveryRecord{ID: "dl_" + did, Event: "ev_" + eid, Type: typ, Body: body, Status: api.DeliveryPending,
			NextAttempt: &now, CreatedAt: now}
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := txn.Set(webhookQueueKey(ev.App, h.ID, seq), v); err != nil {
			return err
		}
	}
	return nil
}

// QueuedDelivery is the next delivery of one hook: what to send where,
// signed with which secret, and which attempt this is.
type QueuedDelivery struct {
	Hook     api.Webhook
	Secret   string
	Seq      uint64 // its place in the hook's queue
	Body     []byte
	Delivery api.WebhookDelivery
}

// WebhookQueue returns, for every hook with a pending delivery, the first
// one in sequence order: the only one the worker may send, so that a
// hook receives an app's events in order.
func (s *Store) WebhookQueue(ctx context.Context) ([]QueuedDelivery, error) {
	var out []QueuedDelivery
	err := s.view(ctx, func(txn *badger.Txn) error {
		hooks, err := hooksTxn(txn, []byte(pfxWebhook))
		if err != nil {
			return err
		}
		for _, h := range hooks {
			pfx := webhookQueuePrefix(h.App, h.ID)
			err := scan(txn, pfx, true, func(item *badger.Item) error {
				return item.Value(func(v []byte) error {
					var r deliveryRecord
					if err := json.Unmarshal(v, &r); err != nil {
						return fmt.Errorf("webhook delivery %q: %v: %w", item.Key(), err, ErrCorrupt)
					}
					if r.Status != api.DeliveryPending {
						return nil
					}
					out = append(out, QueuedDelivery{Hook: h.Webhook, Secret: h.Secret, Seq: binary.BigEndian.Uint64(item.Key()[len(pfx):]),
						Body: r.Body, Delivery: r.delivery(h.App, h.ID)})
					return errStopScan
				})
			})
			if err != nil && !errors.Is(err, errStopScan) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webhook queue: %w", err)
	}
	return out, nil
}

// WebhookAttempt is the outcome of one attempt at a queued delivery.
type WebhookAttempt struct {
	// Status is api.DeliveryDelivered, api.DeliveryFailed (given up) or
	// api.DeliveryPending (try again at NextAttempt).
	Status      string
	Error       string // why it did not go through ("" when delivered)
	NextAttempt time.Time
}

// RecordWebhookAttempt records an attempt at d: one more attempt, its
// error, its new status. When d is finished, the hook's log is pruned to
// its newest WebhookLogKeep finished deliveries. ErrNotFound: the hook or
// the delivery is gone (removed meanwhile).
func (s *Store) RecordWebhookAttempt(ctx context.Context, d QueuedDelivery, a WebhookAttempt) (api.WebhookDelivery, error) {
	app, id := d.Hook.App, d.Hook.ID
	key := webhookQueueKey(app, id, d.Seq)
	var out api.WebhookDelivery
	err := s.updateData(ctx, func(txn *badger.Txn) error {
		v, ok, err := getValue(txn, key)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("delivery %s of webhook %s: %w", d.Delivery.ID, id, ErrNotFound)
		}
		var r deliveryRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("webhook delivery %s: %v: %w", d.Delivery.ID, err, ErrCorrupt)
		}
		now := s.now()
		r.Attempts++
		r.Status, r.LastError, r.NextAttempt, r.DoneAt = a.Status, a.Error, nil, nil
		if a.Status == api.DeliveryPending {
			next := a.NextAttempt.UTC()
			r.NextAttempt = &next
		} else {
			r.DoneAt = &now
		}
		nv, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := txn.Set(key, nv); err != nil {
			return err
		}
		out = r.delivery(app, id)
		if a.Status == api.DeliveryPending {
			return nil
		}
		return pruneWebhookLog(txn, app, id, key)
	})
	if err != nil {
		return api.WebhookDelivery{}, fmt.Errorf("record webhook attempt: %w", err)
	}
	return out, nil
}

// pruneWebhookLog deletes the oldest finished deliveries of hook id beyond
// WebhookLogKeep; just (finished in this transaction) counts as finished.
func pruneWebhookLog(txn *badger.Txn, app, id string, just []byte) error {
	var finished [][]byte
	err := scan(txn, webhookQueuePrefix(app, id), true, func(item *badger.Item) error {
		if string(item.Key()) == string(just) {
			finished = append(finished, item.KeyCopy(nil))
			return nil
		}
		return item.Value(func(v []byte) error {
			var r deliveryRecord
			if err := json.Unmarshal(v, &r); err == nil && r.Status != api.DeliveryPending {
				finished = append(finished, item.KeyCopy(nil))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for len(finished) > WebhookLogKeep {
		if err := txn.Delete(finished[0]); err != nil {
			return err
		}
		finished = finished[1:]
	}
	return nil
}

// ListWebhookDeliveries lists the deliveries of app's hooks (only hook's,
// when hook is not ""), oldest first: pending ones and the log of finished
// ones. An unknown app is ErrNotFound, an unknown hook of it too.
func (s *Store) ListWebhookDeliveries(ctx context.Context, app, hook string) ([]api.WebhookDelivery, error) {
	if err := ValidateAppID(app); err != nil {
		return nil, err
	}
	type row struct {
		seq uint64
		d   api.WebhookDelivery
	}
	var rows []row
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		hooks, err := hooksTxn(txn, appScopedPrefix(pfxWebhook, app))
		if err != nil {
			return err
		}
		if hook != "" {
			hooks = slices.DeleteFunc(hooks, func(h storedHook) bool { return h.ID != hook })
			if len(hooks) == 0 {
				return fmt.Errorf("app %q has no webhook %q: %w", app, hook, ErrNotFound)
			}
		}
		for _, h := range hooks {
			pfx := webhookQueuePrefix(app, h.ID)
			err := scan(txn, pfx, true, func(item *badger.Item) error {
				seq := binary.BigEndian.Uint64(item.Key()[len(pfx):])
				return item.Value(func(v []byte) error {
					var r deliveryRecord
					if err := json.Unmarshal(v, &r); err != nil {
						return fmt.Errorf("webhook delivery %q: %v: %w", item.Key(), err, ErrCorrupt)
					}
					rows = append(rows, row{seq, r.delivery(app, h.ID)})
					return nil
				})
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].seq < rows[j].seq })
	out := make([]api.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = r.d
	}
	return out, nil
}
