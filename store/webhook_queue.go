package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/webhook"
)

// The webhook delivery queue (wq/): written by publishTxn inside the
// transaction of the change it reports, read one head per hook by the
// server's worker, each attempt recorded, finished rows kept as the log.

func webhookQueuePrefix(app, id string) []byte {
	return append(appScopedKey(pfxWebhookQueue, app, id), bundleSep)
}

func webhookQueueKey(app, id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(webhookQueuePrefix(app, id), seq)
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

// decodeDelivery decodes the wq/ value v of key.
func decodeDelivery(key, v []byte) (deliveryRecord, error) {
	var r deliveryRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("webhook delivery %q: %v: %w", key, err, ErrCorrupt)
	}
	return r, nil
}

func (r deliveryRecord) delivery(app, hook string) api.WebhookDelivery {
	return api.WebhookDelivery{ID: r.ID, Hook: hook, App: app, Event: r.Event, Type: r.Type, Status: r.Status,
		Attempts: r.Attempts, LastError: r.LastError, NextAttempt: r.NextAttempt, CreatedAt: r.CreatedAt, DoneAt: r.DoneAt}
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
func (s *Store) publishTxn(txn kvTxn, ev PublishEvent, data webhook.Data) error {
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
// signed with which secrets, and which attempt this is.
type QueuedDelivery struct {
	Hook api.Webhook
	// Secrets sign it: the hook's current secret, then its previous one
	// while that has not expired (RotateWebhookSecret).
	Secrets  []string
	Seq      uint64 // its place in the hook's queue
	Body     []byte
	Delivery api.WebhookDelivery
}

// WebhookQueue returns, for every hook with a pending delivery, the first
// one in sequence order: the only one the worker may send, so that a
// hook receives an app's events in order.
func (s *Store) WebhookQueue(ctx context.Context) ([]QueuedDelivery, error) {
	var out []QueuedDelivery
	err := s.view(ctx, func(txn kvTxn) error {
		hooks, err := hooksTxn(txn, []byte(pfxWebhook))
		if err != nil {
			return err
		}
		now := s.now()
		for _, h := range hooks {
			pfx := webhookQueuePrefix(h.App, h.ID)
			err := scan(txn, pfx, true, func(key, v []byte) error {
				r, err := decodeDelivery(key, v)
				if err != nil {
					return err
				}
				if r.Status != api.DeliveryPending {
					return nil
				}
				out = append(out, QueuedDelivery{Hook: h.public(now), Secrets: h.secrets(now), Seq: binary.BigEndian.Uint64(key[len(pfx):]),
					Body: r.Body, Delivery: r.delivery(h.App, h.ID)})
				return errStopScan
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
	err := s.updateData(ctx, func(txn kvTxn) error {
		v, ok, err := getValue(txn, key)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("delivery %s of webhook %s: %w", d.Delivery.ID, id, ErrNotFound)
		}
		r, err := decodeDelivery(key, v)
		if err != nil {
			return err
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
func pruneWebhookLog(txn kvTxn, app, id string, just []byte) error {
	var finished [][]byte
	err := scan(txn, webhookQueuePrefix(app, id), true, func(key, v []byte) error {
		if string(key) == string(just) {
			finished = append(finished, bytes.Clone(key))
			return nil
		}
		var r deliveryRecord
		if err := json.Unmarshal(v, &r); err == nil && r.Status != api.DeliveryPending {
			finished = append(finished, bytes.Clone(key))
		}
		return nil
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
	err := s.view(ctx, func(txn kvTxn) error {
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
			err := scan(txn, pfx, true, func(key, v []byte) error {
				seq := binary.BigEndian.Uint64(key[len(pfx):])
				r, err := decodeDelivery(key, v)
				if err != nil {
					return err
				}
				rows = append(rows, row{seq, r.delivery(app, h.ID)})
				return nil
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

// RedeliverWebhook puts a finished delivery of app (delivered, or failed
// after its last attempt) back in its hook's queue, to be sent again as
// it was, with a fresh count of attempts. Its place in the queue is its
// own: the worker sends a hook's pending deliveries oldest first, so it
// goes ahead of any later one still pending (those after it that were
// delivered already stay delivered). A pending delivery is ErrExists; an
// unknown app or delivery ErrNotFound.
func (s *Store) RedeliverWebhook(ctx context.Context, app, deliveryID string) (api.WebhookDelivery, error) {
	if err := ValidateAppID(app); err != nil {
		return api.WebhookDelivery{}, err
	}
	var out api.WebhookDelivery
	err := s.updateData(ctx, func(txn kvTxn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		hooks, err := hooksTxn(txn, appScopedPrefix(pfxWebhook, app))
		if err != nil {
			return err
		}
		var key []byte
		var r deliveryRecord
		var hook string
		for _, h := range hooks {
			err := scan(txn, webhookQueuePrefix(app, h.ID), true, func(k, v []byte) error {
				rec, err := decodeDelivery(k, v)
				if err != nil {
					return err
				}
				if rec.ID != deliveryID {
					return nil
				}
				key, r, hook = slices.Clone(k), rec, h.ID
				return errStopScan
			})
			if err != nil && !errors.Is(err, errStopScan) {
				return err
			}
			if key != nil {
				break
			}
		}
		if key == nil {
			return fmt.Errorf("app %q has no webhook delivery %q: %w", app, deliveryID, ErrNotFound)
		}
		if r.Status == api.DeliveryPending {
			return fmt.Errorf("webhook delivery %s is pending already (attempt %d): %w", deliveryID, r.Attempts+1, ErrExists)
		}
		now := s.now()
		r.Status, r.Attempts, r.LastError, r.NextAttempt, r.DoneAt = api.DeliveryPending, 0, "", &now, nil
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		out = r.delivery(app, hook)
		return txn.Set(key, v)
	})
	if err != nil {
		return api.WebhookDelivery{}, fmt.Errorf("redeliver webhook delivery: %w", err)
	}
	return out, nil
}
