package main

import (
	"strings"
	"testing"

	"github.com/patchwire/patchwire/server/servertest"
)

// TestKeyScopesCLI covers issue 14 item 4 from the CLI: key create
// --scope write and --channels, key list showing them, and what an upload
// key may do with bundle upload --channel and bundle delete.
func TestKeyScopesCLI(t *testing.T) {
	srv := servertest.Start(t)
	c := newCLI(t, srv)
	const app = "com.example.app"
	c.must("app", "add", app)
	bundle := func(s string) string { return writeBundle(t, map[string][]byte{"index.html": []byte(s)}) }
	c.must("bundle", "upload", bundle("one"), "--app", app, "--version", "1.0.0", "--channel", "production")
	as := func(secret string) *cli {
		k := &cli{t: t, env: map[string]string{}}
		for name, v := range c.env {
			k.env[name] = v
		}
		k.env["PATCHWIRE_API_KEY"] = secret
		return k
	}
	key := func(args ...string) *cli {
		return as(strings.TrimSpace(c.must(append([]string{"key", "create"}, args...)...)))
	}
	upload := key("--scope", "upload", "--app", app, "--name", "ci")
	uploadCh := key("--scope", "upload", "--app", app, "--channels", "production,beta", "--name", "ci-release")
	write := key("--scope", "write", "--app", app)

	list := c.must("key", "list")
	for _, want := range []string{"CHANNELS", "beta,production", "write"} {
		if !strings.Contains(list, want) {
			t.Errorf("key list lacks %q:\n%s", want, list)
		}
	}
	tests := []struct {
		name string
		who  *cli
		args []string
		want string // "" = success, else a text of the error
	}{
		{"upload key uploads", upload, []string{"bundle", "upload", bundle("two"), "--app", app, "--version", "1.1.0"}, ""},
		{"upload key may not set a channel", upload, []string{"bundle", "upload", bundle("three"), "--app", app, "--version", "1.2.0", "--channel", "production"}, "--channels production"},
		{"upload key with --channels sets it", uploadCh, []string{"bundle", "upload", bundle("four"), "--app", app, "--version", "1.3.0", "--channel", "production"}, ""},
		{"upload key may not delete bundles", uploadCh, []string{"bundle", "delete", "--app", app, "--version", "1.1.0"}, "needs a write key"},
		{"write key deletes bundles", write, []string{"bundle", "delete", "--app", app, "--version", "1.1.0"}, ""},
		{"write key may not create keys", write, []string{"key", "create", "--scope", "read"}, "needs an admin key"},
		{"channels only on upload keys", c, []string{"key", "create", "--scope", "write", "--channels", "production"}, "only upload keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.who.run(tc.args...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("patchwire %s: %v", strings.Join(tc.args, " "), err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("patchwire %s: error %v, want one mentioning %q", strings.Join(tc.args, " "), err, tc.want)
			}
		})
	}
}
