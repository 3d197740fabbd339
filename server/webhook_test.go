package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/server/webhooks"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/webhook"
)

// receiver is a webhook receiver on 127.0.0.1: it checks every delivery's
// signature with its app's secret and keeps the events it accepted.
type receiver struct {
	t       *testing.T
	secrets map[string]string // app -> secret
	fail    func(ev webhook.Event) bool

	mu       sync.Mutex
	events   map[string][]webhook.Event // by app, in arrival order
	requests int
	srv      *http.Server
}

func newReceiver(t *testing.T) *receiver {
	return &receiver{t: t, secrets: map[string]string{}, events: map[string][]webhook.Event{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	app := strings.TrimPrefix(r.URL.Path, "/hook/")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if err := webhook.Verify(rc.secrets[app], r.Header.Get(webhook.HeaderSignature), body, 5*time.Minute); err != nil {
		rc.t.Errorf("delivery to %s: %v", app, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.t.Errorf("delivery to %s: body %q: %v", app, body, err)
	}
	if ev.App != app || r.Header.Get(webhook.HeaderEvent) != ev.ID || r.Header.Get(webhook.HeaderDelivery) == "" {
		rc.t.Errorf("delivery to %s: event %+v, headers %v", app, ev, r.Header)
	}
	if rc.fail != nil && rc.fail(ev) {
		http.Error(w, "not now", http.StatusInternalServerError)
		return
	}
	rc.events[app] = append(rc.events[app], ev)
}

// listen serves on addr (a port freed for it).
func (rc *receiver) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		rc.t.Fatalf("receiver: %v", err)
	}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go rc.srv.Serve(ln)
	rc.t.Cleanup(func() { rc.srv.Close() })
}

// got is what app's events say, one "type version channel" line each.
func (rc *receiver) got(app string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, ev := range rc.events[app] {
		var d webhook.Data
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			rc.t.Errorf("data %s: %v", ev.Data, err)
		}
		out = append(out, strings.TrimSpace(ev.Type+" "+d.Version+" "+d.Channel))
	}
	return out
}

// freeAddr is a 127.0.0.1 address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fastHooks delivers to 127.0.0.1 with retries in milliseconds.
func fastHooks(attempts int) servertest.Option {
	return func(c *server.Config, _ *store.Options) {
		c.Webhooks = webhooks.Config{AllowPrivate: true, Backoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
			MaxAttempts: attempts, Timeout: 2 * time.Second}
	}
}

