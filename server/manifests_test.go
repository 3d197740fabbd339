package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// commitFiles stores n small files and commits them as version of app: a
// bundle of n files like a web build's (assets/chunk-0001.js, ...).
func commitFiles(t *testing.T, env *servertest.Env, version string, n int) *manifest.Manifest {
	t.Helper()
	ctx := context.Background()
	es := make([]manifest.Entry, 0, n)
	for i := range n {
		b := []byte(fmt.Sprintf("export const v%d = %q;\n", i, version))
		if _, err := env.Store.PutObject(ctx, manifest.Sum(b), b); err != nil {
			t.Fatal(err)
		}
		es = append(es, manifest.Entry{Path: fmt.Sprintf("assets/chunk-%04d.js", i), Digest: manifest.Sum(b), Size: int64(len(b))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.CommitBundle(ctx, app, version, m, api.BundleMeta{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManifestServing covers GET and HEAD /m/{sha256}: the canonical
// encoding under its digest, cached forever, with Range, If-None-Match and
// zstd for clients that accept it.
func TestManifestServing(t *testing.T) {
	env := servertest.Start(t)
	if _, err := env.Store.CreateApp(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	big := commitFiles(t, env, "1.0.0", 3000).Encode()
	small := commitFiles(t, env, "1.0.1", 1).Encode()
	bigD, smallD := manifest.Sum(big), manifest.Sum(small)
	tag := func(d manifest.Digest, suffix string) string { return `"` + d.String() + suffix + `"` }
	zstdOnly := map[string]string{"Accept-Encoding": "zstd"}

	cases := []struct {
		name     string
		method   string
		d        manifest.Digest
		hdr      map[string]string
		status   int
		body     []byte // identity bytes the (decoded) body must equal; nil: empty
		etag     string
		encoding string // Content-Encoding
		vary     bool   // Vary: Accept-Encoding
	}{
		{"GET", "GET", bigD, nil, 200, big, tag(bigD, ""), "", true},
		// A one-file manifest is too short for zstd to gain: no zstd form, no Vary.
		{"GET small", "GET", smallD, nil, 200, small, tag(smallD, ""), "", false},
		{"HEAD", "HEAD", bigD, nil, 200, nil, tag(bigD, ""), "", true},
		{"Range", "GET", bigD, map[string]string{"Range": "bytes=100-199"}, 206, big[100:200], tag(bigD, ""), "", true},
		{"suffix Range", "GET", smallD, map[string]string{"Range": "bytes=-10"}, 206, small[len(small)-10:], tag(smallD, ""), "", false},
		{"If-None-Match", "GET", bigD, map[string]string{"If-None-Match": tag(bigD, "")}, 304, nil, tag(bigD, ""), "", true},
		{"If-None-Match stale", "GET", smallD, map[string]string{"If-None-Match": `"stale"`}, 200, small, tag(smallD, ""), "", false},
		{"zstd", "GET", bigD, map[string]string{"Accept-Encoding": "gzip, zstd"}, 200, big, tag(bigD, ".zst"), "zstd", true},
		{"zstd HEAD", "HEAD", bigD, zstdOnly, 200, nil, tag(bigD, ".zst"), "zstd", true},
		{"zstd If-None-Match", "GET", bigD, map[string]string{"Accept-Encoding": "zstd", "If-None-Match": tag(bigD, ".zst")}, 304, nil, tag(bigD, ".zst"), "zstd", true},
		{"zstd small", "GET", smallD, zstdOnly, 200, small, tag(smallD, ""), "", false},
		{"zstd refused", "GET", bigD, map[string]string{"Accept-Encoding": "zstd;q=0"}, 200, big, tag(bigD, ""), "", true},
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	transports(t, env, func(t *testing.T, c *http.Client) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, got := get(t, c, tc.method, env.URL+"/m/"+tc.d.String(), tc.hdr)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d (body %.200s)", resp.StatusCode, tc.status, got)
				}
				want := map[string]string{
					"ETag":          tc.etag,
					"Cache-Control": server.CacheForever,
				}
				if tc.vary {
					want["Vary"] = "Accept-Encoding"
				} else {
					want["Vary"] = ""
				}
				if tc.status != 304 { // net/http drops both from a 304
					want["Content-Type"] = "application/octet-stream"
					want["Content-Encoding"] = tc.encoding
				}
				for k, v := range want {
					if g := resp.Header.Get(k); g != v {
						t.Errorf("%s = %q, want %q", k, g, v)
					}
				}
				if tc.encoding == "zstd" && len(got) > 0 {
					raw, err := dec.DecodeAll(got, nil)
					if err != nil {
						t.Fatalf("zstd body: %v", err)
					}
					if len(got) >= len(raw) {
						t.Errorf("zstd body of %d bytes for %d", len(got), len(raw))
					}
					got = raw
				}
				if !bytes.Equal(got, tc.body) {
					t.Fatalf("body of %d bytes, want %d", len(got), len(tc.body))
				}
				if tc.method == "HEAD" && tc.encoding == "" && resp.ContentLength != int64(len(big)) {
					t.Errorf("HEAD Content-Length %d, want %d", resp.ContentLength, len(big))
				}
				if tc.status == 200 && tc.body != nil {
					if manifest.Sum(got) != tc.d {
						t.Errorf("body hashes to %s, want %s", manifest.Sum(got), tc.d)
					}
					if _, err := manifest.Decode(got, manifest.DefaultLimits()); err != nil {
						t.Errorf("manifest.Decode: %v", err)
					}
				}
			})
		}
	})
}

// TestManifestErrors covers the refusals of /m/{sha256}: a malformed digest
// is 400 bad_digest, a digest of no stored manifest (an object's, or a
// deleted bundle's) 404 not_found.
func TestManifestErrors(t *testing.T) {
	env := servertest.Start(t)
	ctx := context.Background()
	if _, err := env.Store.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	kept := commitFiles(t, env, "1.0.0", 2).Digest()
	gone := commitFiles(t, env, "1.0.1", 3).Digest()
	c := env.HTTPSClient()
	// Served once, so that its encoding is cached, then deleted.
	if resp, _ := get(t, c, "GET", env.URL+"/m/"+gone.String(), nil); resp.StatusCode != 200 {
		t.Fatalf("before delete: status %d", resp.StatusCode)
	}
	if err := env.Store.DeleteBundle(ctx, app, "1.0.1"); err != nil {
		t.Fatal(err)
	}
	object := manifest.Sum([]byte(fmt.Sprintf("export const v%d = %q;\n", 0, "1.0.0")))
	hexd := kept.String()
	cases := []struct {
		name   string
		method string
		path   string
		status int
		code   string // the JSON error code; "" for HEAD
	}{
		{"uppercase digest", "GET", "/m/" + strings.ToUpper(hexd), 400, "bad_digest"},
		{"63 hex", "GET", "/m/" + hexd[:63], 400, "bad_digest"},
		{"65 hex", "GET", "/m/" + hexd + "0", 400, "bad_digest"},
		{"non-hex", "GET", "/m/" + strings.Repeat("g", 64), 400, "bad_digest"},
		{"HEAD non-hex", "HEAD", "/m/" + strings.Repeat("g", 64), 400, ""},
		{"unknown digest", "GET", "/m/" + strings.Repeat("0", 64), 404, api.CodeNotFound},
		{"HEAD unknown digest", "HEAD", "/m/" + strings.Repeat("0", 64), 404, ""},
		{"object digest", "GET", "/m/" + object.String(), 404, api.CodeNotFound},
		{"deleted bundle", "GET", "/m/" + gone.String(), 404, api.CodeNotFound},
		{"kept bundle", "GET", "/m/" + hexd, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := get(t, c, tc.method, env.URL+tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %.200s)", resp.StatusCode, tc.status, got)
			}
			if tc.status < 400 {
				return
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("error with Cache-Control %q, want no-store", cc)
			}
			if resp.Header.Get("ETag") != "" {
				t.Errorf("error with ETag %q", resp.Header.Get("ETag"))
			}
			if tc.code == "" {
				return
			}
			var e api.Error
			if err := json.Unmarshal(got, &e); err != nil || e.Code != tc.code {
				t.Errorf("body %s (%v), want error %q", got, err, tc.code)
			}
		})
	}
	// Metrics label the route by its pattern.
	resp, text := get(t, c, "GET", env.URL+server.PathMetrics, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, method := range []string{"GET", "HEAD"} {
		want := `patchwire_http_request_duration_seconds_count{route="` + method + ` /m/{sha256}"}`
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
