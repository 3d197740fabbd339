package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// FuzzUploadRequest feeds arbitrary bytes to the upload endpoint's parsing:
// strict JSON decoding, then manifest validation. It must never panic, and
// whatever it accepts must be a valid manifest that round-trips.
func FuzzUploadRequest(f *testing.F) {
	f.Add([]byte(`{"version":"1.0.0","files":[{"path":"index.html","sha256":"` + manifest.Sum(nil).String() + `","size":0}]}`))
	f.Add([]byte(`{"version":"1.0.0","files":[{"path":"../a","sha256":"00","size":1}]}`))
	f.Add([]byte(`{"version":"1.0.0","version":"2","files":[]}`))
	f.Add([]byte(`{"Version":"1.0.0"}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[`))
	lim := manifest.Limits{MaxFiles: 50, MaxBundleBytes: 1 << 20, MaxFileBytes: 1 << 20, MaxPathBytes: 256, MaxPathDepth: 8}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/x", bytes.NewReader(body))
		var req api.UploadRequest
		if err := decodeJSON(httptest.NewRecorder(), r, 64<<10, &req); err != nil {
			if status, _ := statusOf(err); status != 400 && status != 413 {
				t.Fatalf("decode error mapped to %d: %v", status, err)
			}
			return
		}
		m, err := uploadManifest(req, lim)
		if err != nil {
			if status, _ := statusOf(err); status != 400 && status != 413 {
				t.Fatalf("manifest error mapped to %d: %v", status, err)
			}
			return
		}
		back, err := manifest.Decode(m.Encode(), lim)
		if err != nil || back.Digest() != m.Digest() {
			t.Fatalf("accepted manifest does not round-trip: %v", err)
		}
	})
}

// FuzzRangeHeader serves an object with arbitrary Range and If-Range
// headers: never a panic, never more than the object plus a little framing.
func FuzzRangeHeader(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-0", "bytes=5-", "bytes=0-0,2-2,4-4", "bytes=999999999-", "bytes=-", "items=0-1", "bytes=1-0", "bytes=-99999999999999999999"} {
		f.Add(s, `"etag"`)
	}
	body := bytes.Repeat([]byte("0123456789"), 1000)
	f.Fuzz(func(t *testing.T, rng, ifRange string) {
		r := httptest.NewRequest("GET", "/o/x", nil)
		r.Header.Set("Range", rng)
		r.Header.Set("If-Range", ifRange)
		w := httptest.NewRecorder()
		serveImmutable(w, r, `"etag"`, body)
		resp := w.Result()
		got, _ := io.ReadAll(resp.Body)
		if len(got) > len(body)+1024 {
			t.Fatalf("Range %q: %d-byte body for a %d-byte object", rng, len(got), len(body))
		}
		switch resp.StatusCode {
		case http.StatusOK, http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable:
		default:
			t.Fatalf("Range %q: status %d", rng, resp.StatusCode)
		}
		if resp.StatusCode == http.StatusOK && !bytes.Equal(got, body) {
			t.Fatalf("Range %q: 200 with %d bytes", rng, len(got))
		}
		if resp.StatusCode == http.StatusPartialContent && resp.Header.Get("Content-Range") == "" {
			t.Fatal(fmt.Sprintf("Range %q: 206 without Content-Range", rng))
		}
	})
}
