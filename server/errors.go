package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/native"
	"github.com/patchwire/patchwire/store"
)

// httpError is an error that already knows its status and code.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// errorf builds an *httpError.
func errorf(status int, code, msg string) error {
	return &httpError{status: status, code: code, msg: msg}
}

// badRequest is the common 400.
func badRequest(msg string) error { return errorf(http.StatusBadRequest, api.CodeBadRequest, msg) }

// statusOf maps an error to an HTTP status and a stable code. It is the one
// place that knows how errors of the lower packages look on the wire.
func statusOf(err error) (int, string) {
	var he *httpError
	var ne *native.Error
	var me *manifest.Error
	var mo *store.MissingObjectsError
	var mbe *http.MaxBytesError
	var bre *BodyRateError
	switch {
	case errors.As(err, &he):
		return he.status, he.code
	case errors.As(err, &ne):
		return ne.Status, ne.Code
	case errors.As(err, &bre):
		return http.StatusRequestTimeout, api.CodeRequestTimeout
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge
	case errors.As(err, &me):
		if me.Code == manifest.CodeTooLarge || me.Code == manifest.CodeTooManyFiles {
			return http.StatusRequestEntityTooLarge, me.Code
		}
		return http.StatusBadRequest, me.Code
	case errors.As(err, &mo):
		return http.StatusConflict, api.CodeMissingObjects
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict, api.CodeVersionExists
	case errors.Is(err, store.ErrUnauthorized):
		return http.StatusUnauthorized, api.CodeUnauthorized
	case errors.Is(err, store.ErrBundleInUse):
		return http.StatusConflict, api.CodeBundleInUse
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, api.CodeBadRequest
	case errors.Is(err, store.ErrInsufficientStorage):
		return http.StatusInsufficientStorage, api.CodeInsufficientStorage
	case errors.Is(err, store.ErrReadOnly):
		return http.StatusServiceUnavailable, api.CodeReadOnly
	}
	return http.StatusInternalServerError, api.CodeInternal
}

// writeError answers with the JSON error body. Internal errors are logged
// and their text is not sent.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, code := statusOf(err)
	// The code says "invalid"; the store's sentinel at the end of the
	// message ("...: invalid argument") would only repeat it.
	msg := strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error())
	switch {
	case status >= 500 && r.Context().Err() != nil:
		// The client went away (or the server is shutting down): nobody
		// reads the answer, and it says nothing about the server's health.
		log.Debug("request ended before its answer", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "request canceled"
	case status >= 500 && !storageError(err):
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error; see the server log"
	}
	writeJSON(w, status, api.Error{Code: code, Message: msg})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// storageError reports whether err is the store refusing a write for want
// of disk space or because it is read-only: a 507 or 503 whose message
// (which names the free space and the reserve, never a secret) helps the
// caller, so it is sent as is; the store has logged it already.
func storageError(err error) bool {
	return errors.Is(err, store.ErrInsufficientStorage) || errors.Is(err, store.ErrReadOnly)
}
