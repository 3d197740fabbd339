package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// putObjects stores objects directly and returns their digests.
func putObjects(t testing.TB, env *servertest.Env, objects ...[]byte) []manifest.Digest {
	var ds []manifest.Digest
	for _, b := range objects {
		d := manifest.Sum(b)
		if _, err := env.Store.PutObject(context.Background(), d, b); err != nil {
			panic(err)
		}
		ds = append(ds, d)
	}
	return ds
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// transports runs f once over HTTPS (TCP) and once over HTTP/3.
func transports(t *testing.T, env *servertest.Env, f func(t *testing.T, c *http.Client)) {
	for _, tc := range []struct {
		name   string
		client *http.Client
		proto  int
	}{
		{"https", env.HTTPSClient(), 2},
		{"http3", env.HTTP3Client(), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f(t, &http.Client{Transport: protoCheck{tc.client.Transport, tc.proto, t}})
		})
	}
}

// protoCheck fails the test when a response came over another HTTP version.
type protoCheck struct {
	rt    http.RoundTripper
	major int
	t     *testing.T
}

func (p protoCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.rt.RoundTrip(r)
	if err == nil && resp.ProtoMajor != p.major {
		p.t.Errorf("response over %s, want HTTP/%d", resp.Proto, p.major)
	}
	return resp, err
}

func get(t *testing.T, c *http.Client, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestObjectServing(t *testing.T) {
	env := servertest.Start(t)
	text := []byte(strings.Repeat("console.log('patchwire');\n", 4000)) // compressible: stored as zstd
	noise := randomBytes(100_000, 1)                                    // incompressible: stored raw
	ds := putObjects(t, env, text, noise)

	transports(t, env, func(t *testing.T, c *http.Client) {
		for i, body := range [][]byte{text, noise} {
			d := ds[i]
			url := env.URL + "/o/" + d.String()
			etag := `"` + d.String() + `"`

			resp, got := get(t, c, "GET", url, nil)
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Fatalf("GET %d: status %d, %d bytes, want 200 and %d bytes", i, resp.StatusCode, len(got), len(body))
			}
			wantHeaders := map[string]string{
				"ETag":           etag,
				"Cache-Control":  server.CacheForever,
				"Accept-Ranges":  "bytes",
				"Content-Length": fmt.Sprint(len(body)),
			}
			for k, v := range wantHeaders {
				if g := resp.Header.Get(k); g != v {
					t.Errorf("GET %d: %s = %q, want %q", i, k, g, v)
				}
			}
			if ce := resp.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("identity requested, got Content-Encoding %q", ce)
			}

			resp, got = get(t, c, "HEAD", url, nil)
			if resp.StatusCode != 200 || len(got) != 0 || resp.Header.Get("ETag") != etag || resp.ContentLength != int64(len(body)) {
				t.Errorf("HEAD %d: status %d, body %d bytes, ETag %q, length %d", i, resp.StatusCode, len(got), resp.Header.Get("ETag"), resp.ContentLength)
			}

			resp, got = get(t, c, "GET", url, map[string]string{"Range": "bytes=100-199"})
			if resp.StatusCode != 206 || !bytes.Equal(got, body[100:200]) ||
				resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(body)) {
				t.Errorf("Range: status %d, Content-Range %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(got))
			}
			resp, got = get(t, c, "GET", url, map[string]string{"Range": "bytes=-10"})
			if resp.StatusCode != 206 || !bytes.Equal(got, body[len(body)-10:]) {
				t.Errorf("suffix Range: status %d, %d bytes", resp.StatusCode, len(got))
			}
			resp, got = get(t, c, "GET", url, map[string]string{"Range": "bytes=100-199", "If-Range": etag})
			if resp.StatusCode != 206 || len(got) != 100 {
				t.Errorf("If-Range current: status %d, %d bytes", resp.StatusCode, len(got))
			}
			resp, got = get(t, c, "GET", url, map[string]string{"Range": "bytes=100-199", "If-Range": `"stale"`})
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Errorf("If-Range stale: status %d, %d bytes, want 200 full", resp.StatusCode, len(got))
			}
			resp, _ = get(t, c, "GET", url, map[string]string{"If-None-Match": etag})
			if resp.StatusCode != 304 {
				t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
			}
		}

		// zstd for clients that accept it, when stored compressed.
		resp, got := get(t, c, "GET", env.URL+"/o/"+ds[0].String(), map[string]string{"Accept-Encoding": "gzip, zstd"})
		if resp.Header.Get("Content-Encoding") != "zstd" || resp.Header.Get("ETag") == `"`+ds[0].String()+`"` {
			t.Fatalf("Accept-Encoding zstd: Content-Encoding %q, ETag %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"))
		}
		dec, _ := zstd.NewReader(nil)
		raw, err := dec.DecodeAll(got, nil)
		if err != nil || !bytes.Equal(raw, text) {
			t.Fatalf("zstd body does not decode to the object: %v", err)
		}
		if len(got) >= len(text)/10 {
			t.Errorf("zstd body %d bytes for %d of repetitive text", len(got), len(text))
		}
		resp, _ = get(t, c, "GET", env.URL+"/o/"+ds[1].String(), map[string]string{"Accept-Encoding": "zstd"})
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("incompressible object served with Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
	})
}

