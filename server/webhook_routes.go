package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/webhooks"
	"github.com/patchwire/patchwire/store"
)

// Webhook routes (admin keys: a hook sends the app's events, signed, to a
// URL of the caller's choosing). Deliveries are made by the worker of
// server/webhooks from the store's durable queue, never on these routes.
func (s *Server) webhookRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+api.PathWebhooks, s.handleCreateWebhook)
	mux.HandleFunc("GET "+api.PathWebhooks, s.handleListWebhooks)
	mux.HandleFunc("DELETE "+api.PathWebhook, s.handleDeleteWebhook)
	mux.HandleFunc("POST "+api.PathWebhookRotateSecret, s.handleRotateWebhookSecret)
	mux.HandleFunc("GET "+api.PathWebhookDeliveries, s.handleWebhookDeliveries)
	mux.HandleFunc("POST "+api.PathWebhookRedeliver, s.handleWebhookRedeliver)
}

// hostCheckTimeout bounds the DNS lookup of a new hook's host.
const hostCheckTimeout = 5 * time.Second

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	if _, ok := s.authorize(w, r, permAdmin, app); !ok {
		return
	}
	var req api.CreateWebhookRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if _, err := s.store.GetApp(r.Context(), app); err != nil {
		writeError(w, r, s.log, notFoundApp(err, app))
		return
	}
	u, err := store.ValidateWebhookURL(req.URL)
	if err != nil {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeInvalidWebhook, err.Error()))
		return
	}
	lookup, cancel := context.WithTimeout(r.Context(), hostCheckTimeout)
	defer cancel()
	if err := webhooks.CheckHost(lookup, u.Hostname(), s.hooks.Config().AllowPrivate); err != nil {
		code := api.CodeInvalidWebhook
		if errors.Is(err, webhooks.ErrRefusedAddress) {
			code = api.CodeWebhookURLRefused
		}
		writeError(w, r, s.log, errorf(http.StatusBadRequest, code, "webhook url: "+err.Error()))
		return
	}
	hook, secret, err := s.store.CreateWebhook(r.Context(), app, req.URL, req.Events)
	if errors.Is(err, store.ErrInvalid) {
		err = errorf(http.StatusBadRequest, api.CodeInvalidWebhook, err.Error())
	}
	if err != nil {
		writeError(w, r, s.log, notFoundApp(err, app))
		return
	}
	writeJSON(w, http.StatusCreated, api.CreateWebhookResponse{Webhook: hook, Secret: secret})
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	if _, ok := s.authorize(w, r, permAdmin, app); !ok {
		return
	}
	hooks, err := s.store.ListWebhooks(r.Context(), app)
	if err != nil {
		writeError(w, r, s.log, notFoundApp(err, app))
		return
	}
	writeJSON(w, http.StatusOK, nonNil(hooks))
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, permAdmin, ""); !ok {
		return
	}
	id := r.PathValue("id")
	if err := s.store.DeleteWebhook(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no webhook %q (see `patchwire webhook list --app A`)", id))
		}
		writeError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRotateWebhookSecret makes a hook a new secret (answered once);
// the body, optional, says how long the previous one keeps signing.
func (s *Server) handleRotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, permAdmin, ""); !ok {
		return
	}
	var req api.RotateWebhookSecretRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
	}
	expire, err := parseExpirePrevious(req.ExpirePreviousIn)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	id := r.PathValue("id")
	hook, secret, err := s.store.RotateWebhookSecret(r.Context(), id, expire)
	if errors.Is(err, store.ErrNotFound) {
		err = errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no webhook %q (see `patchwire webhook list --app A`)", id))
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, api.RotateWebhookSecretResponse{Webhook: hook, Secret: secret})
}

// parseExpirePrevious reads RotateWebhookSecretRequest.ExpirePreviousIn:
// "" is the default, else a Go duration from 0 to api.MaxExpirePrevious.
func parseExpirePrevious(v string) (time.Duration, error) {
	if v == "" {
		return api.DefaultExpirePrevious, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > api.MaxExpirePrevious {
		return 0, badRequest(fmt.Sprintf("expire_previous_in %q: want a duration from 0 (at once) to %s, such as 24h", v, api.MaxExpirePrevious))
	}
	return d, nil
}

func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	if _, ok := s.authorize(w, r, permAdmin, app); !ok {
		return
	}
	hook := r.URL.Query().Get(api.QueryWebhook)
	if _, err := s.store.GetApp(r.Context(), app); err != nil {
		writeError(w, r, s.log, notFoundApp(err, app))
		return
	}
	ds, err := s.store.ListWebhookDeliveries(r.Context(), app, hook)
	if errors.Is(err, store.ErrNotFound) {
		err = errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("app %q has no webhook %q", app, hook))
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(ds))
}

func (s *Server) handleWebhookRedeliver(w http.ResponseWriter, r *http.Request) {
	app, id := r.PathValue("app"), r.PathValue("id")
	if _, ok := s.authorize(w, r, permAdmin, app); !ok {
		return
	}
	d, err := s.store.RedeliverWebhook(r.Context(), app, id)
	switch {
	case errors.Is(err, store.ErrExists):
		err = errorf(http.StatusConflict, api.CodeDeliveryPending, err.Error())
	case errors.Is(err, store.ErrNotFound):
		err = errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("%v (see `patchwire webhook deliveries --app %s`)", err, app))
	case errors.Is(err, store.ErrInvalid):
		err = notFoundApp(err, app)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.hooks.Wake()
	writeJSON(w, http.StatusOK, d)
}
