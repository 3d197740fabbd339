package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/webhook"
)

// TestRotateWebhookSecret: a rotation makes a new secret that signs at
// once; the one it replaces signs beside it until its expiry (then only
// the new one), a second rotation drops the one before, 0 drops it at
// once, and the hook list says when a previous secret stops.
func TestRotateWebhookSecret(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	const app = "com.example.hooks"
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	h, s0, err := s.CreateWebhook(ctx, app, "https://hooks.example.com/a", []string{webhook.EventBundleUploaded})
	if err != nil {
		t.Fatal(err)
	}
	putFiles(t, s, someFiles(1, "1.0.0")...)
	if _, err := s.CommitBundle(ctx, app, "1.0.0", manifestOf(t, someFiles(1, "1.0.0")...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	signing := func(t *testing.T, want ...string) {
		t.Helper()
		q, err := s.WebhookQueue(ctx)
		if err != nil || len(q) != 1 {
			t.Fatalf("queue %v, %v", q, err)
		}
		if !slices.Equal(q[0].Secrets, want) {
			t.Errorf("signed with %q, want %q", q[0].Secrets, want)
		}
	}
	listed := func(t *testing.T, want *time.Time) {
		t.Helper()
		l, err := s.ListWebhooks(ctx, app)
		if err != nil || len(l) != 1 {
			t.Fatalf("list %v, %v", l, err)
		}
		if got := l[0].PreviousSecretExpires; (got == nil) != (want == nil) || (got != nil && !got.Equal(*want)) {
			t.Errorf("previous secret expires %v, want %v", got, want)
		}
	}
	signing(t, s0)
	listed(t, nil)

	hk, s1, err := s.RotateWebhookSecret(ctx, h.ID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	exp := clk.Now().Add(24 * time.Hour)
	if s1 == s0 || len(s1) != len(s0) || hk.ID != h.ID || hk.PreviousSecretExpires == nil || !hk.PreviousSecretExpires.Equal(exp) {
		t.Fatalf("rotated: %+v secret %q (was %q)", hk, s1, s0)
	}
	signing(t, s1, s0)
	listed(t, &exp)
	clk.Advance(23 * time.Hour)
	signing(t, s1, s0)

	_, s2, err := s.RotateWebhookSecret(ctx, h.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	exp = clk.Now().Add(time.Hour)
	signing(t, s2, s1) // s0 dropped: at most two
	listed(t, &exp)
	clk.Advance(time.Hour)
	signing(t, s2)
	listed(t, nil)

	hk, s3, err := s.RotateWebhookSecret(ctx, h.ID, 0)
	if err != nil || hk.PreviousSecretExpires != nil {
		t.Fatalf("rotate at once: %+v, %v", hk, err)
	}
	signing(t, s3)

	before := allKeys(t, s)
	for _, tc := range []struct {
		name string
		id   string
		d    time.Duration
		want error
	}{
		{"unknown hook", "wh_0000000000000000", time.Hour, ErrNotFound},
		{"negative", h.ID, -time.Second, ErrInvalid},
		{"longer than the most", h.ID, api.MaxExpirePrevious + time.Second, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := s.RotateWebhookSecret(ctx, tc.id, tc.d); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			signing(t, s3)
		})
	}
	if after := allKeys(t, s); !slices.Equal(before, after) {
		t.Errorf("refused rotations changed the store's keys")
	}
	if _, _, err := s.RotateWebhookSecret(ctx, h.ID, api.MaxExpirePrevious); err != nil {
		t.Errorf("rotate with the longest expiry: %v", err)
	}
}
