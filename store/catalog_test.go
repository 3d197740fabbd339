package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

func TestAppIDs(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"com.example.app", true},
		{"a", true},
		{"9lives", true},
		{"My_App-2.0", true},
		{strings.Repeat("a", 128), true},
		{"", false},
		{strings.Repeat("a", 129), false},
		{".hidden", false},
		{"-flag", false},
		{"_x", false},
		{"a/b", false},
		{"a b", false},
		{"a\x00b", false},
		{"app:1", false},
		{"appé", false},
		{"../etc", false},
	}
	s, _ := newTestStore(t)
	ctx := context.Background()
	for _, tt := range tests {
		_, err := s.CreateApp(ctx, tt.id)
		if tt.ok && err != nil {
			t.Errorf("CreateApp(%q) = %v; want ok", tt.id, err)
		}
		if !tt.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateApp(%q) = %v; want ErrInvalid", tt.id, err)
		}
		if !tt.ok && err != nil && !strings.Contains(err.Error(), "app id") {
			t.Errorf("CreateApp(%q) error %q does not name the field", tt.id, err)
		}
	}
}

func TestApps(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	for _, id := range []string{"zeta", "alpha", "Mid"} {
		app, err := s.CreateApp(ctx, id)
		if err != nil || app.ID != id || app.CreatedAt.IsZero() {
			t.Fatalf("CreateApp(%q) = %+v, %v", id, app, err)
		}
	}
	if _, err := s.CreateApp(ctx, "alpha"); !errors.Is(err, ErrExists) {
		t.Errorf("CreateApp twice = %v; want ErrExists", err)
	}
	got, err := s.GetApp(ctx, "alpha")
	if err != nil || got.ID != "alpha" {
		t.Errorf("GetApp = %+v, %v", got, err)
	}
	if _, err := s.GetApp(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetApp(unknown) = %v; want ErrNotFound", err)
	}
	apps, err := s.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range apps {
		ids = append(ids, a.ID)
	}
	if want := []string{"Mid", "alpha", "zeta"}; !slices.Equal(ids, want) {
		t.Errorf("ListApps = %v; want %v", ids, want)
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		v  string
		ok bool
	}{
		{"1.2.3", true},
		{"0.0.0", true},
		{"1.0.0-beta.1", true},
		{"1.0.0-rc.1+build.5", true},
		{"10.20.30", true},
		{"18446744073709551615.0.0", true},
		{"", false},
		{"1.2", false},
		{"1", false},
		{"01.2.3", false},
		{"1.02.3", false},
		{"1.2.3-", false},
		{"1.2.3-01", false},
		{"1.2.3+", false},
		{"1.2.3-a..b", false},
		{"v1.2.3", false},
		{"V1.2.3", false},
		{" 1.2.3", false},
		{"1.2.3 ", false},
		{"1.2.3\x00", false},
		{"1.2.3-ü", false},
		{"9999999999999999999999.0.0", false},
		{"18446744073709551616.0.0", false},
		{"1.2.3-" + strings.Repeat("a", 59), false}, // 65 bytes
		{strings.Repeat("1", 10<<10), false},
		{"1.2.3-" + strings.Repeat("x.", 5<<10) + "x", false},
	}
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(1, "v")
	putFiles(t, s, fs...)
	m := manifestOf(t, fs...)
	for _, tt := range tests {
		_, err := s.CommitBundle(ctx, "app", tt.v, m, api.BundleMeta{})
		if tt.ok && err != nil {
			t.Errorf("CommitBundle(%q) = %v; want ok", clip(tt.v), err)
		}
		if !tt.ok {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CommitBundle(%q) = %v; want ErrInvalid", clip(tt.v), err)
			} else if !strings.HasPrefix(err.Error(), "version ") || len(err.Error()) > 400 {
				t.Errorf("CommitBundle(%q) error %q: want it to start with the field and stay short", clip(tt.v), err)
			}
		}
		for _, f := range []func() error{
			func() error { _, err := s.GetBundle(ctx, "app", tt.v); return err },
			func() error { _, err := s.CreateUpload(ctx, "app", tt.v, m, api.BundleMeta{}); return err },
		} {
			if err := f(); !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Errorf("version %q accepted elsewhere: %v", clip(tt.v), err)
			}
		}
	}
}

