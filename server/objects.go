package server

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store"
)

// CacheForever is the Cache-Control of every content-addressed response.
const CacheForever = "public, max-age=31536000, immutable"

// handleObject serves GET and HEAD /o/{sha256}: the object's bytes under a
// URL that never changes meaning, so any CDN may cache it forever.
func (s *Server) handleObject(w http.ResponseWriter, r *http.Request) {
	d, ok := s.pathDigest(w, r, "sha256")
	if !ok {
		return
	}
	s.serveObject(w, r, d, true)
}

// pathDigest parses the path parameter name as a digest (lowercase hex
// SHA-256). When it is not one, it answers 400 bad_digest and reports false.
func (s *Server) pathDigest(w http.ResponseWriter, r *http.Request, name string) (manifest.Digest, bool) {
	d, err := manifest.ParseDigest(r.PathValue(name))
	if err != nil {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, "bad_digest", err.Error()))
		return manifest.Digest{}, false
	}
	return d, true
}

// negotiateZstd is the content negotiation of a content-addressed response
// that has a zstd form (zstd true) besides its identity form: such a
// response varies by Accept-Encoding, and a client that accepts zstd gets
// that form (Content-Encoding: zstd, ETag "<sha256>.zst"). It sets the
// headers and reports whether the zstd form goes out. A response with no
// zstd form sets nothing, so a cache keeps one copy of it.
func negotiateZstd(h http.Header, r *http.Request, zstd bool) bool {
	if !zstd {
		return false
	}
	h.Set("Vary", "Accept-Encoding")
	if !acceptsEncoding(r.Header.Get("Accept-Encoding"), "zstd") {
		return false
	}
	h.Set("Content-Encoding", "zstd")
	return true
}

// zstdETag is the ETag of the zstd form of the bytes whose SHA-256 is d.
func zstdETag(d manifest.Digest) string { return `"` + d.String() + `.zst"` }

// serveObject answers with the stored object d (serveContent), streamed a
// chunk at a time from the store: HEAD and conditional requests read only
// its om/ record, a body holds one chunk in memory whatever the object's
// size or the client's speed, and each chunk is checked (CRC-32C) before
// any of its bytes go out. With encodings, an object stored zstd goes out
// as stored to clients that accept zstd (ETag "<sha256>.zst"), and only
// such an object varies by Accept-Encoding, so a cache keeps one copy of
// every other object.
//
// A chunk that fails its check before the body started is a JSON error
// (500 for corrupt bytes, never cached); after it started, the response is
// aborted (http.ErrAbortHandler: the connection or stream is reset), so a
// client never sees a body end as if complete.
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, d manifest.Digest, encodings bool) {
	rd, err := s.store.OpenObject(r.Context(), d)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	defer func() { rd.Close() }()
	if rd.External() && s.redirectObject(w, r, d) {
		return
	}
	etag := `"` + d.String() + `"`
	h := w.Header()
	if negotiateZstd(h, r, encodings && rd.Info().Encoding == store.EncodingZstd) {
		rd.Close()
		rd, etag = rd.Stored(), zstdETag(d)
	}
	bw := &heldHeaderWriter{ResponseWriter: w}
	serveContent(bw, r, etag, rd, rd.Size())
	err = rd.Err()
	switch {
	case err == nil:
		bw.flush()
	case bw.wrote || r.Context().Err() != nil:
		if r.Context().Err() == nil {
			s.log.Error("object response aborted", "digest", d.String(), "err", err)
		}
		panic(http.ErrAbortHandler) // the client is gone, or must see a failed transfer
	default:
		for _, k := range contentHeaders {
			h.Del(k)
		}
		writeError(w, r, s.log, err)
	}
}

