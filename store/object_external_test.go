package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store/s3test"
)

// newS3Store opens a store whose objects' bytes go to a versitygw bucket.
func newS3Store(t *testing.T) (*Store, *clock, *S3Blobs) {
	t.Helper()
	b := openTestS3(t, s3test.Start(t), "objects")
	opts, c := testOptions(t)
	opts.Blobs = b
	return openStore(t, opts), c, b
}

// putRawS3 writes key=data straight into the bucket, bypassing every check.
func putRawS3(t *testing.T, b *S3Blobs, d manifest.Digest, data []byte) {
	t.Helper()
	_, err := b.Client().PutObject(context.Background(), b.cfg.Bucket, b.Key(d), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// TestS3ObjectsRoundTrip: objects put through a store with S3 blobs are
// raw S3 objects that hash to their key, read back whole, by reader and
// by range, and pass the scrub; their om/ record is the only Badger key.
func TestS3ObjectsRoundTrip(t *testing.T) {
	s, _, b := newS3Store(t)
	ctx := context.Background()
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	files := append(someFiles(3, "s3"), file{"big.js", compressible(2<<20+777, "big")}, file{"empty", nil})
	putFiles(t, s, files...)
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", manifestOf(t, files...), api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		d := manifest.Sum(f.data)
		if created, err := s.PutObject(ctx, d, f.data); err != nil || created {
			t.Errorf("PutObject again = %v, %v; want false, nil", created, err)
		}
		obj, err := s.GetObject(ctx, d)
		if err != nil || !bytes.Equal(obj.Raw, f.data) || obj.Info.Encoding != "" {
			t.Fatalf("GetObject %s = %d bytes %q, %v", f.path, len(obj.Raw), obj.Info.Encoding, err)
		}
		r, err := s.OpenObject(ctx, d)
		if err != nil || !r.External() {
			t.Fatalf("OpenObject = %v (external %v)", err, r != nil && r.External())
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, f.data) {
			t.Errorf("ObjectReader %s: %d bytes, %v", f.path, len(got), err)
		}
		o, err := b.Client().GetObject(ctx, b.cfg.Bucket, b.Key(d), minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		inS3, err := io.ReadAll(o)
		if err != nil || manifest.Sum(inS3) != d {
			t.Errorf("the S3 object of %s does not hash to its key: %v", f.path, err)
		}
		if k := bytesKeys(t, s, d); len(k) != 0 {
			t.Errorf("%s has Badger keys for its bytes: %q", f.path, k)
		}
	}
	big := manifest.Sum(files[3].data)
	r, _ := s.OpenObject(ctx, big)
	p := make([]byte, 100)
	if n, err := r.ReadAt(p, 1<<20-50); err != nil || n != 100 || !bytes.Equal(p, files[3].data[1<<20-50:1<<20+50]) {
		t.Errorf("ReadAt across a chunk = %d, %v", n, err)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() || rep.Objects != len(files) {
		t.Errorf("Verify = %+v, %v", rep, err)
	}

	// A backup holds the catalog; restored beside the same bucket it is whole.
	if testBackend() == backendPostgresS3 {
		return // backup is for a Badger catalog (TestClusterRefusals)
	}
	var backup bytes.Buffer
	if _, err := s.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t)
	opts.Blobs = b
	restored := openStore(t, opts)
	if _, err := restored.Restore(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	if rep, err := restored.Verify(ctx); err != nil || !rep.OK() || rep.Objects != len(files) {
		t.Errorf("Verify of the restored store = %+v, %v", rep, err)
	}
	if obj, err := restored.GetObject(ctx, big); err != nil || !bytes.Equal(obj.Raw, files[3].data) {
		t.Errorf("GetObject from the restored store: %v", err)
	}
	if !restored.ExternalObjects() {
		t.Error("the restored store does not know its objects are external")
	}
}

// TestS3ObjectsDamaged: bytes changed in the bucket behind the store's
// back are never served as the object: every read fails with ErrCorrupt,
// and the scrub reports the object.
func TestS3ObjectsDamaged(t *testing.T) {
	ctx := context.Background()
	big := compressible(3<<20, "damaged")
	cases := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"one bit flipped", func(b []byte) []byte { b[2<<20+5] ^= 1; return b }},
		{"replaced, same length", func(b []byte) []byte { return bytes.Repeat([]byte{'x'}, len(b)) }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"bytes appended", func(b []byte) []byte { return append(b, '!') }},
	}
	s, _, b := newS3Store(t)
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := append(append([]byte{}, big...), byte(i)) // a distinct object per case
			d := manifest.Sum(raw)
			f := file{"big.js", raw}
			putFiles(t, s, f)
			if _, err := s.CommitBundle(ctx, "app", "1.0."+strconv.Itoa(i), manifestOf(t, f), api.BundleMeta{}); err != nil {
				t.Fatal(err)
			}
			putRawS3(t, b, d, tc.damage(append([]byte{}, raw...)))

			rep, err := s.Verify(ctx)
			if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemCorruptObject || rep.Problems[0].Digest != d {
				t.Errorf("Verify = %+v, %v; want one %s of %s", rep.Problems, err, ProblemCorruptObject, d)
			}
			if _, err := s.GetObject(ctx, d); !errors.Is(err, ErrCorrupt) && tc.name != "bytes appended" {
				t.Errorf("GetObject = %v, want ErrCorrupt", err)
			}
			r, err := s.OpenObject(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if tc.name == "bytes appended" {
				// The object's own bytes are intact: served right, and only
				// the scrub (above) sees the blob is longer.
				if err != nil || !bytes.Equal(got, raw) {
					t.Errorf("read = %d bytes, %v", len(got), err)
				}
			} else if !errors.Is(err, ErrCorrupt) || bytes.Equal(got, raw) {
				t.Errorf("read = %d bytes, %v; want ErrCorrupt", len(got), err)
			}
			putRawS3(t, b, d, raw) // repaired for the next case
		})
	}
}

