package server

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// CacheForever is the Cache-Control of every content-addressed response.
const CacheForever = "public, max-age=31536000, immutable"

// handleObject serves GET and HEAD /o/{sha256}: the object's bytes under a
// URL that never changes meaning, so any CDN may cache it forever. The
// stored bytes are hash-verified by the store before they are sent.
func (s *Server) handleObject(w http.ResponseWriter, r *http.Request) {
	d, err := manifest.ParseDigest(r.PathValue("sha256"))
	if err != nil {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, "bad_digest", err.Error()))
		return
	}
	obj, err := s.store.GetObject(r.Context(), d)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	body, etag := obj.Raw, `"`+d.String()+`"`
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	if obj.Zstd != nil && acceptsEncoding(r.Header.Get("Accept-Encoding"), "zstd") {
		body, etag = obj.Zstd, `"`+d.String()+`.zst"`
		h.Set("Content-Encoding", "zstd")
	}
	serveImmutable(w, r, etag, body)
}

// serveImmutable answers with content-addressed bytes: strong ETag,
// immutable caching, HEAD, conditional requests and one Range (with
// If-Range). A request for several ranges gets the whole object, so small
// ranges cannot amplify a response.
func serveImmutable(w http.ResponseWriter, r *http.Request, etag string, body []byte) {
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", CacheForever)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Accept-Ranges", "bytes")
	rng := r.Header.Get("Range")
	if strings.Contains(rng, ",") || len(r.Header.Values("Range")) > 1 {
		r.Header.Del("Range")
	} else if isEmptySuffixRange(rng) {
		// "bytes=-0" asks for the last zero bytes: unsatisfiable (RFC 9110 §14.1.3).
		h.Set("Content-Range", "bytes */"+strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// isEmptySuffixRange reports whether a Range header is "bytes=-0" (any
// number of zeros), which net/http would answer with an empty 206.
func isEmptySuffixRange(rng string) bool {
	spec, ok := strings.CutPrefix(strings.TrimSpace(rng), "bytes=")
	if !ok {
		return false
	}
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