// publish commits bundle version of app (one file) through the store.
func publish(t *testing.T, st *store.Store, app, version string) {
	t.Helper()
	ctx := context.Background()
	b := []byte("<!doctype html>" + app + version)
	if _, err := st.PutObject(ctx, manifest.Sum(b), b); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CommitBundle(ctx, app, version, manifestOf(t, b), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 20 s passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func addHook(t *testing.T, c *client.Client, app, url string) api.CreateWebhookResponse {
	t.Helper()
	h, err := c.CreateWebhook(context.Background(), app, api.CreateWebhookRequest{URL: url,
		Events: []string{webhook.EventBundleUploaded, webhook.EventChannelChanged}})
	if err != nil {
		t.Fatal(err)
	}
	if h.Secret == "" || h.ID == "" {
		t.Fatalf("created hook %+v", h)
	}
	return h
}

// TestWebhooksReceiverDownThenUp: the receiver is down for the first
// deliveries (connection refused, retried with backoff), the server is
// restarted in between (the queue is in the store), more events are
// published, then the receiver comes up: every event arrives exactly once,
// signed, in each app's order.
func TestWebhooksReceiverDownThenUp(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t, fastHooks(1000), func(c *server.Config, _ *store.Options) { c.PatchWait = -1 })
	admin := env.Client(env.AdminKey, false)
	addr := freeAddr(t)
	rc := newReceiver(t)
	apps := []string{"com.example.a", "com.example.b"}
	for _, a := range apps {
		if _, err := env.Store.CreateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		rc.secrets[a] = addHook(t, admin, a, "http://"+addr+"/hook/"+a).Secret
	}
	want := map[string][]string{}
	channel := func(app, name, bundle string, create bool) {
		t.Helper()
		var err error
		if create {
			_, err = env.Store.CreateChannel(ctx, newTestChannelOf(app, name, bundle))
		} else {
			_, err = env.Store.SetChannelBundle(ctx, app, name, bundle)
		}
		if err != nil {
			t.Fatal(err)
		}
		want[app] = append(want[app], webhook.EventChannelChanged+" "+bundle+" "+name)
	}
	bundle := func(app, v string) {
		t.Helper()
		publish(t, env.Store, app, v)
		want[app] = append(want[app], webhook.EventBundleUploaded+" "+v)
	}
	bundle(apps[0], "1.0.0")
	bundle(apps[1], "2.0.0")
	channel(apps[0], "production", "1.0.0", true)
	bundle(apps[0], "1.1.0")
	channel(apps[1], "beta", "2.0.0", true)
	channel(apps[0], "production", "1.1.0", false)

	// Down: the heads are tried again and again, nothing else is sent.
	waitFor(t, "failed attempts while the receiver is down", func() bool {
		ds, err := admin.WebhookDeliveries(ctx, apps[0], "")
		if err != nil {
			t.Fatal(err)
		}
		return ds[0].Attempts >= 3 && ds[1].Attempts == 0
	})
	ds, err := admin.WebhookDeliveries(ctx, apps[0], "")
	if err != nil {
		t.Fatal(err)
	}
	if d := ds[0]; d.Status != api.DeliveryPending || !strings.Contains(d.LastError, "refused") || d.NextAttempt == nil {
		t.Errorf("head while down: %+v", d)
	}

	env.Restart()
	admin = env.Client(env.AdminKey, false)
	bundle(apps[1], "2.1.0")
	bundle(apps[0], "1.2.0")
	if _, err := env.Store.Rollout(ctx, apps[0], "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.2.0", BasisPoints: 1000}); err != nil {
		t.Fatal(err)
	}
	want[apps[0]] = append(want[apps[0]], webhook.EventChannelChanged+" 1.1.0 production")
	rc.listen(addr)
	waitFor(t, "every event delivered", func() bool {
		return len(rc.got(apps[0])) >= len(want[apps[0]]) && len(rc.got(apps[1])) >= len(want[apps[1]])
	})
	time.Sleep(200 * time.Millisecond) // a duplicate would land now
	for _, a := range apps {
		if got := rc.got(a); strings.Join(got, "\n") != strings.Join(want[a], "\n") {
			t.Errorf("%s received\n%s\nwant (once each, in order)\n%s", a, strings.Join(got, "\n"), strings.Join(want[a], "\n"))
		}
		seen := map[string]bool{}
		rc.mu.Lock()
		evs := rc.events[a]
		rc.mu.Unlock()
		for _, ev := range evs {
			if seen[ev.ID] {
				t.Errorf("%s: event %s twice", a, ev.ID)
			}
			seen[ev.ID] = true
		}
		ds, err := admin.WebhookDeliveries(ctx, a, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Status != api.DeliveryDelivered || d.DoneAt == nil || d.NextAttempt != nil {
				t.Errorf("%s: delivery %+v", a, d)
			}
		}
	}
	// What channel events say beyond the bundle: the set, then the rollout.
	rc.mu.Lock()
	var changes []webhook.Data
	for _, ev := range rc.events[apps[0]] {
		var d webhook.Data
		if ev.Type == webhook.EventChannelChanged && json.Unmarshal(ev.Data, &d) == nil {
			changes = append(changes, d)
		}
	}
	rc.mu.Unlock()
	wantChanges := []webhook.Data{
		{Version: "1.0.0", Channel: "production", Action: "create"},
		{Version: "1.1.0", Channel: "production", Action: "set", Previous: "1.0.0"},
		{Version: "1.1.0", Channel: "production", Action: "rollout", Rollout: &webhook.Rollout{Bundle: "1.2.0", BasisPoints: 1000}, Detail: "rollout 1.2.0 at 10%"},
	}
	if g, w := jsonBody(changes), jsonBody(wantChanges); string(g) != string(w) {
		t.Errorf("channel.changed data\n%s\nwant\n%s", g, w)
	}
	total := len(want[apps[0]]) + len(want[apps[1]])
	wantMetrics(t, metricsText(t, env), fmt.Sprintf(`patchwire_webhook_deliveries_total{status="delivered"} %d`, total))
}

func newTestChannelOf(app, name, bundle string) api.Channel {
	c := newTestChannel(name, bundle)
	c.App = app
	return c
}

