package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/store"
)

// channelRoutes registers the channel, rollout and device-override routes.
// Keys with read scope may list and look; write keys for the app (and
// admin keys) may change its channels and overrides; upload keys may only
// point the channels they list at a bundle (server/scope.go).
func (s *Server) channelRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+api.PathChannels, s.handleCreateChannel)
	mux.HandleFunc("GET "+api.PathChannels, s.handleListChannels)
	mux.HandleFunc("GET "+api.PathChannel, s.handleGetChannel)
	mux.HandleFunc("PATCH "+api.PathChannel, s.handleUpdateChannel)
	mux.HandleFunc("DELETE "+api.PathChannel, s.handleDeleteChannel)
	mux.HandleFunc("PUT "+api.PathChannelBundle, s.handleSetChannelBundle)
	mux.HandleFunc("POST "+api.PathChannelRollback, s.handleRollbackChannel)
	mux.HandleFunc("POST "+api.PathChannelRollout, s.handleRollout)
	mux.HandleFunc("GET "+api.PathChannelHistory, s.handleChannelHistory)
	mux.HandleFunc("PUT "+api.PathDeviceOverride, s.handleSetOverride)
	mux.HandleFunc("DELETE "+api.PathDeviceOverride, s.handleClearOverride)
	mux.HandleFunc("GET "+api.PathDeviceOverride, s.handleDeviceChannels)
}

// channelApp authorizes the request for what on the app in the path and
// checks the app id's syntax; it writes the error answer itself.
func (s *Server) channelApp(w http.ResponseWriter, r *http.Request, what permission) (string, bool) {
	app := r.PathValue("app")
	if _, ok := s.authorize(w, r, what, app); !ok {
		return "", false
	}
	if err := store.ValidateAppID(app); err != nil {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeInvalidAppID, err.Error()))
		return "", false
	}
	return app, true
}

// newChannel returns a channel with the defaults of a new channel (those of
// resolver.NewChannel): every platform, emulators and real devices, dev
// and prod builds, policy major, private, no self-assignment, no bundle.
func newChannel(app, name string) api.Channel {
	return api.Channel{
		App: app, Name: name,
		IOS: true, Android: true, Electron: true,
		AllowEmulator: true, AllowDevice: true, AllowDev: true, AllowProd: true,
		Policy: store.PolicyMajor,
	}
}

// applySettings copies the settings that are set (non-nil) onto c.
func applySettings(c *api.Channel, st api.ChannelSettings) {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Public, st.Public)
	set(&c.IOS, st.IOS)
	set(&c.Android, st.Android)
	set(&c.Electron, st.Electron)
	set(&c.AllowSelfAssign, st.AllowSelfAssign)
	set(&c.AllowEmulator, st.AllowEmulator)
	set(&c.AllowDevice, st.AllowDevice)
	set(&c.AllowDev, st.AllowDev)
	set(&c.AllowProd, st.AllowProd)
	set(&c.AllowUnderNative, st.AllowUnderNative)
	if st.Policy != nil {
		c.Policy = *st.Policy
	}
	if st.Bundle != nil {
		c.Bundle = *st.Bundle
	}
}

func (s *Server) handleCreateChannel(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permWrite)
	if !ok {
		return
	}
	var req api.CreateChannelRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	ch := newChannel(app, req.Name)
	applySettings(&ch, req.ChannelSettings)
	out, err := s.store.CreateChannel(r.Context(), ch)
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	s.log.Info("channel created", "app", app, "channel", out.Name, "bundle", out.Bundle, "public", out.Public)
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) handleListChannels(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permRead)
	if !ok {
		return
	}
	list, err := s.store.ListChannels(r.Context(), app)
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) handleGetChannel(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permRead)
	if !ok {
		return
	}
	c, err := s.store.GetChannel(r.Context(), app, r.PathValue("channel"))
	s.answerChannel(w, r, app, c, err, http.StatusOK)
}

func (s *Server) handleUpdateChannel(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permWrite)
	if !ok {
		return
	}
	var st api.ChannelSettings
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &st); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	c, err := s.store.UpdateChannel(r.Context(), app, r.PathValue("channel"), "update", func(c *api.Channel) error {
		applySettings(c, st)
		return nil
	})
	s.answerChannel(w, r, app, c, err, http.StatusOK)
}

