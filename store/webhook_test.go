package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/webhook"
)

// TestWebhookQueueMirrorsEvents: every publish event of an app is queued,
// in the transaction that made it, for each of its hooks subscribed to its
// type, in commit order; other apps' hooks and unsubscribed types get nothing.
func TestWebhookQueueMirrorsEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	const app, other = "com.example.hooks", "com.example.other"
	for _, a := range []string{app, other} {
		if _, err := s.CreateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	all, _, err := s.CreateWebhook(ctx, app, "https://hooks.example.com/a", []string{webhook.EventChannelChanged, webhook.EventBundleUploaded, webhook.EventBundleUploaded})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all.Events, []string{webhook.EventBundleUploaded, webhook.EventChannelChanged}) {
		t.Errorf("events %v, want sorted without repeats", all.Events)
	}
	bundles, _, err := s.CreateWebhook(ctx, app, "http://hooks.example.com/b", []string{webhook.EventBundleUploaded})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, _, err := s.CreateWebhook(ctx, other, "https://hooks.example.com/c", WebhookEventTypes())
	if err != nil {
		t.Fatal(err)
	}
	var emitted []PublishEvent
	defer s.Subscribe(func(ev PublishEvent) { emitted = append(emitted, ev) })()
	for _, v := range []string{"1.0.0", "1.1.0"} {
		putFiles(t, s, someFiles(2, v)...)
		if _, err := s.CommitBundle(ctx, app, v, manifestOf(t, someFiles(2, v)...), api.BundleMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetChannelBundle(ctx, app, "production", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetChannelBundle(ctx, app, "production", "9.9.9"); err == nil {
		t.Fatal("set to a missing bundle worked")
	}
	if _, err := s.RollbackChannel(ctx, app, "production"); err != nil {
		t.Fatal(err)
	}
	types := func(hook string) []string {
		t.Helper()
		ds, err := s.ListWebhookDeliveries(ctx, app, hook)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			if d.Status != api.DeliveryPending || d.Attempts != 0 || d.NextAttempt == nil {
				t.Errorf("new delivery %+v", d)
			}
			out = append(out, d.Type)
		}
		return out
	}
	var want []string
	for _, ev := range emitted {
		want = append(want, webhookTypes[ev.Kind])
	}
	if got := types(all.ID); !slices.Equal(got, want) {
		t.Errorf("hook on both types: %v, want %v", got, want)
	}
	if got := types(bundles.ID); !slices.Equal(got, []string{webhook.EventBundleUploaded, webhook.EventBundleUploaded}) {
		t.Errorf("hook on bundle.uploaded: %v", got)
	}
	if ds, err := s.ListWebhookDeliveries(ctx, other, elsewhere.ID); err != nil || len(ds) != 0 {
		t.Errorf("other app's hook: %v, %v", ds, err)
	}
	// The heads: the first event of each hook, its body the event.
	q, err := s.WebhookQueue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 {
		t.Fatalf("queue heads %d, want 2", len(q))
	}
	for _, d := range q {
		var ev webhook.Event
		if err := json.Unmarshal(d.Body, &ev); err != nil {
			t.Fatal(err)
		}
		var data webhook.Data
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatal(err)
		}
		if ev.Type != webhook.EventBundleUploaded || ev.App != app || data.Version != "1.0.0" || ev.ID != d.Delivery.Event || len(d.Secrets) != 1 {
			t.Errorf("head of %s: %+v %+v", d.Hook.ID, ev, data)
		}
	}
	if q[0].Delivery.Event != q[1].Delivery.Event || q[0].Delivery.ID == q[1].Delivery.ID {
		t.Errorf("one event to two hooks: events %s %s, deliveries %s %s", q[0].Delivery.Event, q[1].Delivery.Event, q[0].Delivery.ID, q[1].Delivery.ID)
	}
}

