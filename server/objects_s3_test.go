package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/store/s3test"
)

// TestPatchesInS3: a patch stored in S3-compatible storage is served at
// its /d/ URL streamed, or with --objects-redirect as a 302 to the bytes
// in the bucket, like /o/.
func TestPatchesInS3(t *testing.T) {
	s3 := s3test.Start(t)
	patch := bytes.Repeat([]byte("a patch "), 1000)
	d := manifest.Sum(patch)
	k := store.PatchKey{Codec: delta.NameBsdiff, From: manifest.Sum([]byte("from")), To: manifest.Sum([]byte("to")), Bundle: true}
	for _, tc := range []struct{ redirect, location string }{
		{"", ""},
		{"presign", s3.Endpoint + "/" + s3.Bucket + "/" + "patches-presign/" + d.String() + "?"},
		{"https://cdn.example.com/o", "https://cdn.example.com/o/patches-https/" + d.String()},
	} {
		prefix := "patches-" + strings.SplitN(tc.redirect, ":", 2)[0]
		env := servertest.Start(t, servertest.WithStoreOptions(func(o *store.Options) {
			cfg, err := store.ParseS3URL(s3.URL(prefix), func(k string) string {
				return map[string]string{"AWS_ACCESS_KEY_ID": s3.AccessKey, "AWS_SECRET_ACCESS_KEY": s3.SecretKey}[k]
			})
			if err == nil && tc.redirect != "" {
				err = cfg.SetRedirect(tc.redirect)
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Blobs, err = store.OpenS3(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
		}))
		ctx := context.Background()
		if _, err := env.Store.PutObject(ctx, d, patch); err != nil {
			t.Fatal(err)
		}
		if err := env.Store.PutPatch(ctx, k, d, int64(len(patch))); err != nil {
			t.Fatal(err)
		}
		c := env.HTTPSClient()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(env.URL + "/d/" + k.Codec + "/" + k.From.String() + "/" + k.To.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		switch {
		case tc.redirect == "":
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, patch) || resp.Header.Get("ETag") != `"`+d.String()+`"` {
				t.Errorf("proxied /d/: %d, %d bytes, ETag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
			}
		case resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, tc.location):
			t.Errorf("%s: /d/ = %d, Location %q; want 302 to %s", tc.redirect, resp.StatusCode, loc, tc.location)
		case !strings.Contains(metricsText(t, env), `patchwire_object_redirects_total{mode="`+map[bool]string{true: "presign", false: "base"}[tc.redirect == "presign"]+`"} 1`):
			t.Errorf("%s: the redirect is not counted in /metrics", tc.redirect)
		case tc.redirect == "presign":
			r, err := http.Get(loc)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != http.StatusOK || manifest.Sum(b) != d {
				t.Errorf("presigned URL: %d, %d bytes not hashing to the patch", r.StatusCode, len(b))
			}
		}
	}
}