func (s *Server) handleDeleteChannel(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permWrite)
	if !ok {
		return
	}
	name := r.PathValue("channel")
	if err := s.store.DeleteChannel(r.Context(), app, name); err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	s.log.Info("channel deleted", "app", app, "channel", name)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSetChannelBundle(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permSetChannel)
	if !ok {
		return
	}
	var req api.SetBundleRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	c, err := s.store.SetChannelBundle(r.Context(), app, r.PathValue("channel"), req.Bundle)
	s.answerChannel(w, r, app, c, err, http.StatusOK)
}

func (s *Server) handleRollbackChannel(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permWrite)
	if !ok {
		return
	}
	c, err := s.store.RollbackChannel(r.Context(), app, r.PathValue("channel"))
	s.answerChannel(w, r, app, c, err, http.StatusOK)
}

func (s *Server) handleRollout(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permWrite)
	if !ok {
		return
	}
	var req api.RolloutRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	c, err := s.store.Rollout(r.Context(), app, r.PathValue("channel"), req)
	s.answerChannel(w, r, app, c, err, http.StatusOK)
}

func (s *Server) handleChannelHistory(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permRead)
	if !ok {
		return
	}
	hist, err := s.store.ChannelHistory(r.Context(), app, r.PathValue("channel"))
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	writeJSON(w, http.StatusOK, nonNil(hist))
}

func (s *Server) handleSetOverride(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permWrite)
	if !ok {
		return
	}
	dev, ok := s.deviceID(w, r)
	if !ok {
		return
	}
	var req api.OverrideRequest
	if err := decodeJSON(w, r, s.cfg.Limits.MaxJSONBytes, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if err := s.store.SetOverride(r.Context(), app, dev, req.Channel); err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	s.log.Info("device override set", "app", app, "device", dev, "channel", req.Channel)
	writeJSON(w, http.StatusOK, api.DeviceOverride{App: app, Device: dev, Channel: req.Channel})
}

func (s *Server) handleClearOverride(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permWrite)
	if !ok {
		return
	}
	dev, ok := s.deviceID(w, r)
	if !ok {
		return
	}
	// Both the override and an old plugin's self-assignment (issue 14 item 6).
	dc, err := s.store.ClearDeviceChannels(r.Context(), app, dev)
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	s.log.Info("device channels cleared", "app", app, "device", dev, "override", dc.Override, "self_assigned", dc.SelfAssigned)
	writeJSON(w, http.StatusOK, dc)
}

// deviceID returns the path's device id, lower-cased, or answers 400.
func (s *Server) deviceID(w http.ResponseWriter, r *http.Request) (string, bool) {
	dev, err := store.NormalizeDeviceID(r.PathValue("device"))
	if err != nil {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeInvalidDeviceID, err.Error()))
		return "", false
	}
	return dev, true
}

// answerChannel writes c, or the error.
func (s *Server) answerChannel(w http.ResponseWriter, r *http.Request, app string, c api.Channel, err error, status int) {
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	writeJSON(w, status, c)
}

// channelError turns store errors about channels into answers with the
// channel codes of package api.
func channelError(err error, app string) error {
	code, status := "", 0
	switch {
	case errors.Is(err, store.ErrChannelNotFound):
		code, status = api.CodeChannelNotFound, http.StatusNotFound
	case errors.Is(err, store.ErrBundleNotFound):
		code, status = api.CodeBundleNotFound, http.StatusNotFound
	case errors.Is(err, store.ErrNotFound):
		return notFoundApp(err, app)
	case errors.Is(err, store.ErrExists):
		code, status = api.CodeChannelExists, http.StatusConflict
	case errors.Is(err, store.ErrPublicConflict):
		code, status = api.CodePublicConflict, http.StatusConflict
	case errors.Is(err, store.ErrNoPreviousBundle):
		code, status = api.CodeNoPreviousBundle, http.StatusConflict
	case errors.Is(err, store.ErrNoRollout):
		code, status = api.CodeNoRollout, http.StatusConflict
	case errors.Is(err, store.ErrBundleInUse):
		code, status = api.CodeBundleInUse, http.StatusConflict
	case errors.Is(err, store.ErrInvalid):
		code, status = api.CodeInvalidChannel, http.StatusBadRequest
	default:
		return err
	}
	return errorf(status, code, fmt.Sprint(err))
}
