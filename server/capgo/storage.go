package capgo

import (
	"errors"
	"net/http"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/store"
)

// storageStatus maps a store that refused a write (disk full: 507, or
// read-only: 503) onto the status and Capgo error code to answer; ok is
// false for any other error.
func storageStatus(err error) (status int, code string, ok bool) {
	switch {
	case errors.Is(err, store.ErrInsufficientStorage):
		return http.StatusInsufficientStorage, api.CodeInsufficientStorage, true
	case errors.Is(err, store.ErrReadOnly):
		return http.StatusServiceUnavailable, api.CodeReadOnly, true
	}
	return 0, "", false
}
