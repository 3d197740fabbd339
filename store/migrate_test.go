package store

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store/pgtest"
	"github.com/patchwire/patchwire/store/s3test"
)

// migrationFixture fills s with two apps, bundles sharing objects (one of
// several raw chunks, one of several zstd chunks), a channel with history
// and a rollout, a key, devices and stats, a webhook with deliveries, a
// patch mapping and a derived zip.
func migrationFixture(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, app := range []string{"com.a", "com.b"} {
		_, err := s.CreateApp(ctx, app)
		must(err)
	}
	_, _, err := s.CreateWebhook(ctx, "com.a", "https://hooks.example.com/a", WebhookEventTypes())
	must(err)
	shared := someFiles(3, "shared")
	big := file{"big.bin", randomBytes(t, 2<<20+4321)}
	comp := file{"comp.txt", compressible(3<<19, "comp")}
	bundles := []struct {
		app, version string
		files        []file
	}{
		{"com.a", "1.0.0", append([]file{big}, shared...)},
		{"com.a", "1.1.0", append([]file{comp}, shared...)},
		{"com.b", "1.0.0", append(someFiles(2, "b"), shared...)},
	}
	var ms []*manifest.Manifest
	for _, b := range bundles {
		putFiles(t, s, b.files...)
		m := manifestOf(t, b.files...)
		ms = append(ms, m)
		_, err := s.CommitBundle(ctx, b.app, b.version, m, api.BundleMeta{Comment: b.version})
		must(err)
	}
	ch := defaults("production", "1.0.0")
	ch.App = "com.a"
	_, err = s.CreateChannel(ctx, ch)
	must(err)
	_, err = s.SetChannelBundle(ctx, "com.a", "production", "1.1.0")
	must(err)
	_, err = s.Rollout(ctx, "com.a", "production", api.RolloutRequest{Action: api.RolloutStart, Bundle: "1.0.0", BasisPoints: 2500})
	must(err)
	_, _, err = s.CreateKey(ctx, api.ScopeUpload, []string{"com.a"}, "ci")
	must(err)
	must(s.RecordActivity(ctx, Activity{
		Devices: []DeviceReport{{App: "com.a", DeviceID: "dev-1", Bundle: "1.1.0", Platform: "ios"}, {App: "com.b", DeviceID: "dev-2", Bundle: "1.0.0"}},
		Events:  []Event{{App: "com.a", DeviceID: "dev-1", Action: "set", Version: "1.1.0"}},
	}))
	patch := file{"patch", randomBytes(t, 5000)}
	putFiles(t, s, patch)
	must(s.PutPatch(ctx, PatchKey{Codec: "zstd-dict", From: ms[0].Digest(), To: ms[1].Digest(), Bundle: true}, manifest.Sum(patch.data), int64(len(patch.data))))
	_, err = s.PutDerived(ctx, DerivedZip, []DerivedItem{{Src: ms[0].Digest(), Raw: compressible(200<<10, "zip")}})
	must(err)
}

