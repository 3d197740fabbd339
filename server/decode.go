package server

import (
	"errors"
	"fmt"
	"mime"
	"net/http"

	jsonv2 "github.com/go-json-experiment/json"
)

// decodeJSON reads one JSON value of at most limit bytes into v with strict
// semantics: exact (case-sensitive) member names, no unknown or duplicate
// members, nothing after the value. Errors are 400s (413 past the limit)
// naming the problem.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	// The usual exact value skips the parse (and its parameter map).
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
				fmt.Sprintf("Content-Type %q: this endpoint takes application/json", ct))
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	err := jsonv2.UnmarshalRead(body, v, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return mbe
	}
	if re := asBodyRateError(err); re != nil {
		return re
	}
	return badRequest("invalid JSON body: " + err.Error())
}
