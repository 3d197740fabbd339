package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/webhook"
)

// signedDelivery is one delivery as a receiver got it.
type signedDelivery struct {
	header string
	body   []byte
}

// recorder is a receiver on 127.0.0.1 that keeps every delivery as sent
// and answers 200, so a test can ask which secrets verify each one.
type recorder struct {
	mu  sync.Mutex
	got []signedDelivery
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, signedDelivery{r.Header.Get(webhook.HeaderSignature), body})
	rc.mu.Unlock()
}

// nth waits for the n-th delivery (from 1) and returns it.
func (rc *recorder) nth(t *testing.T, n int) signedDelivery {
	t.Helper()
	waitFor(t, "delivery", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.got) >= n
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.got[n-1]
}

// testClock is a controllable store clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestWebhookRotateSecret: after POST /webhooks/ID/rotate-secret a
// receiver holding the old secret keeps verifying deliveries until the
// previous secret expires (store clock), one holding the new secret
// verifies from the rotation on, and after the expiry only the new one
// does; the hook list says when the previous secret stops. Bad requests
// are JSON errors that change nothing stored.
func TestWebhookRotateSecret(t *testing.T) {
	// The store's clock runs two days behind: the worker compares the
	// queue's times with the real clock, so advancing the store's a day
	// must keep new deliveries due at once.
	clk := &testClock{t: time.Now().UTC().Add(-48 * time.Hour)}
	env := servertest.Start(t, fastHooks(1000), func(_ *server.Config, o *store.Options) { o.Now = clk.Now })
	ctx := context.Background()
	const app = "com.example.rotate"
	if _, err := env.Store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	admin := env.Client(env.AdminKey, false)
	hook := addHook(t, admin, app, srv.URL+"/hook")
	old := hook.Secret
	verifies := func(t *testing.T, d signedDelivery, secret string) bool {
		t.Helper()
		return webhook.Verify(secret, d.header, d.body, 5*time.Minute) == nil
	}
	expect := func(t *testing.T, n int, valid []string, invalid []string) {
		t.Helper()
		d := rc.nth(t, n)
		if got := strings.Count(d.header, "v1="); got != len(valid) {
			t.Errorf("delivery %d: %d v1 signatures in %q, want %d", n, got, d.header, len(valid))
		}
		for _, s := range valid {
			if !verifies(t, d, s) {
				t.Errorf("delivery %d does not verify with %.12s…", n, s)
			}
		}
		for _, s := range invalid {
			if verifies(t, d, s) {
				t.Errorf("delivery %d verifies with %.12s…, which it should not", n, s)
			}
		}
	}

	publish(t, env.Store, app, "1.0.0")
	expect(t, 1, []string{old}, nil)

	rot, err := admin.RotateWebhookSecret(ctx, hook.ID, api.RotateWebhookSecretRequest{}) // default 24h
	if err != nil {
		t.Fatal(err)
	}
	cur := rot.Secret
	if cur == "" || cur == old || rot.ID != hook.ID || rot.PreviousSecretExpires == nil ||
		!rot.PreviousSecretExpires.Equal(clk.Now().Add(api.DefaultExpirePrevious).Round(time.Microsecond)) {
		t.Fatalf("rotation answered %+v", rot)
	}
	list, err := admin.ListWebhooks(ctx, app)
	if err != nil || len(list) != 1 || list[0].PreviousSecretExpires == nil || !list[0].PreviousSecretExpires.Equal(*rot.PreviousSecretExpires) {
		t.Fatalf("list after rotation: %+v, %v", list, err)
	}
	publish(t, env.Store, app, "1.1.0")
	expect(t, 2, []string{cur, old}, nil) // either receiver accepts during the overlap

	clk.Advance(api.DefaultExpirePrevious - time.Minute)
	publish(t, env.Store, app, "1.2.0")
	expect(t, 3, []string{cur, old}, nil)

	clk.Advance(time.Minute)
	publish(t, env.Store, app, "1.3.0")
	expect(t, 4, []string{cur}, []string{old}) // expired: only the new one
	if list, err := admin.ListWebhooks(ctx, app); err != nil || len(list) != 1 || list[0].PreviousSecretExpires != nil {
		t.Errorf("list after the expiry: %+v, %v", list, err)
	}

	// At once: the previous secret stops signing with the rotation.
	rot, err = admin.RotateWebhookSecret(ctx, hook.ID, api.RotateWebhookSecretRequest{ExpirePreviousIn: "0"})
	if err != nil || rot.PreviousSecretExpires != nil {
		t.Fatalf("rotation at once: %+v, %v", rot, err)
	}
	publish(t, env.Store, app, "1.4.0")
	expect(t, 5, []string{rot.Secret}, []string{cur, old})
	cur = rot.Secret

	// Bad input: a JSON error, nothing stored changes, and the next
	// delivery is signed as before.
	up, err := admin.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeWrite, Apps: []string{app}})
	if err != nil {
		t.Fatal(err)
	}
	path := strings.Replace(api.PathWebhookRotateSecret, "{id}", hook.ID, 1)
	resume := server.PauseWebhooks(env.Server)
	for _, tc := range []struct {
		name, path, key, body string
		status                int
		code                  string
	}{
		{"unknown hook", strings.Replace(api.PathWebhookRotateSecret, "{id}", "wh_0000000000000000", 1), env.AdminKey, `{}`, 404, api.CodeNotFound},
		{"negative expiry", path, env.AdminKey, `{"expire_previous_in":"-1h"}`, 400, api.CodeBadRequest},
		{"expiry over 7 days", path, env.AdminKey, `{"expire_previous_in":"169h"}`, 400, api.CodeBadRequest},
		{"not a duration", path, env.AdminKey, `{"expire_previous_in":"tomorrow"}`, 400, api.CodeBadRequest},
		{"unknown member", path, env.AdminKey, `{"expire":"1h"}`, 400, api.CodeBadRequest},
		{"write key", path, up.Secret, `{}`, 403, api.CodeForbidden},
		{"no key", path, "", `{}`, 401, api.CodeUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t, env)
			status, e := call(t, env, http.MethodPost, tc.path, tc.key, "", []byte(tc.body))
			if status != tc.status || e.Code != tc.code {
				t.Errorf("%d %+v, want %d %s", status, e, tc.status, tc.code)
			}
			if after := state(t, env); after != before {
				t.Errorf("refused rotation changed the store: %s -> %s", before, after)
			}
		})
	}
	resume()
	publish(t, env.Store, app, "1.5.0")
	expect(t, 6, []string{cur}, []string{old})

	// No body at all: the default expiry.
	req, err := http.NewRequest(http.MethodPost, env.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.AdminKey)
	resp, err := env.HTTPSClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var bare api.RotateWebhookSecretResponse
	err = json.NewDecoder(resp.Body).Decode(&bare)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || bare.Secret == "" || bare.PreviousSecretExpires == nil ||
		!bare.PreviousSecretExpires.Equal(clk.Now().Add(api.DefaultExpirePrevious).Round(time.Microsecond)) {
		t.Fatalf("rotation without a body: %d %+v, %v", resp.StatusCode, bare, err)
	}
	publish(t, env.Store, app, "1.6.0")
	expect(t, 7, []string{bare.Secret, cur}, []string{old})
}
