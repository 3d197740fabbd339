package store

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
)

var secretRE = regexp.MustCompile(`^pw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)

func TestKeys(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if n, err := s.CountKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountKeys = %d, %v; want 0", n, err)
	}
	secret, k, err := s.CreateKey(ctx, api.ScopeUpload, []string{"b.app", "a.app", "b.app"}, "ci deploy")
	if err != nil {
		t.Fatal(err)
	}
	if !secretRE.MatchString(secret) || !strings.HasPrefix(secret, "pw_"+k.ID+"_") {
		t.Errorf("secret %q does not look like pw_<id>_<base64url>", secret)
	}
	if k.Scope != api.ScopeUpload || !slices.Equal(k.Apps, []string{"a.app", "b.app"}) || k.Name != "ci deploy" || k.CreatedAt.IsZero() {
		t.Errorf("CreateKey key = %+v", k)
	}
	adminSecret, admin, err := s.CreateKey(ctx, api.ScopeAdmin, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if secret == adminSecret || k.ID == admin.ID {
		t.Fatal("two keys share a secret or an id")
	}

	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.ID != k.ID || got.Scope != k.Scope || !slices.Equal(got.Apps, k.Apps) {
		t.Errorf("Authenticate = %+v, %v; want %+v", got, err, k)
	}
	if got, err := s.Authenticate(ctx, adminSecret); err != nil || got.ID != admin.ID || got.Scope != api.ScopeAdmin {
		t.Errorf("Authenticate(admin) = %+v, %v", got, err)
	}

	// Everything wrong is ErrUnauthorized, and the secret is never echoed.
	other := []byte(secret)
	other[len(other)-5] ^= 1
	swapped := "pw_" + admin.ID + secret[len("pw_")+16:]
	bad := map[string]string{
		"empty":               "",
		"garbage":             "hello",
		"wrong secret":        string(other),
		"other key's id":      swapped,
		"unknown id":          "pw_0000000000000000" + secret[len("pw_")+16:],
		"upper-case id":       "pw_" + strings.ToUpper(k.ID) + secret[len("pw_")+16:],
		"no prefix":           secret[3:],
		"bearer prefix":       "Bearer " + secret,
		"trailing newline":    secret + "\n",
		"truncated":           secret[:len(secret)-1],
		"extended":            secret + "A",
		"padding":             secret[:len(secret)-1] + "=",
		"non-canonical b64":   secret[:len(secret)-1] + "B",
		"100 KB":              strings.Repeat("a", 100<<10),
		"NUL":                 secret[:10] + "\x00" + secret[11:],
		"separator misplaced": "pw_" + k.ID + "-" + secret[len("pw_")+17:],
	}
	for name, sec := range bad {
		_, err := s.Authenticate(ctx, sec)
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Authenticate(%s) = %v; want ErrUnauthorized", name, err)
		}
		if err != nil && len(sec) > 20 && strings.Contains(err.Error(), sec[20:]) {
			t.Errorf("Authenticate(%s) error echoes the secret: %v", name, err)
		}
	}

	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListKeys = %v, %v", keys, err)
	}
	if n, err := s.CountKeys(ctx); err != nil || n != 2 {
		t.Errorf("CountKeys = %d, %v; want 2", n, err)
	}
	if err := s.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Authenticate(deleted key) = %v; want ErrUnauthorized", err)
	}
	if err := s.DeleteKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteKey twice = %v; want ErrNotFound", err)
	}
	if err := s.DeleteKey(ctx, "../k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteKey(malformed) = %v; want ErrNotFound", err)
	}
	if n, _ := s.CountKeys(ctx); n != 1 {
		t.Errorf("CountKeys after delete = %d; want 1", n)
	}
	for _, k := range allKeys(t, s) {
		if strings.Contains(k, secret[20:]) || strings.Contains(k, adminSecret[20:]) {
			t.Errorf("a secret is stored in key %s", k)
		}
	}
}

func TestCreateKeyInvalid(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		scope string
		apps  []string
		kname string
		field string
	}{
		{"unknown scope", "root", nil, "", "scope"},
		{"empty scope", "", nil, "", "scope"},
		{"scope case", "Admin", nil, "", "scope"},
		{"bad app", api.ScopeUpload, []string{"ok", "not ok"}, "", "app id"},
		{"too many apps", api.ScopeUpload, slices.Repeat([]string{"a"}, MaxKeyApps+1), "", "apps"},
		{"long name", api.ScopeRead, nil, strings.Repeat("n", MaxKeyNameLen+1), "key name"},
		{"control in name", api.ScopeRead, nil, "a\nb", "key name"},
		{"bad utf-8 name", api.ScopeRead, nil, "\xff", "key name"},
		// issue 14 item 4: an upload key names its apps, an admin key none.
		{"upload key without apps", api.ScopeUpload, nil, "", "at least one app"},
		{"admin key with apps", api.ScopeAdmin, []string{"a.app"}, "", "admin key"},
	}
	for _, tt := range tests {
		_, _, err := s.CreateKey(ctx, tt.scope, tt.apps, tt.kname)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: CreateKey = %v; want ErrInvalid naming %q", tt.name, err, tt.field)
		}
	}
	if n, _ := s.CountKeys(ctx); n != 0 {
		t.Errorf("refused keys were stored: %d", n)
	}
}

// TestScopedKeys covers issue 14 item 4: write keys, and upload keys that
// list the channels they may set, are stored and authenticate with their
// channels; channels on other scopes, or invalid ones, are refused.
func TestScopedKeys(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	ok := []api.CreateKeyRequest{
		{Scope: api.ScopeWrite},
		{Scope: api.ScopeWrite, Apps: []string{"a.app"}},
		{Scope: api.ScopeUpload, Apps: []string{"a.app"}, Channels: []string{"production", "beta", "production"}},
	}
	for _, req := range ok {
		secret, k, err := s.CreateScopedKey(ctx, req)
		if err != nil {
			t.Fatalf("CreateScopedKey(%+v): %v", req, err)
		}
		got, err := s.Authenticate(ctx, secret)
		if err != nil || got.Scope != req.Scope || !slices.Equal(got.Channels, k.Channels) {
			t.Errorf("Authenticate = %+v, %v; want %+v", got, err, k)
		}
		if want := sortedSet(req.Channels); !slices.Equal(k.Channels, want) {
			t.Errorf("channels %v, want %v", k.Channels, want)
		}
	}
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != len(ok) {
		t.Fatalf("ListKeys = %d keys, %v", len(keys), err)
	}
	bad := []struct {
		name  string
		req   api.CreateKeyRequest
		field string
	}{
		{"channels on a write key", api.CreateKeyRequest{Scope: api.ScopeWrite, Channels: []string{"production"}}, "only upload keys"},
		{"channels on a read key", api.CreateKeyRequest{Scope: api.ScopeRead, Channels: []string{"production"}}, "only upload keys"},
		{"bad channel", api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{"a.app"}, Channels: []string{"has space"}}, "channel name"},
		{"too many channels", api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{"a.app"}, Channels: slices.Repeat([]string{"c"}, MaxKeyChannels+1)}, "channels"},
		{"Capgo's all", api.CreateKeyRequest{Scope: "all"}, "scope"},
	}
	for _, tt := range bad {
		if _, _, err := s.CreateScopedKey(ctx, tt.req); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: CreateScopedKey = %v; want ErrInvalid naming %q", tt.name, err, tt.field)
		}
	}
	if n, _ := s.CountKeys(ctx); n != len(ok) {
		t.Errorf("refused keys were stored: %d keys", n)
	}
}
