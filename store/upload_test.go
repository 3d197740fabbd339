package store

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
)

func TestUploads(t *testing.T) {
	opts, c := testOptions(t)
	opts.UploadTTL = 2 * time.Hour
	s := openStore(t, opts)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(3, "up")
	m := manifestOf(t, fs...)
	meta := api.BundleMeta{Comment: "from CI"}

	u, err := s.CreateUpload(ctx, "app", "1.0.0", m, meta)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(u.ID) {
		t.Errorf("upload id %q is not 32 hex characters", u.ID)
	}
	if !u.ExpiresAt.Equal(u.CreatedAt.Add(2 * time.Hour)) {
		t.Errorf("ExpiresAt = %v; want CreatedAt + 2h", u.ExpiresAt)
	}
	got, err := s.GetUpload(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.App != "app" || got.Version != "1.0.0" || got.Meta != meta ||
		!got.CreatedAt.Equal(u.CreatedAt) || !got.ExpiresAt.Equal(u.ExpiresAt) ||
		!slices.Equal(got.Manifest.Encode(), m.Encode()) {
		t.Errorf("GetUpload = %+v; want %+v", got, u)
	}

	if _, err := s.CreateUpload(ctx, "nope", "1.0.0", m, meta); !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateUpload(unknown app) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetUpload(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUpload(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetUpload(ctx, "../x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUpload(malformed) = %v; want ErrNotFound", err)
	}

	// The whole flow: missing objects, put them, commit, end the session.
	missing, err := s.MissingObjects(ctx, got.Manifest.Digests())
	if err != nil || len(missing) != 3 {
		t.Fatalf("MissingObjects = %v, %v", missing, err)
	}
	putFiles(t, s, fs...)
	if _, err := s.CommitBundle(ctx, got.App, got.Version, got.Manifest, got.Meta); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUpload(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUpload(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUpload after DeleteUpload = %v; want ErrNotFound", err)
	}
	if err := s.DeleteUpload(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteUpload twice = %v; want ErrNotFound", err)
	}
	if _, err := s.CreateUpload(ctx, "app", "1.0.0", m, meta); !errors.Is(err, ErrExists) {
		t.Errorf("CreateUpload(committed version) = %v; want ErrExists", err)
	}

	// Expiry.
	u2, err := s.CreateUpload(ctx, "app", "2.0.0", m, api.BundleMeta{})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(2*time.Hour - time.Second)
	if _, err := s.GetUpload(ctx, u2.ID); err != nil {
		t.Errorf("GetUpload just before expiry = %v", err)
	}
	c.Advance(time.Second)
	if _, err := s.GetUpload(ctx, u2.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUpload at expiry = %v; want ErrNotFound", err)
	}
	st, err := s.CollectGarbage(ctx)
	if err != nil || st.ExpiredUploads != 1 {
		t.Errorf("CollectGarbage = %+v, %v; want 1 expired upload dropped", st, err)
	}
	if ok, _ := keyExists(s, uploadKey(u2.ID)); ok {
		t.Errorf("expired session still stored after GC")
	}
}