func TestCommitBundle(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := append(someFiles(3, "c"), file{"index.html", []byte("<html>\n")}, file{"big.js", compressible(500<<10, "big")})
	fs = append(fs, file{"copy.js", fs[0].data}) // same bytes at two paths
	putFiles(t, s, fs...)
	m := manifestOf(t, fs...)
	meta := api.BundleMeta{MinUpdateVersion: "1.0.0", Link: "https://example.com/r/1", Comment: "first\nrelease"}

	b, err := s.CommitBundle(ctx, "app", "1.0.0", m, meta)
	if err != nil {
		t.Fatal(err)
	}
	want := api.Bundle{App: "app", Version: "1.0.0", Manifest: m.Digest(), Files: 6, Size: m.TotalSize(), CreatedAt: b.CreatedAt, BundleMeta: meta}
	if !reflect.DeepEqual(b, want) || b.CreatedAt.IsZero() {
		t.Errorf("CommitBundle = %+v; want %+v", b, want)
	}
	got, err := s.GetBundle(ctx, "app", "1.0.0")
	if err != nil || !reflect.DeepEqual(got, b) {
		t.Errorf("GetBundle = %+v, %v; want %+v", got, err, b)
	}
	lm, err := s.LoadManifest(ctx, b.Manifest)
	if err != nil || !slices.Equal(lm.Encode(), m.Encode()) {
		t.Errorf("LoadManifest = %v; want the committed manifest", err)
	}
	if _, err := s.LoadManifest(ctx, manifest.Sum([]byte("x"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("LoadManifest(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", m, api.BundleMeta{}); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("CommitBundle again = %v; want ErrExists saying versions are immutable", err)
	}
	if _, err := s.CommitBundle(ctx, "nope", "1.0.0", m, api.BundleMeta{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("CommitBundle(unknown app) = %v; want ErrNotFound", err)
	}
	if _, err := s.GetBundle(ctx, "app", "2.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetBundle(unknown) = %v; want ErrNotFound", err)
	}
	for _, bad := range []api.BundleMeta{
		{MinUpdateVersion: "1.0"},
		{Link: strings.Repeat("x", MaxLinkLen+1)},
		{Comment: "bell\a"},
		{Comment: "\xff"},
	} {
		if _, err := s.CommitBundle(ctx, "app", "3.0.0", m, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CommitBundle(meta %+v) = %v; want ErrInvalid", bad, err)
		}
	}
	if _, err := s.CommitBundle(ctx, "app", "3.0.0", nil, api.BundleMeta{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("CommitBundle(nil manifest) = %v; want ErrInvalid", err)
	}
}

func TestCommitBundleMissingObjects(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(6, "miss")
	putFiles(t, s, fs[1], fs[3], fs[4])
	m := manifestOf(t, fs...)
	before := allKeys(t, s)
	_, err := s.CommitBundle(ctx, "app", "1.0.0", m, api.BundleMeta{})
	var me *MissingObjectsError
	if !errors.As(err, &me) {
		t.Fatalf("CommitBundle = %v; want *MissingObjectsError", err)
	}
	want := []manifest.Digest{manifest.Sum(fs[0].data), manifest.Sum(fs[2].data), manifest.Sum(fs[5].data)}
	if !slices.Equal(me.Digests, want) {
		t.Errorf("missing = %v; want %v (manifest order)", me.Digests, want)
	}
	if after := allKeys(t, s); !slices.Equal(before, after) {
		t.Errorf("a failed commit changed the database:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := s.GetBundle(ctx, "app", "1.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetBundle after failed commit = %v; want ErrNotFound", err)
	}
	putFiles(t, s, fs...)
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", m, api.BundleMeta{}); err != nil {
		t.Errorf("CommitBundle once the objects are there: %v", err)
	}
}

func TestListAndDeleteBundles(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	for _, app := range []string{"app", "app2", "ap"} {
		if _, err := s.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	shared := someFiles(2, "shared")
	putFiles(t, s, shared...)
	mShared := manifestOf(t, shared...)
	versions := []string{"1.10.0", "1.2.0", "1.2.0-beta.2", "1.2.0-beta.10", "0.9.9", "1.2.0-alpha", "2.0.0+b", "2.0.0+a"}
	for i, v := range versions {
		m := mShared
		if i%2 == 1 {
			fs := someFiles(2, v)
			putFiles(t, s, fs...)
			m = manifestOf(t, fs...)
		}
		if _, err := s.CommitBundle(ctx, "app", v, m, api.BundleMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	// Bundles of apps whose ids share a prefix must not leak into "app".
	if _, err := s.CommitBundle(ctx, "app2", "5.0.0", mShared, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitBundle(ctx, "ap", "6.0.0", mShared, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	list := func(app string) []string {
		bs, err := s.ListBundles(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, b := range bs {
			if b.App != app {
				t.Errorf("ListBundles(%q) returned a bundle of %q", app, b.App)
			}
			vs = append(vs, b.Version)
		}
		return vs
	}
	want := []string{"0.9.9", "1.2.0-alpha", "1.2.0-beta.2", "1.2.0-beta.10", "1.2.0", "1.10.0", "2.0.0+a", "2.0.0+b"}
	if got := list("app"); !slices.Equal(got, want) {
		t.Errorf("ListBundles = %v; want %v", got, want)
	}
	if _, err := s.ListBundles(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListBundles(unknown app) = %v; want ErrNotFound", err)
	}
	if _, err := s.CreateApp(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListBundles(ctx, "empty"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("ListBundles(empty app) = %#v, %v; want empty non-nil", got, err)
	}

	// Deleting one of several bundles sharing a manifest keeps the manifest.
	md := mShared.Digest()
	for _, v := range []string{"1.10.0", "1.2.0-beta.2"} {
		if err := s.DeleteBundle(ctx, "app", v); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoadManifest(ctx, md); err != nil {
			t.Fatalf("shared manifest gone after deleting %s: %v", v, err)
		}
	}
	if err := s.DeleteBundle(ctx, "app", "1.10.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteBundle twice = %v; want ErrNotFound", err)
	}
	// A bundle with its own manifest takes the manifest with it.
	own, _ := s.GetBundle(ctx, "app", "1.2.0")
	if err := s.DeleteBundle(ctx, "app", "1.2.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadManifest(ctx, own.Manifest); !errors.Is(err, ErrNotFound) {
		t.Errorf("LoadManifest of a deleted bundle's own manifest = %v; want ErrNotFound", err)
	}
	for _, v := range []string{"0.9.9", "1.2.0-beta.10", "2.0.0+b"} {
		if err := s.DeleteBundle(ctx, "app", v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.LoadManifest(ctx, md); err != nil {
		t.Errorf("manifest still used by app2 and ap is gone: %v", err)
	}
	if err := s.DeleteBundle(ctx, "app2", "5.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBundle(ctx, "ap", "6.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadManifest(ctx, md); !errors.Is(err, ErrNotFound) {
		t.Errorf("manifest of no bundle = %v; want ErrNotFound", err)
	}
	if got := list("app"); !slices.Equal(got, []string{"1.2.0-alpha", "2.0.0+a"}) {
		t.Errorf("ListBundles after deletes = %v", got)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// TestLoadManifestCorrupt: a damaged m/ value is ErrCorrupt, never a
// different manifest.
func TestLoadManifestCorrupt(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	fs := someFiles(3, "lm")
	putFiles(t, s, fs...)
	b, err := s.CommitBundle(ctx, "app", "1.0.0", manifestOf(t, fs...), api.BundleMeta{})
	if err != nil {
		t.Fatal(err)
	}
	other := manifestOf(t, fs[:2]...)
	setRaw(t, s, manifestKey(b.Manifest), s.enc.EncodeAll(other.Encode(), nil))
	s.cache = newManifestCache(4) // forget the decoded copy
	if _, err := s.LoadManifest(ctx, b.Manifest); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadManifest(substituted) = %v; want ErrCorrupt", err)
	}
	setRaw(t, s, manifestKey(b.Manifest), []byte("garbage"))
	if _, err := s.LoadManifest(ctx, b.Manifest); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadManifest(garbage) = %v; want ErrCorrupt", err)
	}
	rep, err := s.Verify(ctx)
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemCorruptManifest {
		t.Errorf("Verify = %+v, %v; want one corrupt_manifest", rep, err)
	}
	if _, err := s.CollectGarbage(ctx); err == nil {
		t.Errorf("CollectGarbage with an unreadable manifest succeeded; want it to refuse")
	}
}

// TestCommitBundleLargest commits a bundle of Limits.MaxFiles files whose
// objects all carry GC marks: one transaction must hold it.
func TestCommitBundleLargest(t *testing.T) {
	onlyOn(t, "it bulk-loads objects straight into Badger", backendBadger)
	s, c := newTestStore(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	n := manifest.DefaultLimits().MaxFiles
	es := make([]manifest.Entry, n)
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for i := range es {
		data := fmt.Appendf(nil, "file %d", i)
		d := manifest.Sum(data)
		es[i] = manifest.Entry{Path: fmt.Sprintf("dir%03d/some/longer/path/file-%05d.js", i%100, i), Digest: d, Size: int64(len(data))}
		info := ObjectInfo{Digest: d, Size: int64(len(data)), StoredSize: int64(len(data)), CreatedAt: c.Now()}
		for k, v := range map[string][]byte{string(objectKey(d)): data, string(metaKey(d)): encodeMeta(info), string(gcMarkKey(d)): encodeMark(c.Now())} {
			if err := wb.Set([]byte(k), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUpload(ctx, "app", "1.0.0", m, api.BundleMeta{}); err != nil {
		t.Fatalf("CreateUpload of %d files: %v", n, err)
	}
	for _, d := range m.Digests()[:3] {
		setRaw(t, s, gcMarkKey(d), encodeMark(c.Now()))
	}
	b, err := s.CommitBundle(ctx, "app", "1.0.0", m, api.BundleMeta{})
	if err != nil {
		t.Fatalf("CommitBundle of %d files: %v", n, err)
	}
	if b.Files != n {
		t.Errorf("Files = %d; want %d", b.Files, n)
	}
	if lm, err := s.LoadManifest(ctx, b.Manifest); err != nil || lm.Len() != n {
		t.Errorf("LoadManifest = %v", err)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Objects != n {
		t.Errorf("Verify = %d objects, %d problems, %v", rep.Objects, len(rep.Problems), err)
	}
}
