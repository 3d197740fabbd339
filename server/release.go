package server

import (
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// maxRotationBody bounds a posted key rotation: its payload is at most
// api.MaxStatementBytes, base64 in JSON.
const maxRotationBody = 4*api.MaxStatementBytes + 1024

// releaseRoutes serves the release key rotations: appended by CI through
// the admin API, read by devices (no key: devices verify every rotation
// with the release keys they trust, so the chain is public).
func (s *Server) releaseRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+api.PathReleaseKeys, s.handleReleaseKeys)
	mux.HandleFunc("GET "+api.PathAppReleaseKeys, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.readApp(w, r); ok {
			s.handleReleaseKeys(w, r)
		}
	})
	mux.HandleFunc("POST "+api.PathAppReleaseKeys, s.handleAddRotation)
}

// handleReleaseKeys answers an app's chain of rotations.
func (s *Server) handleReleaseKeys(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	chain, err := s.store.ReleaseRotations(r.Context(), app)
	if err != nil {
		writeError(w, r, s.log, notFoundApp(err, app))
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, api.ReleaseKeyChain{App: app, Rotations: chain})
}

// handleAddRotation appends a signed rotation (write scope).
func (s *Server) handleAddRotation(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	if _, ok := s.authorize(w, r, permWrite, app); !ok {
		return
	}
	var rot api.SignedStatement
	if err := decodeJSON(w, r, maxRotationBody, &rot); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	seq, err := s.store.AddReleaseRotation(r.Context(), app, rot)
	if err != nil {
		writeError(w, r, s.log, notFoundApp(err, app))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"app_id": app, "sequence": seq, "key_id": rot.KeyID})
}
