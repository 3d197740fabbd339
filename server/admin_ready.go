package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/store"
)

// handleSigningKey answers GET /api/v1/signing-key: the public key check
// answers are signed with, for `patchwire key signing --public` on a CI
// machine that is only logged in to the server. It is public, but the
// route is an API route like the others: any valid key may read it.
func (s *Server) handleSigningKey(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, permRead, ""); !ok {
		return
	}
	pub := s.signer.Public()
	writeJSON(w, http.StatusOK, api.SigningKeyInfo{PublicKey: checksig.PublicKeyBase64(pub), KeyID: checksig.KeyID(pub)})
}

// handleMarkBuiltin answers PUT /api/v1/apps/{app}/bundles/{version}/builtin:
// the bundle is the one shipped inside the app-store builds of the native
// version in the body (store.MarkBuiltin). Upload keys of the app may.
func (s *Server) handleMarkBuiltin(w http.ResponseWriter, r *http.Request) {
	app, version := r.PathValue("app"), r.PathValue("version")
	if _, ok := s.authorize(w, r, permUpload, app); !ok {
		return
	}
	var req api.BuiltinRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	b, err := s.store.MarkBuiltin(r.Context(), app, version, req.NativeVersion)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("app %q has no bundle %q", app, version))
	case errors.Is(err, store.ErrInvalid):
		err = badRequest(err.Error())
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.log.Info("builtin bundle registered", "app", app, "version", version, "native_version", b.NativeVersion)
	s.prepareFromBuiltin(app, b.Manifest)
	writeJSON(w, http.StatusOK, b)
}