// TestWebhookAttempts: a pending attempt keeps the head (order), a
// delivered or failed one moves it on; the queue survives a reopen; the
// log keeps WebhookLogKeep finished deliveries; removing the hook removes
// its queue.
func TestWebhookAttempts(t *testing.T) {
	ctx := context.Background()
	opts, clk := testOptions(t)
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	const app = "com.example.hooks"
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	h, _, err := s.CreateWebhook(ctx, app, "https://hooks.example.com/", []string{webhook.EventBundleUploaded})
	if err != nil {
		t.Fatal(err)
	}
	n := WebhookLogKeep + 3
	for i := range n {
		v := fmt.Sprintf("1.0.%d", i)
		putFiles(t, s, someFiles(1, v)...)
		if _, err := s.CommitBundle(ctx, app, v, manifestOf(t, someFiles(1, v)...), api.BundleMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, opts)
	head := func() QueuedDelivery {
		t.Helper()
		q, err := s.WebhookQueue(ctx)
		if err != nil || len(q) != 1 {
			t.Fatalf("queue %v, %v", q, err)
		}
		return q[0]
	}
	first := head()
	next := clk.Now().Add(time.Minute)
	d, err := s.RecordWebhookAttempt(ctx, first, WebhookAttempt{Status: api.DeliveryPending, Error: "connection refused", NextAttempt: next})
	if err != nil {
		t.Fatal(err)
	}
	if d.Attempts != 1 || d.LastError != "connection refused" || d.NextAttempt == nil || !d.NextAttempt.Equal(next) {
		t.Errorf("after a failed attempt: %+v", d)
	}
	if again := head(); again.Seq != first.Seq || again.Delivery.Attempts != 1 {
		t.Errorf("head moved to %d after a failed attempt", again.Seq)
	}
	for i := range n {
		status := api.DeliveryDelivered
		if i == 1 {
			status = api.DeliveryFailed
		}
		d := head()
		if _, err := s.RecordWebhookAttempt(ctx, d, WebhookAttempt{Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	if q, err := s.WebhookQueue(ctx); err != nil || len(q) != 0 {
		t.Errorf("queue after all delivered: %v, %v", q, err)
	}
	ds, err := s.ListWebhookDeliveries(ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != WebhookLogKeep {
		t.Errorf("log holds %d, want %d", len(ds), WebhookLogKeep)
	}
	if ds[0].DoneAt == nil || ds[0].Status != api.DeliveryDelivered {
		t.Errorf("oldest kept %+v", ds[0])
	}
	if err := s.DeleteWebhook(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, h.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	for _, k := range allKeys(t, s) {
		if strings.HasPrefix(k, pfxWebhookQueue) || strings.HasPrefix(k, pfxWebhook) {
			t.Errorf("left after delete: %q", k)
		}
	}
	if _, err := s.RecordWebhookAttempt(ctx, first, WebhookAttempt{Status: api.DeliveryDelivered}); !errors.Is(err, ErrNotFound) {
		t.Errorf("attempt at a removed hook's delivery: %v", err)
	}
}

// TestCreateWebhookRefuses: bad input is refused with ErrInvalid (or
// ErrNotFound for an unknown app) and stores nothing.
func TestCreateWebhookRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	const app = "com.example.hooks"
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ok := []string{webhook.EventBundleUploaded}
	tests := []struct {
		name   string
		app    string
		url    string
		events []string
		want   error
	}{
		{"ftp", app, "ftp://example.com/", ok, ErrInvalid},
		{"relative", app, "/hook", ok, ErrInvalid},
		{"no host", app, "https:///x", ok, ErrInvalid},
		{"user info", app, "https://u:p@example.com/", ok, ErrInvalid},
		{"too long", app, "https://example.com/" + strings.Repeat("a", MaxWebhookURLLen), ok, ErrInvalid},
		{"unknown event", app, "https://example.com/", []string{"bundle.deleted"}, ErrInvalid},
		{"no events", app, "https://example.com/", nil, ErrInvalid},
		{"unknown app", "com.example.none", "https://example.com/", ok, ErrNotFound},
	}
	before := allKeys(t, s)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := s.CreateWebhook(ctx, tc.app, tc.url, tc.events); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
	if after := allKeys(t, s); !slices.Equal(before, after) {
		t.Errorf("refused webhooks changed the store")
	}
	for range MaxWebhooksPerApp {
		if _, _, err := s.CreateWebhook(ctx, app, "https://example.com/", ok); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateWebhook(ctx, app, "https://example.com/", ok); !errors.Is(err, ErrInvalid) {
		t.Errorf("hook %d: %v", MaxWebhooksPerApp+1, err)
	}
}

// TestEveryEventKindIsAWebhookType: a publish event kind added later
// (guard.tripped, rollout.paused, ...) fails here until it is named in
// webhookTypes, the one line that makes hooks able to subscribe to it.
func TestEveryEventKindIsAWebhookType(t *testing.T) {
	for k := EventKind(1); k.String() != "unknown"; k++ {
		if webhookTypes[k] == "" {
			t.Errorf("publish event %s has no webhook type: add it to webhookTypes (store/webhook.go) and call publishTxn in its transaction", k)
		}
	}
	if names := WebhookEventTypes(); len(slices.Compact(names)) != len(webhookTypes) {
		t.Errorf("two kinds share a webhook type: %v", webhookTypes)
	}
}

// TestRedeliverWebhook: a failed (or delivered) delivery is queued again,
// ahead of later pending ones, with a fresh count of attempts; a pending
// one, an unknown one and an unknown app are refused.
func TestRedeliverWebhook(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	const app = "com.example.hooks"
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateWebhook(ctx, app, "https://hooks.example.com/", []string{webhook.EventBundleUploaded}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "1.0.1"} {
		putFiles(t, s, someFiles(1, v)...)
		if _, err := s.CommitBundle(ctx, app, v, manifestOf(t, someFiles(1, v)...), api.BundleMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	head := func() QueuedDelivery {
		t.Helper()
		q, err := s.WebhookQueue(ctx)
		if err != nil || len(q) != 1 {
			t.Fatalf("queue %v, %v", q, err)
		}
		return q[0]
	}
	first := head()
	if _, err := s.RedeliverWebhook(ctx, app, first.Delivery.ID); !errors.Is(err, ErrExists) {
		t.Errorf("redeliver a pending delivery: %v, want ErrExists", err)
	}
	if _, err := s.RecordWebhookAttempt(ctx, first, WebhookAttempt{Status: api.DeliveryFailed, Error: "HTTP 500"}); err != nil {
		t.Fatal(err)
	}
	if next := head(); next.Seq == first.Seq {
		t.Fatal("the failed delivery is still the head")
	}
	d, err := s.RedeliverWebhook(ctx, app, first.Delivery.ID)
	if err != nil || d.Status != api.DeliveryPending || d.Attempts != 0 || d.LastError != "" || d.NextAttempt == nil || d.DoneAt != nil {
		t.Fatalf("redelivered: %+v, %v", d, err)
	}
	if again := head(); again.Seq != first.Seq || !slices.Equal(again.Body, first.Body) {
		t.Errorf("head after the redelivery is %d, want %d with the same body", again.Seq, first.Seq)
	}
	for _, tc := range []struct{ app, id string }{{app, "wd_nosuch"}, {"com.example.none", first.Delivery.ID}} {
		if _, err := s.RedeliverWebhook(ctx, tc.app, tc.id); !errors.Is(err, ErrNotFound) {
			t.Errorf("redeliver %s of %s: %v, want ErrNotFound", tc.id, tc.app, err)
		}
	}
}