// TestS3ObjectsGC: the collector deletes an unreferenced object's blob
// with its record, and blobs no record names (a crash between upload and
// record, a failed delete); derived objects go to S3 too.
func TestS3ObjectsGC(t *testing.T) {
	s, c, b := newS3Store(t)
	ctx := context.Background()
	keep, gone := someFiles(2, "keep"), file{"gone", []byte("never committed")}
	putFiles(t, s, append(keep, gone)...)
	if _, err := s.CreateApp(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	m := manifestOf(t, keep...)
	if _, err := s.CommitBundle(ctx, "app", "1.0.0", m, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	zip := []byte("a derived zip")
	objs, err := s.PutDerived(ctx, DerivedZip, []DerivedItem{{Src: m.Digest(), Raw: zip}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.StatBlob(ctx, objs[0]); err != nil {
		t.Errorf("derived object not in S3: %v", err)
	}
	orphan := []byte("uploaded by a server that crashed before the record")
	putRawS3(t, b, manifest.Sum(orphan), orphan)
	if rep, err := s.Verify(ctx); err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemOrphanRecord || rep.Problems[0].Digest != manifest.Sum(orphan) {
		t.Errorf("Verify = %+v, %v; want the orphan blob", rep.Problems, err)
	}

	st, err := s.CollectGarbage(ctx)
	if err != nil || st.OrphanBlobs != 1 || st.Marked != 2 { // gone, the zip
		t.Fatalf("CollectGarbage = %+v, %v", st, err)
	}
	c.Advance(2 * time.Hour)
	if st, err = s.CollectGarbage(ctx); err != nil || st.Removed != 2 {
		t.Fatalf("CollectGarbage = %+v, %v", st, err)
	}
	want := []string{blobEntry(manifest.Sum(keep[0].data), int64(len(keep[0].data))), blobEntry(manifest.Sum(keep[1].data), int64(len(keep[1].data)))}
	if got := listBlobs(t, b); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("blobs left = %q, want %q", got, want)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// TestS3RefusesMismatchedBody: the upload carries the digest, so S3 itself
// refuses a body that does not hash to it (as one damaged on the way
// would), and nothing is left under the key.
func TestS3RefusesMismatchedBody(t *testing.T) {
	b := openTestS3(t, s3test.Start(t), "mismatch")
	ctx := context.Background()
	d := manifest.Sum([]byte("the bytes the digest names"))
	if err := b.upload(ctx, d, []byte("other bytes on the wire")); err == nil {
		t.Fatal("S3 accepted a body that does not hash to its digest")
	}
	if _, err := b.StatBlob(ctx, d); !errors.Is(err, ErrNotFound) {
		t.Errorf("StatBlob after a refused upload = %v, want ErrNotFound", err)
	}
}

// TestS3GCRacesPut: a PutObject of an object the collector is deleting
// ends with the object whole (record and blob) or absent, never a record
// without its blob.
func TestS3GCRacesPut(t *testing.T) {
	s, c, b := newS3Store(t)
	ctx := context.Background()
	for i := range 12 {
		raw := []byte("object of round " + strconv.Itoa(i))
		d := manifest.Sum(raw)
		putFiles(t, s, file{"x", raw})
		if _, err := s.CollectGarbage(ctx); err != nil { // marks it
			t.Fatal(err)
		}
		c.Advance(2 * time.Hour)
		done := make(chan error, 1)
		go func() { _, err := s.PutObject(ctx, d, raw); done <- err }()
		if _, err := s.CollectGarbage(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		_, statErr := s.StatObject(ctx, d)
		_, blobErr := b.StatBlob(ctx, d)
		if statErr == nil && blobErr != nil {
			t.Fatalf("round %d: a record without its blob: %v", i, blobErr)
		}
		if statErr == nil {
			if obj, err := s.GetObject(ctx, d); err != nil || !bytes.Equal(obj.Raw, raw) {
				t.Fatalf("round %d: GetObject = %v", i, err)
			}
		}
	}
	c.Advance(2 * time.Hour)
	s.CollectGarbage(ctx)
	c.Advance(2 * time.Hour)
	if _, err := s.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}
