package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/webhook"
)

// TestBrowserWebhooks: an administrator adds a webhook in the console and
// is shown its secret once; a bundle uploaded from CI reaches the receiver
// signed with that secret, the page's delivery log says delivered; Rotate
// secret shows a new secret once and the hook's row when the old one
// stops, and the next delivery verifies with either; the hook is removed
// from the page. A read key sees no Webhooks tab.
func TestBrowserWebhooks(t *testing.T) {
	chromium(t)
	// delivery is one request the receiver got.
	type delivery struct {
		event  webhook.Event
		data   webhook.Data
		raw    []byte
		header string
	}
	var mu sync.Mutex
	var got []delivery
	var bad []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		d := delivery{raw: body, header: r.Header.Get(webhook.HeaderSignature)}
		if err := json.Unmarshal(body, &d.event); err != nil {
			bad = append(bad, err.Error())
		} else if err := json.Unmarshal(d.event.Data, &d.data); err != nil {
			bad = append(bad, err.Error())
		}
		got = append(got, d)
	}))
	defer recv.Close()
	// waitDeliveries waits (up to 20 s) for the receiver to hold n requests.
	waitDeliveries := func(n int) {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			have := len(got)
			mu.Unlock()
			if have >= n {
				return
			}
		}
	}
	env := servertest.Start(t, func(c *server.Config, _ *store.Options) {
		c.PatchWait = -1
		c.Webhooks.AllowPrivate, c.Webhooks.Backoff = true, 50*time.Millisecond
	})
	c := env.Client(env.AdminKey, false)
	t.Cleanup(c.Close)
	ctx := context.Background()
	if _, err := c.CreateApp(ctx, browserApp); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, env)
	b.signIn(env.AdminKey)
	b.open("/apps/"+browserApp+"/webhooks", "#add-hook-form")

	// The form offers every event type the server knows.
	offered, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="hook-event"]')].map((e) => e.value)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := store.WebhookEventTypes(); !slices.Equal(offered, want) {
		t.Errorf("the form offers %v, the server knows %v", offered, want)
	}
	b.run("add hook", chromedp.SendKeys(chromedp.ID("hook-url"), recv.URL+"/hook"), chromedp.Click(chromedp.ID("add-hook")),
		chromedp.WaitVisible(chromedp.ID("hook-secret")))
	secret, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("hook-secret").textContent`))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown %q, %v", secret, err)
	}
	b.shot("w1-webhook-added")

	// CI uploads; the receiver gets the event, signed with that secret.
	upload(t, c, "1.0.0")
	waitDeliveries(1)
	mu.Lock()
	events, problems := slices.Clone(got), slices.Clone(bad)
	mu.Unlock()
	if len(events) != 1 || len(problems) != 0 || events[0].event.Type != webhook.EventBundleUploaded || events[0].data.Version != "1.0.0" {
		t.Fatalf("receiver got %+v (%v), want one bundle.uploaded of 1.0.0", events, problems)
	}
	if err := webhook.Verify(secret, events[0].header, events[0].raw, time.Minute); err != nil {
		t.Errorf("delivery does not verify with the secret the page showed: %v", err)
	}

	// The delivery log says delivered; the page no longer shows the secret.
	b.open("/apps/"+browserApp+"/bundles", `[data-testid="tab-webhooks"]`)
	b.run("webhooks tab", chromedp.Click(chromedp.CSS(`[data-testid="tab-webhooks"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="webhook-deliveries"]`)))
	b.waitFor("delivered", `document.querySelector('tr[data-status="delivered"]')?.textContent.includes("bundle.uploaded")`)
	b.waitFor("secret gone", `document.getElementById("hook-secret") === null`)
	b.shot("w2-webhook-delivered")
	b.clickLive("redeliver", `[data-testid="redeliver"]`, "")
	waitDeliveries(2)
	mu.Lock()
	if len(got) != 2 || got[1].event.ID != got[0].event.ID {
		t.Errorf("after Redeliver the receiver got %d deliveries, want the event twice", len(got))
	}
	mu.Unlock()

	// Rotate secret: a new secret shown once, the old one signing beside it.
	b.clickLive("rotate secret", `[data-testid="rotate-secret"]`, "")
	b.waitFor("new secret", `document.getElementById("hook-secret")?.textContent.startsWith("whsec_") && document.getElementById("hook-secret").textContent !== `+"`"+secret+"`")
	rotated, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("hook-secret").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	b.waitFor("previous expiry shown", `document.querySelector('[data-testid="previous-expires"]')?.textContent !== ""`)
	b.shot("w3-webhook-secret-rotated")
	upload(t, c, "1.1.0")
	waitDeliveries(3)
	mu.Lock()
	if len(got) != 3 {
		t.Fatalf("after the rotation the receiver got %d deliveries, want 3", len(got))
	}
	for _, s := range []string{secret, rotated} {
		if err := webhook.Verify(s, got[2].header, got[2].raw, time.Minute); err != nil {
			t.Errorf("delivery after the rotation, secret %.12s…: %v", s, err)
		}
	}
	mu.Unlock()
	if hooks, err := c.ListWebhooks(ctx, browserApp); err != nil || len(hooks) != 1 || hooks[0].PreviousSecretExpires == nil ||
		time.Until(*hooks[0].PreviousSecretExpires) < 23*time.Hour || time.Until(*hooks[0].PreviousSecretExpires) > 25*time.Hour {
		t.Errorf("after the default rotation the previous secret expires %+v, want in 24 h (%v)", hooks, err)
	}

	// Rotate again, the old secret stopping at once: only the newest signs.
	b.clickLive("rotate at once", `[data-testid="rotate-secret"]`, `document.querySelector('[data-testid="rotate-overlap"]').value = "0"`)
	b.waitFor("newest secret", `document.getElementById("hook-secret")?.textContent.startsWith("whsec_") && document.getElementById("hook-secret").textContent !== `+"`"+rotated+"`")
	newest, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("hook-secret").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	b.waitFor("no previous expiry", `document.querySelector('[data-testid="previous-expires"]')?.textContent === ""`)
	upload(t, c, "1.2.0")
	waitDeliveries(4)
	mu.Lock()
	if err := webhook.Verify(newest, got[3].header, got[3].raw, time.Minute); err != nil {
		t.Errorf("delivery after the rotation at once, newest secret: %v", err)
	}
	if err := webhook.Verify(rotated, got[3].header, got[3].raw, time.Minute); err == nil {
		t.Error("the secret rotated out at once still signs deliveries")
	}
	mu.Unlock()
	b.run("remove hook", chromedp.Click(chromedp.CSS(`[data-testid="remove-hook"]`)))
	b.waitFor("hook removed", `document.querySelectorAll('tr[data-hook]').length === 0`)
	if hooks, err := c.ListWebhooks(ctx, browserApp); err != nil || len(hooks) != 0 {
		t.Errorf("hooks after the page removed it: %v, %v", hooks, err)
	}
	if p := b.pageProblems(); len(p) > 0 {
		t.Errorf("the page reported problems: %v", p)
	}

	// A read key: no Webhooks tab.
	read, err := c.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeRead, Name: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	r := newBrowser(t, env)
	r.signIn(read.Secret)
	r.open("/apps/"+browserApp+"/bundles", `[data-testid="tab-bundles"]`)
	if tabs, err := chromedp.Run(r.ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="tab-webhooks"]').length`)); err != nil || tabs != 0 {
		t.Errorf("a read key sees %d Webhooks tabs (%v)", tabs, err)
	}
}
