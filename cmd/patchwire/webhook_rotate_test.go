package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/webhook"
)

// TestWebhookCLIRotateSecret: `webhook rotate-secret ID` prints the new
// secret once and says when the old one stops; `webhook list` shows that
// time; the next delivery verifies with either secret; with
// --expire-previous-in 0 the old one stops at once. Bad input fails
// naming the problem and changes nothing.
func TestWebhookCLIRotateSecret(t *testing.T) {
	env := servertest.Start(t, func(c *server.Config, _ *store.Options) { c.Webhooks.AllowPrivate = true })
	c := newCLI(t, env)
	const app = "com.example.hooks"
	c.must("app", "add", app)
	var mu sync.Mutex
	var got []signed
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, signed{r.Header.Get(webhook.HeaderSignature), body})
		mu.Unlock()
	}))
	defer rc.Close()
	nth := func(n int) signed {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			if len(got) >= n {
				defer mu.Unlock()
				return got[n-1]
			}
			mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatalf("delivery %d never arrived", n)
			}
		}
	}
	old := strings.TrimSpace(c.must("webhook", "add", "--app", app, "--url", rc.URL+"/hook", "--events", "bundle.uploaded"))
	list := c.must("webhook", "list", "--app", app)
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	if !strings.Contains(list, "PREVIOUS SECRET EXPIRES") || !strings.HasSuffix(strings.TrimSpace(list), "-") {
		t.Errorf("webhook list before a rotation:\n%s", list)
	}

	out, errOut, err := c.run("webhook", "rotate-secret", id, "--expire-previous-in", "2h")
	if err != nil {
		t.Fatal(err)
	}
	cur := strings.TrimSpace(out)
	if !strings.HasPrefix(cur, "whsec_") || cur == old || !strings.Contains(errOut, "shown only once") || !strings.Contains(errOut, "in 2h0m0s") {
		t.Fatalf("rotate-secret printed %q, %q", out, errOut)
	}
	list = c.must("webhook", "list", "--app", app)
	if strings.Contains(list, cur) || strings.Contains(list, old) || strings.HasSuffix(strings.TrimSpace(list), "-") {
		t.Errorf("webhook list after a rotation (want the expiry, no secret):\n%s", list)
	}
	c.must("bundle", "upload", writeBundle(t, map[string][]byte{"index.html": []byte("<h1>1</h1>")}), "--app", app, "--version", "1.0.0")
	d := nth(1)
	for _, s := range []string{old, cur} {
		if err := webhook.Verify(s, d.header, d.body, 5*time.Minute); err != nil {
			t.Errorf("delivery during the overlap, secret %.12s…: %v", s, err)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{id, "--expire-previous-in", "8d"}, "expire_previous_in"},
		{[]string{id, "--expire-previous-in", "200h"}, "168h"},
		{[]string{id, "--expire-previous-in", "-1m"}, "expire_previous_in"},
		{[]string{"wh_0000000000000000"}, "no webhook"},
		{nil, "WEBHOOK_ID"},
	} {
		if _, _, err := c.run(append([]string{"webhook", "rotate-secret"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rotate-secret %v: %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
	if after := c.must("webhook", "list", "--app", app); after != list {
		t.Errorf("refused rotations changed the list:\n%s\nwas\n%s", after, list)
	}

	out, errOut, err = c.run("webhook", "rotate-secret", id, "--expire-previous-in", "0")
	if err != nil || !strings.Contains(errOut, "at once") {
		t.Fatalf("rotate-secret at once: %v, %q", err, errOut)
	}
	last := strings.TrimSpace(out)
	c.must("bundle", "upload", writeBundle(t, map[string][]byte{"index.html": []byte("<h1>2</h1>")}), "--app", app, "--version", "1.1.0")
	d = nth(2)
	if err := webhook.Verify(last, d.header, d.body, 5*time.Minute); err != nil {
		t.Errorf("delivery after rotating at once, new secret: %v", err)
	}
	if err := webhook.Verify(cur, d.header, d.body, 5*time.Minute); err == nil {
		t.Errorf("delivery after rotating at once verifies with the secret before")
	}
}

// signed is a delivery as the receiver got it.
type signed struct {
	header string
	body   []byte
}