// kvValues returns every key of kv and its value, but for the prefixes
// and keys skip names.
func kvValues(t *testing.T, kv kvStore, skip ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := kv.View(context.Background(), func(txn kvTxn) error {
		return txn.Scan(nil, true, func(k, v []byte) error {
			for _, p := range skip {
				if bytes.HasPrefix(k, []byte(p)) {
					return nil
				}
			}
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// migrationSource is a store holding migrationFixture, a bucket prefix
// and an empty PostgreSQL database to move it to.
func migrationSource(t *testing.T, prefix string) (*Store, *S3Blobs, string) {
	t.Helper()
	s3 := s3test.Start(t)
	dsn := pgtest.Database(t)
	opts, _ := localOptions(t) // a single-node store: what migrate moves
	s := openStore(t, opts)
	migrationFixture(t, s)
	return s, openTestS3(t, s3, prefix), dsn
}

// TestMigrate (issue 12): a store moved to S3 + PostgreSQL holds every
// key with the same value (objects' records apart, now format 3) and
// every object whole; a second run is refused, a resumed one is a no-op.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	s, blobs, dsn := migrationSource(t, "migrate")

	var last MigrateProgress
	rep, err := Migrate(ctx, s, MigrateTarget{Blobs: blobs, Catalog: dsn}, func(p MigrateProgress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	src := kvValues(t, s.kv)
	var objects []manifest.Digest
	for k := range src {
		if d, ok := digestFromKey(pfxMeta, []byte(k)); ok {
			objects = append(objects, d)
		}
	}
	if rep.Objects != int64(len(objects)) || rep.VerifiedObjects != rep.Objects || rep.Bytes == 0 || rep.VerifiedBytes != rep.Bytes ||
		rep.Bundles != 3 || rep.Manifests != 3 || rep.Keys == 0 || last.Phase != "verify" {
		t.Fatalf("report %+v (last progress %+v); want %d objects, 3 bundles", rep, last, len(objects))
	}

	pg := openTestPG(t, dsn)
	skip := []string{pfxObject, pfxChunk, pfxMeta, keyExternal, keyMigrated}
	want, got := kvValues(t, s.kv, skip...), kvValues(t, pg, skip...)
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Errorf("destination %s: %d bytes, want the source's %d", printableKey([]byte(k)), len(got[k]), len(v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("destination has %s, the source does not", printableKey([]byte(k)))
		}
	}
	marks := kvValues(t, pg)
	if !bytes.Equal(marks[keyExternal], []byte{1}) || !strings.Contains(string(marks[keyMigrated]), `"objects"`) {
		t.Errorf("destination marks %q", marks)
	}
	dst := readerOver(s, pg, blobs)
	for _, d := range objects {
		o, err := s.GetObject(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		r, err := dst.GetObject(ctx, d)
		if err != nil || !bytes.Equal(r.Raw, o.Raw) || r.Info.CreatedAt != o.Info.CreatedAt {
			t.Fatalf("destination object %s: %v (%d bytes, want %d)", d, err, len(r.Raw), len(o.Raw))
		}
	}

	if _, err := Migrate(ctx, s, MigrateTarget{Blobs: blobs, Catalog: dsn}, nil); !errors.Is(err, ErrMigrateNotEmpty) || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("second migration = %v; want ErrMigrateNotEmpty naming --resume", err)
	}
	again, err := Migrate(ctx, s, MigrateTarget{Blobs: blobs, Catalog: dsn, Resume: true}, nil)
	if err != nil || again.Keys != 0 || again.Objects != 0 || again.VerifiedObjects != rep.VerifiedObjects {
		t.Errorf("resumed migration = %+v, %v; want nothing written, everything verified", again, err)
	}
}

// TestMigrateCorruptSource: a flipped byte in a source object stops the
// migration, naming the object, and the destination is not marked done.
func TestMigrateCorruptSource(t *testing.T) {
	ctx := context.Background()
	s, blobs, dsn := migrationSource(t, "corrupt")
	bad := someFiles(1, "shared")[0]
	d := manifest.Sum(bad.data)
	v := kvValues(t, s.kv)[string(chunkKey(d, 0))]
	v[3] ^= 0x20
	setRaw(t, s, chunkKey(d, 0), v)

	_, err := Migrate(ctx, s, MigrateTarget{Blobs: blobs, Catalog: dsn}, nil)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), d.String()) {
		t.Fatalf("Migrate = %v; want ErrCorrupt naming %s", err, d)
	}
	if marks := kvValues(t, openTestPG(t, dsn)); marks[keyMigrated] != nil || marks[keyExternal] != nil {
		t.Errorf("a failed migration marked its destination: %q", marks[keyMigrated])
	}
}

// TestMigrateObjectsOnly: without a catalog target the objects move in
// place: the store keeps its catalog, every object is external, no Badger
// bytes are left, and the store reads every object whole from the blobs.
func TestMigrateObjectsOnly(t *testing.T) {
	s3 := s3test.Start(t)
	ctx := context.Background()
	opts, _ := localOptions(t)
	s := openStore(t, opts)
	migrationFixture(t, s)
	before := kvValues(t, s.kv, pfxObject, pfxChunk, pfxMeta)
	var objects []manifest.Digest
	for k := range kvValues(t, s.kv, pfxObject, pfxChunk) {
		if d, ok := digestFromKey(pfxMeta, []byte(k)); ok {
			objects = append(objects, d)
		}
	}
	blobs := openTestS3(t, s3, "inplace")
	rep, err := Migrate(ctx, s, MigrateTarget{Blobs: blobs}, nil)
	if err != nil || rep.Objects != int64(len(objects)) || rep.VerifiedObjects != rep.Objects {
		t.Fatalf("Migrate = %+v, %v; want %d objects", rep, err, len(objects))
	}
	after := kvValues(t, s.kv, pfxMeta, keyExternal, keyMigrated)
	for k, v := range after {
		if !bytes.Equal(before[k], v) {
			t.Errorf("key %s changed or appeared (Badger bytes left?)", printableKey([]byte(k)))
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d keys after, %d before", len(after), len(before))
	}
	r := readerOver(s, s.kv, blobs)
	for _, d := range objects {
		if _, err := r.GetObject(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	again, err := Migrate(ctx, s, MigrateTarget{Blobs: blobs}, nil)
	if err != nil || again.Objects != 0 || again.External != rep.Objects {
		t.Errorf("second in-place run = %+v, %v; want every object already external", again, err)
	}
	if _, err := Migrate(ctx, s, MigrateTarget{Catalog: "postgres://nowhere"}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("catalog without objects = %v; want ErrInvalid", err)
	}
}
