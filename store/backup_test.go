package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// fillFromFixtures commits testdata/bundles v1..v3 as versions 1.0.0..3.0.0
// of app and returns every file's bytes by digest.
func fillFromFixtures(t *testing.T, s *Store, app string) map[manifest.Digest][]byte {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	files := map[manifest.Digest][]byte{}
	for i, v := range []string{"v1", "v2", "v3"} {
		src, err := manifest.OpenPath(ctx, filepath.Join("..", "testdata", "bundles", v), manifest.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		m := src.Manifest()
		for _, e := range m.Entries() {
			b, err := manifest.ReadEntry(src, e)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.PutObject(ctx, e.Digest, b); err != nil {
				t.Fatal(err)
			}
			files[e.Digest] = b
		}
		if _, err := s.CommitBundle(ctx, app, string(rune('1'+i))+".0.0", m, api.BundleMeta{}); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestBackupRestore (issue 14 item 9): a backup of a store holding the
// fixture bundles, a value-log-sized object and device records, restored
// into an empty directory, verifies every manifest and object and holds
// every key with the same value.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	onlyOn(t, "backup and restore are for a Badger catalog (a PostgreSQL one is backed up with pg_dump)", backendBadger, backendBadgerS3)
	srcOpts, _ := testOptions(t)
	src := openStore(t, srcOpts)
	files := fillFromFixtures(t, src, "com.example.app")
	big := []file{{"index.html", []byte("<h1>big</h1>")}, {"big.bin", randomBytes(t, 300<<10)}} // above the value threshold: in the value log
	putFiles(t, src, big...)
	if _, err := src.CommitBundle(ctx, "com.example.app", "4.0.0", manifestOf(t, big...), api.BundleMeta{Comment: "big"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range big {
		files[manifest.Sum(f.data)] = f.data
	}
	if err := src.RecordActivity(ctx, Activity{Devices: []DeviceReport{{App: "com.example.app", DeviceID: "dev-1", Bundle: "1.0.0"}}}); err != nil {
		t.Fatal(err)
	}

	var backup bytes.Buffer
	bs, err := src.Backup(ctx, &backup)
	if err != nil || bs.Bytes != int64(backup.Len()) || bs.Bytes == 0 {
		t.Fatalf("Backup: %+v, %v (buffer %d bytes)", bs, err, backup.Len())
	}

	dstOpts, _ := testOptions(t)
	dstOpts.Blobs = srcOpts.Blobs // a restored catalog beside the same bucket
	dst := openStore(t, dstOpts)
	rs, err := dst.Restore(ctx, bytes.NewReader(backup.Bytes()))
	if err != nil || rs.Bytes != bs.Bytes {
		t.Fatalf("Restore: %+v, %v", rs, err)
	}
	rep, err := dst.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify after restore: %+v, %v", rep, err)
	}
	if rep.Bundles != 4 || rep.Manifests != 4 || rep.Objects != len(files) {
		t.Fatalf("Verify checked %d bundles, %d manifests, %d objects; want 4, 4, %d", rep.Bundles, rep.Manifests, rep.Objects, len(files))
	}
	for d, want := range files {
		obj, err := dst.GetObject(ctx, d)
		if err != nil || !bytes.Equal(obj.Raw, want) {
			t.Fatalf("object %s after restore: %v", d, err)
		}
	}
	if a, b := allKeys(t, src), allKeys(t, dst); !slices.Equal(a, b) {
		t.Fatalf("restored store differs: %d keys, source %d", len(b), len(a))
	}
	if _, err := dst.GetDevice(ctx, "com.example.app", "dev-1"); err != nil {
		t.Fatalf("device record after restore: %v", err)
	}
	// The restored store takes writes, with versions after the backup's.
	if _, err := dst.CreateApp(ctx, "com.example.next"); err != nil {
		t.Fatal(err)
	}
}

// frame is one backup frame: a little-endian length and the bytes.
func frame(body []byte) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, uint64(len(body))), body...)
}

func TestRestoreRefusals(t *testing.T) {
	onlyOn(t, "backup and restore are for a Badger catalog", backendBadger, backendBadgerS3)
	ctx := context.Background()
	src, _ := newTestStore(t)
	fillFromFixtures(t, src, "com.example.app")
	var backup bytes.Buffer
	if _, err := src.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	good := backup.Bytes()
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"cut inside a frame", good[:len(good)-5], ErrCorrupt},
		{"cut inside a header", append(slices.Clone(good), 1, 2, 3), ErrCorrupt},
		{"a frame claiming 1 EiB", binary.LittleEndian.AppendUint64(nil, 1<<60), ErrCorrupt},
		{"a frame that is not a KV list", frame([]byte{0xff, 0xff, 0xff}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst, _ := newTestStore(t)
			_, err := dst.Restore(ctx, bytes.NewReader(tc.in))
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Restore: %v, want an error wrapping %v", err, tc.want)
			}
		})
	}
	// A store that holds anything is refused, and keeps what it holds.
	before := allKeys(t, src)
	if _, err := src.Restore(ctx, bytes.NewReader(good)); !errors.Is(err, ErrExists) {
		t.Fatalf("Restore into a store with data: %v, want ErrExists", err)
	}
	if !slices.Equal(before, allKeys(t, src)) {
		t.Fatal("a refused restore changed the store")
	}
}

// FuzzRestore: whatever the backup bytes, Restore returns (an error, or a
// store Verify can scrub) and never panics or allocates beyond its frame
// bound.
func FuzzRestore(f *testing.F) {
	src, _ := newTestStore(f)
	var backup bytes.Buffer
	if _, err := src.CreateApp(context.Background(), "com.example.app"); err == nil {
		src.Backup(context.Background(), &backup)
	}
	f.Add(backup.Bytes())
	f.Add(frame(nil))
	f.Add(frame([]byte{0x0a, 0x02, 0x0a, 0x00}))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<40))
	f.Fuzz(func(t *testing.T, in []byte) {
		dst, _ := newTestStore(t)
		if _, err := dst.Restore(context.Background(), bytes.NewReader(in)); err != nil {
			return
		}
		if _, err := dst.Verify(context.Background()); err != nil {
			t.Fatalf("Verify after a successful restore: %v", err)
		}
	})
}
