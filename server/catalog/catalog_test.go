package catalog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/catalog"
	"github.com/patchwire/patchwire/store"
)

const (
	app  = "com.example.app"
	devA = "00000000-0000-4000-8000-00000000000a"
)

func openStore(tb testing.TB) *store.Store {
	tb.Helper()
	st, err := store.Open(store.Options{Dir: filepath.Join(tb.TempDir(), "db"), GCInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// commit stores a one-file bundle of app whose content is its version.
func commit(tb testing.TB, st *store.Store, version string) {
	tb.Helper()
	ctx := context.Background()
	raw := []byte("bundle " + version)
	if _, err := st.PutObject(ctx, manifest.Sum(raw), raw); err != nil {
		tb.Fatal(err)
	}
	m, err := manifest.New([]manifest.Entry{{Path: "index.js", Digest: manifest.Sum(raw), Size: int64(len(raw))}}, manifest.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := st.CommitBundle(ctx, app, version, m, api.BundleMeta{}); err != nil {
		tb.Fatal(err)
	}
}

// Every write a decision must see is in the next Snapshot; between writes
// (and across writes outside the catalog) the decoded App is reused, not
// read again.
func TestSnapshotSeesEveryWrite(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	cat := catalog.New(st)
	snap := func() (*catalog.App, string, string, string) {
		t.Helper()
		a, s, err := cat.ForDevice(ctx, app, "00000000-0000-4000-8000-00000000000A")
		if err != nil {
			t.Fatal(err)
		}
		bundle := ""
		for _, c := range s.Channels {
			if c.Name == "production" {
				bundle = c.Bundle
			}
		}
		return a, bundle, s.Override, s.SelfAssigned
	}
	if a, _, _, _ := snap(); a.Exists() {
		t.Fatal("unknown app exists")
	}
	for _, c := range []struct {
		what                   string
		write                  func() error
		reload                 bool // the App must be read again
		bundle, override, self string
	}{
		{"create the app", func() error { _, err := st.CreateApp(ctx, app); return err }, true, "", "", ""},
		{"publish", func() error {
			commit(t, st, "1.0.0")
			_, err := st.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: "1.0.0", Public: true, Android: true})
			return err
		}, true, "1.0.0", "", ""},
		{"nothing", func() error { return nil }, false, "1.0.0", "", ""},
		{"device activity", func() error {
			return st.RecordActivity(ctx, store.Activity{Devices: []store.DeviceReport{{App: app, DeviceID: devA, Bundle: "1.0.0"}}})
		}, false, "1.0.0", "", ""},
		{"override", func() error { return st.SetOverride(ctx, app, devA, "production") }, false, "1.0.0", "production", ""},
		{"self-assign", func() error { return st.SetSelfAssigned(ctx, app, devA, "production") }, false, "1.0.0", "production", "production"},
		{"clear", func() error { _, err := st.ClearDeviceChannels(ctx, app, devA); return err }, false, "1.0.0", "", ""},
		{"move the channel", func() error {
			commit(t, st, "1.1.0")
			_, err := st.SetChannelBundle(ctx, app, "production", "1.1.0")
			return err
		}, true, "1.1.0", "", ""},
		{"rollback", func() error { _, err := st.RollbackChannel(ctx, app, "production"); return err }, true, "1.0.0", "", ""},
	} {
		before, _, _, _ := snap()
		if err := c.write(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		after, bundle, override, self := snap()
		if reloaded := after != before; reloaded != c.reload {
			t.Errorf("%s: read again = %v, want %v", c.what, reloaded, c.reload)
		}
		if bundle != c.bundle || override != c.override || self != c.self {
			t.Errorf("%s: channel bundle %q, override %q, self %q; want %q %q %q", c.what, bundle, override, self, c.bundle, c.override, c.self)
		}
	}
	if a, _, _, _ := snap(); a.Sequence("production") == 0 || a.Sequence("none") != 0 {
		t.Errorf("sequences: %d %d", a.Sequence("production"), a.Sequence("none"))
	}
}

// BenchmarkSnapshot is one check's catalog read at 10 and 2,000 bundles:
// the same cost, and no allocation, at both.
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{10, 2000} {
		b.Run(fmt.Sprintf("bundles=%d", n), func(b *testing.B) {
			ctx := context.Background()
			st := openStore(b)
			if _, err := st.CreateApp(ctx, app); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < n; i++ {
				commit(b, st, fmt.Sprintf("1.0.%d", i))
			}
			if _, err := st.CreateChannel(ctx, api.Channel{App: app, Name: "production", Bundle: fmt.Sprintf("1.0.%d", n-1), Public: true, Android: true}); err != nil {
				b.Fatal(err)
			}
			cat := catalog.New(st)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := cat.Snapshot(ctx, app, devA); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
