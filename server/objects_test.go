package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

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

// TestObjectRangeUnits covers issue 14 item 5: a Range in a unit other
// than bytes is ignored (RFC 9110 §14.2): 200 with the whole object, not
// 416. The bytes unit is case-insensitive.
func TestObjectRangeUnits(t *testing.T) {
	env := servertest.Start(t)
	body := randomBytes(3000, 5)
	url := env.URL + "/o/" + putObjects(t, env, body)[0].String()
	transports(t, env, func(t *testing.T, c *http.Client) {
		for _, tc := range []struct {
			rng    string
			status int
			want   []byte
		}{
			{"items=0-1", 200, body},
			{"Items=0-1", 200, body},
			{"pages=1", 200, body},
			{"0-1", 200, body},
			{"bytes", 200, body},
			{"items=0-1, 5-6", 200, body},
			{"bytes=0-1", 206, body[:2]},
			{"BYTES=10-19", 206, body[10:20]},
			{" Bytes = 10-19", 206, body[10:20]},
			{"bytes=5000-", 416, nil},
		} {
			resp, got := get(t, c, "GET", url, map[string]string{"Range": tc.rng})
			if resp.StatusCode != tc.status || (tc.want != nil && !bytes.Equal(got, tc.want)) {
				t.Errorf("Range %q: status %d, %d bytes; want %d, %d bytes", tc.rng, resp.StatusCode, len(got), tc.status, len(tc.want))
			}
		}
	})
}

// TestObjectVary covers issue 14 item 7: only an object that has an
// encoded form (stored zstd) varies by Accept-Encoding; images, zips and
// anything else stored raw carry no Vary, so a cache keeps one copy.
func TestObjectVary(t *testing.T) {
	env := servertest.Start(t)
	text := []byte(strings.Repeat("export const x = 'patchwire';\n", 3000)) // stored zstd
	png := append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(618, 7)...)      // stored raw
	ds := putObjects(t, env, text, png)
	transports(t, env, func(t *testing.T, c *http.Client) {
		for _, tc := range []struct {
			name   string
			d      manifest.Digest
			method string
			hdr    map[string]string
			vary   string
			status int
		}{
			{"zstd object, identity", ds[0], "GET", nil, "Accept-Encoding", 200},
			{"zstd object, zstd", ds[0], "GET", map[string]string{"Accept-Encoding": "zstd"}, "Accept-Encoding", 200},
			{"zstd object, HEAD", ds[0], "HEAD", map[string]string{"Accept-Encoding": "gzip, br"}, "Accept-Encoding", 200},
			{"zstd object, 304", ds[0], "GET", map[string]string{"If-None-Match": `"` + ds[0].String() + `"`}, "Accept-Encoding", 304},
			{"raw object, identity", ds[1], "GET", nil, "", 200},
			{"raw object, zstd", ds[1], "GET", map[string]string{"Accept-Encoding": "zstd, gzip"}, "", 200},
			{"raw object, HEAD", ds[1], "HEAD", map[string]string{"Accept-Encoding": "br"}, "", 200},
			{"raw object, 304", ds[1], "GET", map[string]string{"If-None-Match": `"` + ds[1].String() + `"`}, "", 304},
			{"raw object, range", ds[1], "GET", map[string]string{"Range": "bytes=0-7", "Accept-Encoding": "zstd"}, "", 206},
		} {
			resp, _ := get(t, c, tc.method, env.URL+"/o/"+tc.d.String(), tc.hdr)
			if resp.StatusCode != tc.status || resp.Header.Get("Vary") != tc.vary || len(resp.Header.Values("Vary")) > 1 {
				t.Errorf("%s: status %d, Vary %q; want %d, %q", tc.name, resp.StatusCode, resp.Header.Values("Vary"), tc.status, tc.vary)
			}
		}
	})
}

// damageStoredBytes flips one byte of body's copy at offset in the value
// log, in place while the server runs, as a failing disk would. The object
// must be stored raw and larger than a chunk, so its bytes are in the value
// log as they are.
func damageStoredBytes(t *testing.T, env *servertest.Env, body []byte, offset int) {
	t.Helper()
	vlogs, _ := filepath.Glob(filepath.Join(env.Dir, "db", "*.vlog"))
	for _, p := range vlogs {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		at, ok := findInFile(t, f, body[offset:offset+64])
		if !ok {
			continue
		}
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, at); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("object bytes not found in any of %v", vlogs)
}

