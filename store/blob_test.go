package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store/s3test"
)

// blobBackends are the Blobs the conformance suite runs against: Badger
// (a store's own bytes) and S3 (versitygw).
var blobBackends = []struct {
	name string
	open func(t *testing.T) Blobs
}{
	{"badger", func(t *testing.T) Blobs { s, _ := newTestStore(t); return s.BadgerBlobs() }},
	{"s3", func(t *testing.T) Blobs { return openTestS3(t, s3test.Start(t), "conformance") }},
}

// openTestS3 opens the bucket of srv under prefix.
func openTestS3(t testing.TB, srv *s3test.Server, prefix string) *S3Blobs {
	t.Helper()
	cfg, err := ParseS3URL(srv.URL(prefix), envOf(srv.Env()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envOf is a getenv over KEY=VALUE pairs.
func envOf(kv []string) func(string) string {
	return func(k string) string {
		for _, e := range kv {
			if after, ok := bytes.CutPrefix([]byte(e), []byte(k+"=")); ok {
				return string(after)
			}
		}
		return ""
	}
}

// TestBlobConformance holds every Blobs to one contract.
func TestBlobConformance(t *testing.T) {
	for _, be := range blobBackends {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			ctx := context.Background()
			big := randomBytes(t, 2<<20+12345) // spans Badger chunks
			small := []byte("a small blob")
			empty := []byte{}
			for _, raw := range [][]byte{big, small, empty, small} { // small twice: idempotent
				if err := b.PutBlob(ctx, manifest.Sum(raw), raw); err != nil {
					t.Fatalf("PutBlob(%d bytes): %v", len(raw), err)
				}
			}
			var me *manifest.Error
			wrong := manifest.Sum([]byte("other bytes"))
			if err := b.PutBlob(ctx, wrong, small); !errors.As(err, &me) || me.Code != manifest.CodeDigestMismatch {
				t.Errorf("PutBlob of bytes that hash elsewhere = %v, want %s", err, manifest.CodeDigestMismatch)
			}
			if _, err := b.StatBlob(ctx, wrong); !errors.Is(err, ErrNotFound) {
				t.Errorf("StatBlob after a refused put = %v, want ErrNotFound", err)
			}

			reads := []struct {
				name    string
				raw     []byte
				off, n  int
				want    []byte
				wantEOF bool
			}{
				{"whole", big, 0, len(big), big, false},
				{"across a MiB boundary", big, 1<<20 - 10, 20, big[1<<20-10 : 1<<20+10], false},
				{"tail", big, len(big) - 5, 5, big[len(big)-5:], false},
				{"past the end", big, len(big) - 5, 10, big[len(big)-5:], true},
				{"at the end", small, len(small), 4, nil, true},
				{"small middle", small, 2, 5, small[2:7], false},
				{"empty blob", empty, 0, 1, nil, true},
			}
			for _, r := range reads {
				p := make([]byte, r.n)
				n, err := b.ReadBlob(ctx, manifest.Sum(r.raw), p, int64(r.off))
				if r.wantEOF != (err == io.EOF) || (err != nil && err != io.EOF) {
					t.Errorf("%s: ReadBlob err = %v, want EOF %v", r.name, err, r.wantEOF)
				}
				if !bytes.Equal(p[:n], r.want) {
					t.Errorf("%s: ReadBlob read %d bytes, want %d matching", r.name, n, len(r.want))
				}
			}
			for _, raw := range [][]byte{big, small, empty} {
				if n, err := b.StatBlob(ctx, manifest.Sum(raw)); err != nil || n != int64(len(raw)) {
					t.Errorf("StatBlob = %d, %v; want %d", n, err, len(raw))
				}
			}
			absent := manifest.Sum([]byte("never stored"))
			if _, err := b.ReadBlob(ctx, absent, make([]byte, 4), 0); !errors.Is(err, ErrNotFound) {
				t.Errorf("ReadBlob of an absent blob = %v, want ErrNotFound", err)
			}
			if err := b.DeleteBlob(ctx, absent); err != nil {
				t.Errorf("DeleteBlob of an absent blob = %v", err)
			}
			if err := b.DeleteBlob(ctx, manifest.Sum(small)); err != nil {
				t.Fatal(err)
			}
			if _, err := b.StatBlob(ctx, manifest.Sum(small)); !errors.Is(err, ErrNotFound) {
				t.Errorf("StatBlob after DeleteBlob = %v, want ErrNotFound", err)
			}
			got := listBlobs(t, b)
			want := []string{blobEntry(manifest.Sum(big), int64(len(big))), blobEntry(manifest.Sum(empty), 0)}
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("ListBlobs = %q, want %q", got, want)
			}
			stop := errors.New("stop")
			if err := b.ListBlobs(ctx, func(manifest.Digest, int64) error { return stop }); err != stop {
				t.Errorf("ListBlobs with a failing fn = %v, want its error", err)
			}
		})
	}
}