// TestObjectHostileRequests follows security-bar cases 13 and 14.
func TestObjectHostileRequests(t *testing.T) {
	env := servertest.Start(t)
	body := randomBytes(100_000, 2)
	d := putObjects(t, env, body)[0]
	hexd := d.String()
	c := env.HTTP1Client()

	// 5,000 one-byte ranges fit under the 64 KiB header limit; 10,000 do not
	// and are refused with 431 before any range logic runs.
	ranges := func(n int) string {
		var b strings.Builder
		b.WriteString("bytes=0-0")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, ",%d-%d", 2*i, 2*i)
		}
		return b.String()
	}
	cases := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		full   bool // body must be the whole object
	}{
		{"uppercase digest", "/o/" + strings.ToUpper(hexd), nil, 400, false},
		{"63 hex", "/o/" + hexd[:63], nil, 400, false},
		{"65 hex", "/o/" + hexd + "0", nil, 400, false},
		{"prefix of existing", "/o/" + hexd[:10], nil, 400, false},
		{"non-hex", "/o/" + strings.Repeat("g", 64), nil, 400, false},
		{"dot-dot-slash", "/o/%2e%2e%2f" + hexd[:55], nil, 400, false},
		{"unknown digest", "/o/" + strings.Repeat("0", 64), nil, 404, false},
		{"5,000 ranges", "/o/" + hexd, map[string]string{"Range": ranges(5000)}, 200, true},
		{"10,000 ranges", "/o/" + hexd, map[string]string{"Range": ranges(10000)}, 431, false},
		{"overlapping ranges", "/o/" + hexd, map[string]string{"Range": "bytes=0-50000,100-60000"}, 200, true},
		{"bytes=-0", "/o/" + hexd, map[string]string{"Range": "bytes=-0"}, 416, false},
		{"past the end", "/o/" + hexd, map[string]string{"Range": "bytes=999999999-"}, 416, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := get(t, c, "GET", env.URL+tc.path, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %.200s)", resp.StatusCode, tc.status, got)
			}
			if tc.full && !bytes.Equal(got, body) {
				t.Errorf("want the whole object, got %d bytes", len(got))
			}
			if len(got) > len(body)+1024 {
				t.Errorf("response of %d bytes for a %d-byte object", len(got), len(body))
			}
			if resp.StatusCode == 416 && resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(body)) {
				t.Errorf("416 with Content-Range %q", resp.Header.Get("Content-Range"))
			}
			if resp.StatusCode == 400 && !strings.Contains(string(got), `"error"`) {
				t.Errorf("400 without a JSON error body: %s", got)
			}
		})
	}
}

func TestAltSvcWhileHTTP3Up(t *testing.T) {
	env := servertest.Start(t)
	resp, _ := get(t, env.HTTPSClient(), "GET", env.URL+"/healthz", nil)
	if alt := resp.Header.Get("Alt-Svc"); !strings.HasPrefix(alt, `h3=":`) {
		t.Fatalf("Alt-Svc = %q, want an h3 advertisement", alt)
	}
	resp, _ = get(t, env.HTTP3Client(), "GET", env.URL+"/healthz", nil)
	if resp.ProtoMajor != 3 {
		t.Fatalf("HTTP/3 client answered over %s", resp.Proto)
	}
}
