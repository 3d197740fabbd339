package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/store"
)

// TestCatalogFlags: --catalog and --catalog-recheck (or their
// PATCHWIRE_ variables) reach store.Options; a negative recheck, or one
// without a PostgreSQL catalog, is a usage error naming the flag.
func TestCatalogFlags(t *testing.T) {
	const dsn = "postgres://pw@127.0.0.1:5432/pw"
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want store.Options
		err  string
	}{
		{name: "defaults"},
		{name: "catalog only", args: []string{"--catalog", dsn}, want: store.Options{Catalog: dsn}},
		{name: "recheck", args: []string{"--catalog", dsn, "--catalog-recheck", "1s"}, want: store.Options{Catalog: dsn, CatalogRecheck: time.Second}},
		{name: "recheck from env", env: map[string]string{"PATCHWIRE_CATALOG": dsn, "PATCHWIRE_CATALOG_RECHECK": "250ms"},
			want: store.Options{Catalog: dsn, CatalogRecheck: 250 * time.Millisecond}},
		{name: "recheck zero", args: []string{"--catalog", dsn, "--catalog-recheck", "0"}, want: store.Options{Catalog: dsn}},
		{name: "negative", args: []string{"--catalog", dsn, "--catalog-recheck", "-1s"}, err: "--catalog-recheck -1s"},
		{name: "without catalog", args: []string{"--catalog-recheck", "1s"}, err: "needs --catalog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlags("serve", io.Discard)
			var c catalogFlags
			c.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := applyEnv(fs, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			err := c.validate()
			if wantError(t, err, tc.err) {
				return
			}
			var got store.Options
			c.storeOptions(&got)
			if got.Catalog != tc.want.Catalog || got.CatalogRecheck != tc.want.CatalogRecheck {
				t.Fatalf("Catalog %q, CatalogRecheck %s; want %q, %s", got.Catalog, got.CatalogRecheck, tc.want.Catalog, tc.want.CatalogRecheck)
			}
		})
	}
}

// wantError checks err against want, the text an error must contain (""
// for none), and reports whether an error was wanted (the case ends there).
func wantError(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one naming %q", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

// TestServeCatalogRecheckRefused: `serve --catalog-recheck` without
// --catalog stops before it creates anything under --data.
func TestServeCatalogRecheckRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	c := &cli{t: t, env: map[string]string{}}
	_, _, err := c.run("serve", "--data", data, "--addr", "127.0.0.1:0", "--catalog-recheck", "1s")
	if err == nil || !strings.Contains(err.Error(), "--catalog-recheck 1s needs --catalog") {
		t.Fatalf("error %v, want one naming --catalog", err)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("--data was created: %v", err)
	}
}