// TestWebhookGivesUp: a delivery the receiver keeps refusing is marked
// failed after MaxAttempts, with the receiver's answer as its error, and
// the hook's next event goes ahead.
func TestWebhookGivesUp(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t, fastHooks(3))
	admin := env.Client(env.AdminKey, false)
	rc := newReceiver(t)
	rc.fail = func(ev webhook.Event) bool { return strings.Contains(string(ev.Data), `"1.0.0"`) }
	addr := freeAddr(t)
	rc.listen(addr)
	if _, err := env.Store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	h := addHook(t, admin, app, "http://"+addr+"/hook/"+app)
	rc.secrets[app] = h.Secret
	publish(t, env.Store, app, "1.0.0")
	publish(t, env.Store, app, "1.1.0")
	waitFor(t, "the second event", func() bool { return len(rc.got(app)) == 1 })
	// The receiver has the event before the server records its answer and
	// counts it.
	var ds []api.WebhookDelivery
	waitFor(t, "the second delivery's record and count", func() bool {
		var err error
		ds, err = admin.WebhookDeliveries(ctx, app, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		counted := strings.Contains(metricsText(t, env), `patchwire_webhook_deliveries_total{status="delivered"} 1`+"\n")
		return len(ds) == 2 && ds[1].Status != api.DeliveryPending && counted
	})
	if len(ds) != 2 || ds[0].Status != api.DeliveryFailed || ds[0].Attempts != 3 || !strings.Contains(ds[0].LastError, "500") ||
		ds[1].Status != api.DeliveryDelivered || ds[1].Attempts != 1 {
		t.Errorf("deliveries %+v", ds)
	}
	if got := rc.got(app); len(got) != 1 || got[0] != webhook.EventBundleUploaded+" 1.1.0" {
		t.Errorf("received %v", got)
	}
	wantMetrics(t, metricsText(t, env), `patchwire_webhook_deliveries_total{status="failed"} 1`,
		`patchwire_webhook_deliveries_total{status="retry"} 2`, `patchwire_webhook_deliveries_total{status="delivered"} 1`)

	// The receiver is fixed; the failed delivery is sent again on request,
	// signed afresh, and arrives.
	rc.mu.Lock()
	rc.fail = nil
	rc.mu.Unlock()
	var ae *client.APIError
	if _, err := admin.RedeliverWebhook(ctx, app, ds[1].ID+"x"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("redeliver an unknown delivery: %v, want 404", err)
	}
	d, err := admin.RedeliverWebhook(ctx, app, ds[0].ID)
	if err != nil || d.Status != api.DeliveryPending || d.Attempts != 0 {
		t.Fatalf("redeliver: %+v, %v", d, err)
	}
	waitFor(t, "the redelivered event", func() bool { return len(rc.got(app)) == 2 })
	if got := rc.got(app); got[1] != webhook.EventBundleUploaded+" 1.0.0" {
		t.Errorf("received %v, want 1.0.0 again last", got)
	}
	waitFor(t, "the redelivery recorded", func() bool {
		ds, err := admin.WebhookDeliveries(ctx, app, h.ID)
		return err == nil && ds[0].Status == api.DeliveryDelivered && ds[0].Attempts == 1
	})
	if _, err := admin.RedeliverWebhook(ctx, app, ds[0].ID); err != nil {
		t.Errorf("redeliver a delivered one: %v", err)
	}
	if err := admin.DeleteWebhook(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if hooks, err := admin.ListWebhooks(ctx, app); err != nil || len(hooks) != 0 {
		t.Errorf("after remove: %v, %v", hooks, err)
	}
	if err := admin.DeleteWebhook(ctx, h.ID); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("second remove: %v", err)
	}
}

