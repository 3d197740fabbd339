package store

import (
	"context"
	"errors"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// The disk-full behaviour on a real small disk is tested in
// server/diskfull_test.go (a tmpfs); these tests cover the guard's rules.

func TestOptionsValidate(t *testing.T) {
	lim := manifest.DefaultLimits()
	for _, tc := range []struct {
		name       string
		vlog, mem  int64
		maxFile    int64
		wantReject bool
	}{
		{"defaults", 0, 0, 0, false},
		{"test-sized", 1 << 20, 512 << 10, 1 << 20, false},
		{"value-log file under 1 MiB", 1<<20 - 1, 0, 1 << 10, true},
		{"value-log file of 2 GiB", 2 << 30, 0, 0, true},
		{"value-log file smaller than the largest file", 4 << 20, 0, 8 << 20, true},
		{"memtable under 512 KiB", 0, 512<<10 - 1, 0, true},
		{"default value-log file grows with the largest file", 0, 0, 600 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Dir: "x", ValueLogFileSize: tc.vlog, MemTableSize: tc.mem, Limits: lim}
			if tc.maxFile > 0 {
				o.Limits.MaxFileBytes = tc.maxFile
			}
			o.setDefaults()
			err := o.validate()
			if tc.wantReject != (err != nil) || err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("validate: %v, want rejected=%v with ErrInvalid", err, tc.wantReject)
			}
			if err == nil && o.Reserve != DefaultReserve(o.ValueLogFileSize, o.MemTableSize) {
				t.Errorf("reserve %d, want the default for the sizes", o.Reserve)
			}
		})
	}
	if got := DefaultReserve(valueLogFileSize, memTableSize); got != 960<<20 {
		t.Errorf("default reserve %d, want 960 MiB", got)
	}
}

// TestGuardRefusesSizedWrites (issue 14 item 1): a write that would eat
// into the reserve fails with ErrInsufficientStorage and writes nothing; a
// write of bytes the store already holds needs no space and succeeds.
func TestGuardRefusesSizedWrites(t *testing.T) {
	onlyOn(t, "objects' bytes on this disk: with a blob store they go to the bucket", backendBadger)
	ctx := context.Background()
	s, _ := newTestStore(t)
	if _, err := s.CreateApp(ctx, "com.example.app"); err != nil {
		t.Fatal(err)
	}
	have := randomBytes(t, 1<<20)
	putFiles(t, s, file{"have.bin", have})
	before := allKeys(t, s)

	free, _ := s.Space()
	// No room for any write. (Other processes write to the same disk while
	// the test runs, so it never relies on the free space staying put.)
	s.space.reserve = free + 1<<30
	s.space.at = s.space.at.Add(-spaceTTL)

	big := randomBytes(t, 2<<20)
	m := manifestOf(t, file{"index.html", []byte("<h1>")}, file{"big.bin", big})
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"PutObject", func() error { _, err := s.PutObject(ctx, manifest.Sum(big), big); return err }},
		{"PutDerived", func() error {
			_, err := s.PutDerived(ctx, DerivedZip, []DerivedItem{{Src: manifest.Sum([]byte("m")), Raw: big}})
			return err
		}},
		{"RecordActivity", func() error {
			return s.RecordActivity(ctx, Activity{Devices: []DeviceReport{{App: "com.example.app", DeviceID: "d1"}}})
		}},
		{"CreateUpload", func() error {
			_, err := s.CreateUpload(ctx, "com.example.app", "1.0.0", m, api.BundleMeta{})
			return err
		}},
	} {
		if err := tc.do(); !errors.Is(err, ErrInsufficientStorage) {
			t.Errorf("%s: %v, want ErrInsufficientStorage", tc.name, err)
		}
	}
	if after := allKeys(t, s); len(after) != len(before) {
		t.Fatalf("refused writes changed the store: %d keys, had %d", len(after), len(before))
	}
	if created, err := s.PutObject(ctx, manifest.Sum(have), have); err != nil || created {
		t.Fatalf("PutObject of a stored object on a full disk: created %v, %v; want a no-op", created, err)
	}
	s.space.reserve = free / 2 // room again
	s.space.at = s.space.at.Add(-spaceTTL)
	small := randomBytes(t, 64<<10)
	if _, err := s.PutObject(ctx, manifest.Sum(small), small); err != nil {
		t.Fatalf("a write that fits: %v", err)
	}
}

// TestReadOnlyStore: a store opened read-only reads everything and refuses
// every write with ErrReadOnly (issue 14 item 9: the mode a full disk at
// start opens in, there also wrapping ErrInsufficientStorage).
func TestReadOnlyStore(t *testing.T) {
	onlyOn(t, "a PostgreSQL catalog refuses a read-only open (cluster.go)", backendBadger, backendBadgerS3)
	ctx := context.Background()
	opts, _ := testOptions(t)
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	files := someFiles(3, "ro")
	putFiles(t, s, files...)
	if _, err := s.CreateApp(ctx, "com.example.app"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitBundle(ctx, "com.example.app", "1.0.0", manifestOf(t, files...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	opts.ReadOnly = true
	s = openStore(t, opts)
	if !s.ReadOnly() || !errors.Is(s.ReadOnlyError(), ErrReadOnly) {
		t.Fatalf("ReadOnly %v, %v", s.ReadOnly(), s.ReadOnlyError())
	}
	for _, f := range files {
		obj, err := s.GetObject(ctx, manifest.Sum(f.data))
		if err != nil || string(obj.Raw) != string(f.data) {
			t.Fatalf("GetObject %s: %v", f.path, err)
		}
	}
	extra := []byte("new")
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"PutObject", func() error { _, err := s.PutObject(ctx, manifest.Sum(extra), extra); return err }},
		{"CreateApp", func() error { _, err := s.CreateApp(ctx, "com.example.other"); return err }},
		{"DeleteBundle", func() error { return s.DeleteBundle(ctx, "com.example.app", "1.0.0") }},
		{"CreateKey", func() error { _, _, err := s.CreateKey(ctx, api.ScopeAdmin, nil, "k"); return err }},
		{"CollectGarbage", func() error { _, err := s.CollectGarbage(ctx); return err }},
	} {
		if err := tc.do(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: %v, want ErrReadOnly", tc.name, err)
		}
	}
	rep, err := s.Verify(ctx)
	if err != nil || !rep.OK() || rep.Objects != len(files) {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"},
		{1023, "1023 bytes"},
		{1536, "1.5 KiB (1536 bytes)"},
		{3 << 20, "3.0 MiB (3145728 bytes)"},
		{960 << 20, "960.0 MiB (1006632960 bytes)"},
		{5 << 40, "5.0 TiB (5497558138880 bytes)"},
	} {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