// findInFile returns the offset of needle in f, reading it in blocks
// (value-log files are large and sparse).
func findInFile(t *testing.T, f *os.File, needle []byte) (int64, bool) {
	t.Helper()
	buf := make([]byte, 4<<20)
	for base := int64(0); ; base += int64(len(buf) - len(needle)) {
		n, err := f.ReadAt(buf, base)
		if i := bytes.Index(buf[:n], needle); i >= 0 {
			return base + int64(i), true
		}
		if err != nil || n < len(buf) {
			return 0, false
		}
	}
}

// TestObjectDamagedNeverServed covers issue 14 item 8 (HEAD and 304 from
// the object's metadata) and keeps issue 9's rule that nothing corrupt is
// ever served: a flipped byte in the value log inside a large object.
// HEAD and If-None-Match still answer (they read no bytes: the old code
// read and hashed the whole object for them and failed); a GET whose first
// chunk is damaged is a 500 JSON error, never cached; a GET whose damage
// is in a later chunk sends only the good bytes before it, then aborts, so
// the client sees a failed download, not a complete one.
func TestObjectDamagedNeverServed(t *testing.T) {
	const size, chunk = 5<<20 + 123, 1 << 20
	for _, tc := range []struct {
		name   string
		offset int // of the damaged byte
	}{
		{"first chunk", 1000},
		{"fourth chunk", 3*chunk + 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.Start(t)
			body := randomBytes(size, 11)
			d := putObjects(t, env, body)[0]
			damageStoredBytes(t, env, body, tc.offset)
			url := env.URL + "/o/" + d.String()
			etag := `"` + d.String() + `"`
			transports(t, env, func(t *testing.T, c *http.Client) {
				resp, _ := get(t, c, "HEAD", url, nil)
				if resp.StatusCode != 200 || resp.ContentLength != size || resp.Header.Get("ETag") != etag {
					t.Errorf("HEAD: status %d, length %d, ETag %q; want 200 from the metadata", resp.StatusCode, resp.ContentLength, resp.Header.Get("ETag"))
				}
				resp, _ = get(t, c, "GET", url, map[string]string{"If-None-Match": etag})
				if resp.StatusCode != 304 {
					t.Errorf("If-None-Match: status %d; want 304", resp.StatusCode)
				}
				req, _ := http.NewRequest("GET", url, nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 500:
					if tc.offset >= chunk || !strings.Contains(string(got), `"error"`) || resp.Header.Get("Cache-Control") == server.CacheForever {
						t.Errorf("500 with body %.100q, Cache-Control %q", got, resp.Header.Get("Cache-Control"))
					}
				case resp.StatusCode == 200:
					if err == nil {
						t.Fatalf("damaged object served whole: %d bytes, no error", len(got))
					}
					if len(got) > tc.offset || !bytes.Equal(got, body[:len(got)]) {
						t.Fatalf("%d bytes served, past the damage at %d or not the object's", len(got), tc.offset)
					}
				default:
					t.Fatalf("GET: status %d", resp.StatusCode)
				}
			})
		})
	}
}

// TestObjectSlowReadersMemory covers issue 14 item 8: N slow readers of a
// big object must not pin N copies of it. Eight HTTP/1.1 clients on
// 127.0.0.1 start downloading a 32 MiB object and then stall; the server
// keeps at most a chunk per response, so the heap grows by far less than
// two objects' worth (the old code held a whole copy per reader: 256 MiB).
// Each client then reads the rest and checks it.
func TestObjectSlowReadersMemory(t *testing.T) {
	const size, readers = 32 << 20, 8
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"stored raw", randomBytes(size, 3)},
		{"stored zstd, sent decoded", bytes.Repeat([]byte("const patchwire = 'a slow reader';\n"), size/35+1)[:size]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.Start(t)
			d := putObjects(t, env, tc.body)[0]
			url := env.URL + "/o/" + d.String()
			c := env.HTTP1Client()
			c.Timeout = 0
			before := heapInuse()
			var bodies []io.ReadCloser
			for range readers {
				resp, err := c.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
					t.Fatal(err)
				}
				bodies = append(bodies, resp.Body)
			}
			time.Sleep(300 * time.Millisecond) // every response fills its socket buffers and blocks
			grown := int64(heapInuse()) - int64(before)
			t.Logf("heap in use grew by %d MiB with %d stalled readers of a %d MiB object", grown>>20, readers, size>>20)
			if grown > 2*size {
				t.Errorf("heap in use grew by %d MiB; want under %d MiB (2 × the object)", grown>>20, 2*size>>20)
			}
			for i, b := range bodies {
				rest, err := io.ReadAll(b)
				b.Close()
				if err != nil || !bytes.Equal(rest, tc.body[64<<10:]) {
					t.Errorf("reader %d: %d bytes, %v", i, len(rest), err)
				}
			}
		})
	}
}

// heapInuse is the live heap after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