// TestWebhookPrivateRefused: without --webhook-allow-private, a hook URL on
// a loopback, private or link-local host is refused at add time with a
// clear error, nothing stored; and a hook whose host turns internal later
// (as DNS rebinding would make it) is refused at dial time, the receiver
// never reached.
func TestWebhookPrivateRefused(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t, func(c *server.Config, _ *store.Options) {
		c.Webhooks = webhooks.Config{Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxAttempts: 2}
	})
	if _, err := env.Store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t)
	addr := freeAddr(t)
	rc.listen(addr)
	body := func(url string, events ...string) []byte {
		if events == nil {
			events = []string{webhook.EventBundleUploaded}
		}
		return jsonBody(api.CreateWebhookRequest{URL: url, Events: events})
	}
	tests := []struct {
		name, url string
		events    []string
		code      string
		msg       string
	}{
		{"loopback", "http://" + addr + "/hook", nil, api.CodeWebhookURLRefused, "127.0.0.1 is a loopback address"},
		{"localhost", "http://localhost:1/hook", nil, api.CodeWebhookURLRefused, "loopback address"},
		{"private", "https://10.1.2.3/hook", nil, api.CodeWebhookURLRefused, "private address"},
		{"link-local (metadata)", "http://169.254.169.254/latest", nil, api.CodeWebhookURLRefused, "link-local address"},
		{"IPv6 loopback", "http://[::1]:8080/", nil, api.CodeWebhookURLRefused, "loopback"},
		{"mapped IPv4", "http://[::ffff:127.0.0.1]/", nil, api.CodeWebhookURLRefused, "loopback"},
		{"unspecified", "http://0.0.0.0/", nil, api.CodeWebhookURLRefused, "unspecified"},
		{"ftp", "ftp://example.com/", nil, api.CodeInvalidWebhook, "http:// or https://"},
		{"unknown event", "https://192.0.2.1/", []string{"bundle.exploded"}, api.CodeInvalidWebhook, "unknown event type"},
	}
	before := state(t, env)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, e := call(t, env, http.MethodPost, pathOf("POST "+api.PathWebhooks, appParams()), env.AdminKey, "application/json", body(tc.url, tc.events...))
			if status != http.StatusBadRequest || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("%d %s %q, want 400 %s naming %q", status, e.Code, e.Message, tc.code, tc.msg)
			}
			if e.Code == api.CodeWebhookURLRefused && !strings.Contains(e.Message, "--webhook-allow-private") {
				t.Errorf("message %q does not say how to allow it", e.Message)
			}
		})
	}
	if after := state(t, env); after != before {
		t.Errorf("refused hooks changed the store")
	}

	// Rebinding: the add-time check passed (the store is written directly
	// here), the address dialled is loopback.
	h, secret, err := env.Store.CreateWebhook(ctx, app, "http://"+addr+"/hook/"+app, []string{webhook.EventBundleUploaded})
	if err != nil {
		t.Fatal(err)
	}
	rc.secrets[app] = secret
	publish(t, env.Store, app, "1.0.0")
	admin := env.Client(env.AdminKey, false)
	waitFor(t, "the delivery to fail", func() bool {
		ds, err := admin.WebhookDeliveries(ctx, app, h.ID)
		return err == nil && len(ds) == 1 && ds[0].Status == api.DeliveryFailed
	})
	ds, _ := admin.WebhookDeliveries(ctx, app, h.ID)
	if !strings.Contains(ds[0].LastError, "refused address") || !strings.Contains(ds[0].LastError, "loopback") {
		t.Errorf("last error %q", ds[0].LastError)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.requests != 0 {
		t.Errorf("the receiver got %d requests", rc.requests)
	}
}

// TestWebhookHangingReceiverDoesNotSlowPublishes: a receiver that takes
// every request and never answers holds one delivery for the attempt's
// timeout, while uploads and channel changes through the API go on at
// their own pace (the worker is off the request path).
func TestWebhookHangingReceiverDoesNotSlowPublishes(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t, func(c *server.Config, _ *store.Options) {
		c.PatchWait = -1
		c.Webhooks = webhooks.Config{AllowPrivate: true, Timeout: time.Minute}
	})
	admin := env.Client(env.AdminKey, false)
	release := make(chan struct{})
	hung := make(chan struct{}, 100)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	go hs.Serve(ln)
	defer hs.Close()
	defer close(release)
	if _, err := env.Store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	addHook(t, admin, app, "http://"+ln.Addr().String()+"/hook")
	publish(t, env.Store, app, "1.0.0")
	<-hung // the first delivery is stuck in the receiver
	start := time.Now()
	if _, err := admin.CreateChannel(ctx, app, api.CreateChannelRequest{Name: "production"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		v := fmt.Sprintf("1.0.%d", i)
		publish(t, env.Store, app, v)
		if _, err := admin.SetChannelBundle(ctx, app, "production", v); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("11 publishes took %s behind a hanging receiver", d)
	}
	ds, err := admin.WebhookDeliveries(ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 12 {
		t.Errorf("%d deliveries queued, want 12", len(ds))
	}
	if len(hung) != 0 {
		t.Errorf("%d more deliveries sent while the first hangs, want none (order)", len(hung))
	}
}
