package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/webhook"
)

// TestWebhookCLIKilledAfterCommit drives `patchwire webhook` against a
// `patchwire serve` process started with --webhook-allow-private and a
// short --webhook-backoff: the hook's secret is printed once; a bundle is
// uploaded while the receiver is down and the server is SIGKILLed right
// after the upload is acknowledged; after a restart the receiver comes up
// and gets that event exactly once, signed with the printed secret.
func TestWebhookCLIKilledAfterCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	flags := []string{"--webhook-allow-private", "--webhook-backoff", "20ms", "--webhook-max-backoff", "100ms"}
	srv := startServer(t, bin, data, flags...)
	defer func() { srv.kill() }()
	key, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, env: map[string]string{
		"PATCHWIRE_CONFIG":  filepath.Join(t.TempDir(), "config.json"),
		"PATCHWIRE_SERVER":  srv.url,
		"PATCHWIRE_API_KEY": strings.TrimSpace(string(key)),
		"PATCHWIRE_CA":      filepath.Join(data, "tls-cert.pem"),
	}}
	const app = "com.example.hooks"
	c.must("app", "add", app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down until later
	secret := strings.TrimSpace(c.must("webhook", "add", "--app", app, "--url", "http://"+addr+"/hook", "--events", "bundle.uploaded,channel.changed"))
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("webhook add printed %q, want the secret", secret)
	}
	list := c.must("webhook", "list", "--app", app)
	if !strings.Contains(list, "bundle.uploaded,channel.changed") || !strings.Contains(list, addr) || strings.Contains(list, secret) {
		t.Errorf("webhook list:\n%s", list)
	}
	c.must("bundle", "upload", writeBundle(t, map[string][]byte{"index.html": []byte("<h1>1</h1>")}), "--app", app, "--version", "1.0.0")
	srv.kill()

	srv = startServer(t, bin, data, flags...)
	c.env["PATCHWIRE_SERVER"] = srv.url
	var mu sync.Mutex
	var got []webhook.Event
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A receiver's signature check.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, 5*time.Minute); err != nil {
			t.Errorf("delivery: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	})}
	go hs.Serve(ln)
	defer hs.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event committed before the kill never arrived")
		}
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	if len(got) != 1 || got[0].Type != webhook.EventBundleUploaded || got[0].App != app || !strings.Contains(string(got[0].Data), `"1.0.0"`) {
		t.Errorf("received %+v", got)
	}
	mu.Unlock()
	out := c.must("webhook", "deliveries", "--app", app)
	if !strings.Contains(out, "bundle.uploaded") || !strings.Contains(out, "delivered") {
		t.Errorf("webhook deliveries:\n%s", out)
	}
	// Sent again on request: the receiver gets the same event a second time.
	delivery := strings.Fields(strings.Split(out, "\n")[1])[0]
	if out := c.must("webhook", "redeliver", "--app", app, delivery); !strings.Contains(out, "queued again") {
		t.Errorf("webhook redeliver: %s", out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	if len(got) != 2 || got[1].ID != got[0].ID {
		t.Errorf("after the redelivery the receiver has %+v, want the same event twice", got)
	}
	mu.Unlock()
	if _, _, err := c.run("webhook", "redeliver", "--app", app, "wd_nosuch"); err == nil || !strings.Contains(err.Error(), "no webhook delivery") {
		t.Errorf("redeliver of an unknown delivery: %v", err)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	c.must("webhook", "remove", id)
	if _, _, err := c.run("webhook", "remove", id); err == nil || !strings.Contains(err.Error(), "no webhook") {
		t.Errorf("second remove: %v", err)
	}
}

// TestWebhookCLIRefusesLoopback: without --webhook-allow-private, `webhook
// add` of a 127.0.0.1 URL fails naming the address and the flag; a typo in
// --events names the known types.
func TestWebhookCLIRefusesLoopback(t *testing.T) {
	c := newCLI(t, servertest.Start(t))
	const app = "com.example.hooks"
	c.must("app", "add", app)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--url", "http://127.0.0.1:8080/hook", "--events", "bundle.uploaded"}, []string{"127.0.0.1 is a loopback address", "--webhook-allow-private"}},
		{[]string{"--url", "https://192.0.2.10/hook", "--events", "bundle.upload"}, []string{"bundle.upload", "bundle.uploaded", "channel.changed"}},
		{[]string{"--url", "https://192.0.2.10/hook"}, []string{"--events"}},
	}
	for _, tc := range tests {
		_, _, err := c.run(append([]string{"webhook", "add", "--app", app}, tc.args...)...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("webhook add %v: %v, want an error naming %q", tc.args, err, w)
			}
		}
	}
	if out := c.must("webhook", "list", "--app", app, "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("refused hooks were stored: %s", out)
	}
}

// TestServeWebhookFlags: webhook retry flags that make no schedule are
// refused naming them, before anything starts.
func TestServeWebhookFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--webhook-backoff", "0s"}, nil},
		{[]string{"--webhook-backoff", "1m", "--webhook-max-backoff", "1s"}, nil},
		{[]string{"--webhook-attempts", "0"}, nil},
		{nil, map[string]string{"PATCHWIRE_WEBHOOK_TIMEOUT": "-1s"}},
	} {
		var out, errOut bytes.Buffer
		e := &cliEnv{stdout: &out, stderr: &errOut, getenv: func(k string) string { return tc.env[k] }}
		args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)
		err := run(context.Background(), e, args)
		if err == nil || !strings.Contains(err.Error(), "--webhook-backoff") || !strings.Contains(err.Error(), "--webhook-attempts") {
			t.Errorf("%v %v: %v, want an error naming the webhook flags", tc.args, tc.env, err)
		}
	}
}
