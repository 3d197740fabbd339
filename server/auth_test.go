package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
)

// withTrustedProxies makes the test server believe forwarded headers from
// the given prefixes.
func withTrustedProxies(prefixes ...string) servertest.Option {
	return func(c *server.Config, _ *store.Options) { c.TrustedProxies = withPrefixes(prefixes...) }
}

// withPrefixes parses CIDR prefixes.
func withPrefixes(prefixes ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range prefixes {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// authStatus sends GET /api/v1/apps with Authorization value auth ("" =
// none) and X-Forwarded-For xff ("" = none) and returns the status.
func authStatus(t *testing.T, c *http.Client, env *servertest.Env, auth, xff string) int {
	t.Helper()
	req, err := http.NewRequest("GET", env.URL+api.PathApps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	return resp.StatusCode
}

// wrongSecret is a well-formed secret for key id that is not its secret.
func wrongSecret(id string, n int) string {
	return fmt.Sprintf("pw_%s_%043d", id, n)
}

// TestAuthLimiter covers issue 14 item 2: failures are limited per client
// address and per key id, separately, and a key that verifies is never
// refused, also after its address or its key id ran out of failures.
func TestAuthLimiter(t *testing.T) {
	const limit = 5
	type step struct {
		key  string // "admin", "other" (a second valid key), "wrong-admin"/"wrong-other" (wrong secret for that key id), "random" (unknown key id), "none", "garbage"
		from string // X-Forwarded-For value ("" = none)
		n    int    // repeat (1 when 0)
		want int
	}
	tests := []struct {
		name    string
		trusted []string
		steps   []step
	}{
		{"bad keys then the real key from one address", nil, []step{
			{key: "random", n: limit, want: 401},
			{key: "random", want: 429},
			{key: "admin", want: 200},
			{key: "other", want: 200},
			{key: "random", want: 429},
		}},
		{"missing and malformed headers count, the real key still passes", nil, []step{
			{key: "none", n: 3, want: 401},
			{key: "garbage", n: 2, want: 401},
			{key: "none", want: 429},
			{key: "admin", want: 200},
		}},
		{"wrong secrets for key X do not block key Y", []string{"127.0.0.1/32"}, []step{
			{key: "wrong-admin", from: "192.0.2.1", want: 401},
			{key: "wrong-admin", from: "192.0.2.2", want: 401},
			{key: "wrong-admin", from: "192.0.2.3", want: 401},
			{key: "wrong-admin", from: "192.0.2.4", want: 401},
			{key: "wrong-admin", from: "192.0.2.5", want: 401},
			{key: "wrong-admin", from: "192.0.2.6", want: 429}, // the key id's budget is spent
			{key: "admin", from: "192.0.2.6", want: 200},       // the key itself still works
			{key: "wrong-other", from: "192.0.2.6", want: 401},
			{key: "other", from: "192.0.2.6", want: 200},
		}},
		{"two clients behind one trusted proxy have their own budgets", []string{"127.0.0.1/32"}, []step{
			{key: "random", from: "198.51.100.7", n: limit, want: 401},
			{key: "random", from: "198.51.100.7", want: 429},
			{key: "random", from: "198.51.100.8", want: 401},
			{key: "admin", from: "198.51.100.7", want: 200},
			{key: "random", from: "203.0.113.9, 198.51.100.8", want: 401}, // the rightmost untrusted address counts
		}},
		{"X-Forwarded-For from an untrusted peer is ignored", nil, []step{
			{key: "random", from: "198.51.100.1", want: 401},
			{key: "random", from: "198.51.100.2", want: 401},
			{key: "random", from: "198.51.100.3", want: 401},
			{key: "random", from: "198.51.100.4", want: 401},
			{key: "random", from: "198.51.100.5", want: 401},
			{key: "random", from: "198.51.100.6", want: 429},
			{key: "admin", from: "198.51.100.6", want: 200},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.Start(t, servertest.WithLimits(server.Limits{AuthFailuresPerMinute: limit}), withTrustedProxies(tc.trusted...))
			other, err := env.Client(env.AdminKey, false).CreateKey(context.Background(), api.CreateKeyRequest{Scope: api.ScopeRead})
			if err != nil {
				t.Fatal(err)
			}
			adminID := strings.SplitN(env.AdminKey, "_", 3)[1]
			c := env.HTTPSClient()
			before := state(t, env)
			seq := 0
			for i, st := range tc.steps {
				for range max(st.n, 1) {
					seq++
					auth := map[string]string{
						"admin":       "Bearer " + env.AdminKey,
						"other":       "Bearer " + other.Secret,
						"wrong-admin": "Bearer " + wrongSecret(adminID, seq),
						"wrong-other": "Bearer " + wrongSecret(other.Key.ID, seq),
						"random":      "Bearer " + wrongSecret(fmt.Sprintf("%016x", seq), seq),
						"none":        "",
						"garbage":     "Basic dXNlcjpwYXNz",
					}[st.key]
					if got := authStatus(t, c, env, auth, st.from); got != st.want {
						t.Fatalf("step %d (%s from %q): status %d, want %d", i, st.key, st.from, got, st.want)
					}
				}
			}
			if after := state(t, env); after != before {
				t.Errorf("store changed: %s -> %s", before, after)
			}
		})
	}
}

// TestAuthManyWrongKeys keeps the brute-force bound measured in issue 14:
// a stream of wrong keys from one address gets 429 once the default budget
// (30 a minute) is spent, and the real key from that address still works.
func TestAuthManyWrongKeys(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	first429 := 0
	for i := 1; i <= 100; i++ {
		got := authStatus(t, c, env, "Bearer "+wrongSecret(fmt.Sprintf("%016x", i), i), "")
		if got == 429 && first429 == 0 {
			first429 = i
		}
		if first429 != 0 && got != 429 {
			t.Fatalf("wrong key %d after the first 429: status %d", i, got)
		}
	}
	if want := server.DefaultLimits().AuthFailuresPerMinute + 1; first429 != want {
		t.Errorf("first 429 at wrong key %d, want %d", first429, want)
	}
	if got := authStatus(t, c, env, "Bearer "+env.AdminKey, ""); got != 200 {
		t.Errorf("the real key after 100 wrong ones: status %d, want 200", got)
	}
}