func blobEntry(d manifest.Digest, n int64) string { return d.String() + "/" + strconv.FormatInt(n, 10) }

// listBlobs lists b as sorted "digest/size" strings.
func listBlobs(t *testing.T, b Blobs) []string {
	t.Helper()
	var out []string
	if err := b.ListBlobs(context.Background(), func(d manifest.Digest, n int64) error {
		out = append(out, blobEntry(d, n))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestParseS3URL: --objects URLs and --objects-redirect values, good and bad.
func TestParseS3URL(t *testing.T) {
	creds := envOf([]string{"AWS_ACCESS_KEY_ID=ak", "AWS_SECRET_ACCESS_KEY=sk"})
	noCreds := envOf(nil)
	for _, tc := range []struct {
		url    string
		getenv func(string) string
		want   S3Config // compared when err is ""
		err    string
	}{
		{"s3://b/p/q?endpoint=https://s3.example.com&region=eu-west-1", creds,
			S3Config{Bucket: "b", Prefix: "p/q/", Endpoint: "https://s3.example.com", Region: "eu-west-1", AccessKey: "ak", SecretKey: "sk"}, ""},
		{"s3://b?endpoint=http://127.0.0.1:7070", creds,
			S3Config{Bucket: "b", Endpoint: "http://127.0.0.1:7070", Region: "us-east-1", AccessKey: "ak", SecretKey: "sk"}, ""},
		{"s3://b/x?endpoint=http://h:1&credentials=/etc/creds", noCreds,
			S3Config{Bucket: "b", Prefix: "x/", Endpoint: "http://h:1", Region: "us-east-1", CredentialsFile: "/etc/creds"}, ""},
		{"https://b/x?endpoint=http://h", creds, S3Config{}, "must start with s3://"},
		{"s3:///x?endpoint=http://h", creds, S3Config{}, "must name a bucket"},
		{"s3://b/x", creds, S3Config{}, "needs ?endpoint=URL"},
		{"s3://b/x?endpoint=ftp://h", creds, S3Config{}, "must be http:// or https://"},
		{"s3://b/x?endpoint=http://h/path", creds, S3Config{}, "with no path"},
		{"s3://b/x?endpoint=http://h&colour=red", creds, S3Config{}, `unknown query parameter "colour"`},
		{"s3://b/x?endpoint=http://h&region=a&region=b", creds, S3Config{}, `"region" must be given once`},
		{"s3://b/x?endpoint=http://h", noCreds, S3Config{}, "no credentials"},
	} {
		got, err := ParseS3URL(tc.url, tc.getenv)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseS3URL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		case tc.err != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseS3URL(%q) = %v; want ErrInvalid saying %q", tc.url, err, tc.err)
		}
	}
	for v, ok := range map[string]bool{
		"presign": true, "https://cdn.example.com": true, "http://h/base/": true,
		"": false, "cdn.example.com": false, "https://cdn.example.com?x=1": false, "ftp://h": false,
	} {
		var c S3Config
		if err := c.SetRedirect(v); (err == nil) != ok || ok && c.Redirect != v {
			t.Errorf("SetRedirect(%q) = %v, Redirect %q", v, err, c.Redirect)
		}
	}
}