// redirectObject answers a request for the external object d (its bytes
// in S3-compatible storage) with 302 to where the blob store says it can
// be fetched (serve --objects-redirect: a presigned URL, cacheable a tenth
// of its validity, or the bucket's public base URL and the key, cacheable
// forever), and reports whether it did; false: the bytes are to be
// proxied. The bytes there are the raw object, whose SHA-256 is d, so the
// URL scheme's promise holds through the redirect.
func (s *Server) redirectObject(w http.ResponseWriter, r *http.Request, d manifest.Digest) bool {
	u, maxAge, ok, err := s.store.ObjectURL(r.Context(), d)
	if err != nil {
		writeError(w, r, s.log, err)
		return true
	}
	if !ok {
		return false
	}
	cc, mode := CacheForever, "base"
	if maxAge > 0 {
		cc, mode = "public, max-age="+strconv.FormatInt(maxAge, 10), "presign"
	}
	s.metrics.redirect.WithLabelValues(mode).Inc()
	w.Header().Set("Cache-Control", cc)
	http.Redirect(w, r, u, http.StatusFound)
	return true
}

// contentHeaders are the headers serveContent sets that an error answer
// must not carry.
var contentHeaders = []string{"ETag", "Cache-Control", "Content-Type", "X-Content-Type-Options",
	"Accept-Ranges", "Content-Length", "Content-Range", "Content-Encoding", "Vary", "Last-Modified"}

// heldHeaderWriter holds back the status line until the first body byte
// (or flush), so that a read failing before any byte went out can still be
// answered with an error status instead of a truncated 200.
type heldHeaderWriter struct {
	http.ResponseWriter
	status int  // status given to WriteHeader, not passed on yet
	wrote  bool // the status line was passed on
}

func (b *heldHeaderWriter) WriteHeader(code int) {
	if !b.wrote && b.status == 0 {
		b.status = code
	}
}

func (b *heldHeaderWriter) Write(p []byte) (int, error) {
	b.flush()
	return b.ResponseWriter.Write(p)
}

// flush passes the held status on.
func (b *heldHeaderWriter) flush() {
	if b.wrote {
		return
	}
	b.wrote = true
	if b.status != 0 {
		b.ResponseWriter.WriteHeader(b.status)
	}
}

// serveImmutable is serveContent over bytes in memory.
func serveImmutable(w http.ResponseWriter, r *http.Request, etag string, body []byte) {
	serveContent(w, r, etag, bytes.NewReader(body), int64(len(body)))
}

// serveContent answers with content-addressed bytes (content, size bytes
// long): strong ETag, immutable caching, HEAD, conditional requests and one
// Range (with If-Range). A request for several ranges gets the whole
// object, so small ranges cannot amplify a response; a Range in a unit
// other than bytes is ignored (RFC 9110 §14.2), so it gets the whole object
// too. HEAD and 304 answers read nothing from content.
func serveContent(w http.ResponseWriter, r *http.Request, etag string, content io.ReadSeeker, size int64) {
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", CacheForever)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Accept-Ranges", "bytes")
	rng := r.Header.Get("Range")
	switch {
	case rng == "":
	case strings.Contains(rng, ",") || len(r.Header.Values("Range")) > 1:
		r.Header.Del("Range")
	case !isBytesRange(rng):
		r.Header.Del("Range")
	case isEmptySuffixRange(rng):
		// "bytes=-0" asks for the last zero bytes: unsatisfiable (RFC 9110 §14.1.3).
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	default:
		// Range units are case-insensitive; net/http knows only "bytes=".
		_, spec, _ := strings.Cut(rng, "=")
		r.Header.Set("Range", "bytes="+spec)
	}
	http.ServeContent(alignRecords(w, r), r, "", time.Time{}, content)
}

// isBytesRange reports whether a Range header is in the bytes unit (in any
// case). A header without a unit is not.
func isBytesRange(rng string) bool {
	unit, _, ok := strings.Cut(rng, "=")
	return ok && strings.EqualFold(strings.TrimSpace(unit), "bytes")
}

// isEmptySuffixRange reports whether a bytes Range header is "bytes=-0"
// (any number of zeros), which net/http would answer with an empty 206.
func isEmptySuffixRange(rng string) bool {
	_, spec, _ := strings.Cut(rng, "=")
	n, ok := strings.CutPrefix(strings.TrimSpace(spec), "-")
	return ok && n != "" && strings.Trim(n, "0") == ""
}

// acceptsEncoding reports whether an Accept-Encoding header admits coding
// with a non-zero quality.
func acceptsEncoding(header, coding string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}
