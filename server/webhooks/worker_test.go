package webhooks_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/webhooks"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/webhook"
)

// TestUnrecordedAttemptsBackOff: when the store cannot record an attempt
// (here: it is read-only), the delivery stays due in the queue, and the
// worker still waits its backoff before sending it again instead of
// hammering the receiver.
func TestUnrecordedAttemptsBackOff(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(store.Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer rc.Close()
	const app = "com.example.hooks"
	if _, err := st.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateWebhook(ctx, app, rc.URL+"/hook", []string{webhook.EventBundleUploaded}); err != nil {
		t.Fatal(err)
	}
	b := []byte("<!doctype html>")
	if _, err := st.PutObject(ctx, manifest.Sum(b), b); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.New([]manifest.Entry{{Path: "index.html", Digest: manifest.Sum(b), Size: int64(len(b))}}, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CommitBundle(ctx, app, "1.0.0", m, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := store.Open(store.Options{Dir: dir, GCInterval: -1, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	w := webhooks.New(ro, webhooks.Config{AllowPrivate: true, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second},
		slog.New(slog.DiscardHandler), nil)
	w.Start()
	time.Sleep(time.Second)
	w.Close()
	// Sent at 0, then after 100, 200, 400 ms (at most once more by 1 s).
	if n := hits.Load(); n < 1 || n > 5 {
		t.Errorf("the receiver got %d requests in a second, want 1..5 (backing off)", n)
	}
}
