package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestBackupEndpointScopes (issue 14 item 9): only an admin key may stream
// the store's backup.
func TestBackupEndpointScopes(t *testing.T) {
	env := servertest.Start(t)
	admin := newApp(t, env)
	ctx := context.Background()
	up, err := admin.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeUpload, Apps: []string{app}})
	if err != nil {
		t.Fatal(err)
	}
	read, err := admin.CreateKey(ctx, api.CreateKeyRequest{Scope: api.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key string
		want      int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"upload key", up.Secret, http.StatusForbidden},
		{"read key", read.Secret, http.StatusForbidden},
		{"admin key", env.AdminKey, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, e := call(t, env, "GET", api.PathStoreBackup, tc.key, "", nil); status != tc.want {
				t.Fatalf("GET %s: %d %+v, want %d", api.PathStoreBackup, status, e, tc.want)
			}
		})
	}
}
