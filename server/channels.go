package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

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

// applySettings copies the settings that are set (non-nil) onto c. Paused
// pauses or resumes c's rollout when it has one, else c itself (a resume
// clears both); Guard is merged into c's guard (store.MergeGuard).
func applySettings(c *api.Channel, st api.ChannelSettings) error {
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
	set(&c.Disabled, st.Disabled)
	if p := st.Paused; p != nil {
		switch {
		case !*p:
			c.Paused = false
			if c.Rollout != nil {
				c.Rollout.Paused = false
			}
		case c.Rollout != nil:
			c.Rollout.Paused = true
		default:
			c.Paused = true
		}
	}
	if st.Guard != nil {
		g, err := store.MergeGuard(c.Guard, *st.Guard)
		if err != nil {
			return err
		}
		c.Guard = g
	}
	return nil
}

// settingsAction is the history action of a channel update with st:
// pause, resume, disable or enable when that is all it changes, else
// update.
func settingsAction(st api.ChannelSettings) string {
	only := st
	only.Paused, only.Disabled = nil, nil
	if only != (api.ChannelSettings{}) || st.Paused != nil && st.Disabled != nil {
		return "update"
	}
	switch {
	case st.Paused != nil && *st.Paused:
		return "pause"
	case st.Paused != nil:
		return "resume"
	case st.Disabled != nil && *st.Disabled:
		return "disable"
	case st.Disabled != nil:
		return "enable"
	}
	return "update"
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
	if err := applySettings(&ch, req.ChannelSettings); err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	sw, err := s.switchRequest(r, s.patchWait())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if sw.patchWait > 0 && ch.Bundle != "" && ch.Bundle != store.BuiltinBundle {
		// Created serving nothing yet, the bundle pending until its patches exist.
		now := sw.now()
		ch.Pending = &api.PendingSwitch{Action: "set", Bundle: ch.Bundle, Since: now, Deadline: now.Add(sw.patchWait)}
		ch.Bundle = ""
	}
	out, err := s.store.CreateChannel(r.Context(), ch)
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	s.log.Info("channel created", "app", app, "channel", out.Name, "bundle", out.Bundle, "public", out.Public, "pending", out.Pending != nil)
	s.answerSwitch(w, r, out, sw, http.StatusCreated)
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
	fn := func(c *api.Channel) error { return applySettings(c, st) }
	if st.Bundle == nil {
		// Settings only: a pending switch stays pending (but for a pause,
		// a resume, a disabling or an enabling, which change what devices
		// get and so replace it).
		c, err := s.store.UpdateChannel(r.Context(), app, r.PathValue("channel"), settingsAction(st), fn)
		if err == nil && c.Pending == nil {
			s.stopSwitch(app, c.Name)
		}
		s.answerChannel(w, r, app, c, err, http.StatusOK)
		return
	}
	s.changeServing(w, r, app, "update", fn, s.patchWait())
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
	if req.Bundle == "" {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeInvalidChannel, `bundle: must be a version or "builtin"`))
		return
	}
	s.changeServing(w, r, app, "set", func(c *api.Channel) error {
		c.Bundle = req.Bundle
		return nil
	}, s.patchWait())
}

func (s *Server) handleRollbackChannel(w http.ResponseWriter, r *http.Request) {
	app, ok := s.channelApp(w, r, permWrite)
	if !ok {
		return
	}
	// Rollback never waits for patches: devices must leave a bad bundle
	// now. It drops a pending switch.
	c, err := s.store.RollbackChannel(r.Context(), app, r.PathValue("channel"))
	if err == nil {
		s.stopSwitch(app, c.Name)
	}
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
	action, fn, err := s.store.RolloutChange(req)
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	// Starting or widening a rollout and promoting it bring devices to a
	// bundle: they wait for its patches. Pause, resume and cancel do not.
	wait := time.Duration(0)
	if req.Action == api.RolloutStart || req.Action == api.RolloutPromote {
		wait = s.patchWait()
	}
	s.changeServing(w, r, app, action, fn, wait)
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
	app, dev, ok := s.deviceApp(w, r, permWrite)
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
	app, dev, ok := s.deviceApp(w, r, permWrite)
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

// deviceApp is channelApp for a device route: it also returns the path's
// device id, lower-cased, or answers 400.
func (s *Server) deviceApp(w http.ResponseWriter, r *http.Request, what permission) (app, dev string, ok bool) {
	if app, ok = s.channelApp(w, r, what); !ok {
		return "", "", false
	}
	dev, err := store.NormalizeDeviceID(r.PathValue("device"))
	if err != nil {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeInvalidDeviceID, err.Error()))
		return "", "", false
	}
	return app, dev, true
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

// switchOptions are the query parameters of a change of what a channel
// serves (api.QueryWait, api.QueryPatchWait).
type switchOptions struct {
	wait      bool          // answer when devices are served (else at once, 202 while pending)
	patchWait time.Duration // 0: switch at once
	now       func() time.Time
}

// switchRequest reads the switch options of r; def is the patch wait when
// the request names none.
func (s *Server) switchRequest(r *http.Request, def time.Duration) (switchOptions, error) {
	o := switchOptions{wait: true, patchWait: def, now: func() time.Time { return time.Now().UTC().Round(time.Microsecond) }}
	q := r.URL.Query()
	if v := q.Get(api.QueryWait); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, badRequest(fmt.Sprintf("%s=%q: want true or false", api.QueryWait, v))
		}
		o.wait = b
	}
	if v := q.Get(api.QueryPatchWait); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return o, badRequest(fmt.Sprintf("%s=%q: want a duration such as 10m or 0s", api.QueryPatchWait, v))
		}
		o.patchWait = d
	}
	return o, nil
}

// changeServing answers a change of what a channel serves: with a patch
// wait it is staged (store.StageChannel) and switched by a runner once the
// patches exist (switch.go), else it is made at once (UpdateChannel).
// defWait is the patch wait when the request names none.
func (s *Server) changeServing(w http.ResponseWriter, r *http.Request, app, action string, fn func(*api.Channel) error, defWait time.Duration) {
	name := r.PathValue("channel")
	sw, err := s.switchRequest(r, defWait)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var c api.Channel
	if sw.patchWait == 0 {
		c, err = s.store.UpdateChannel(r.Context(), app, name, action, fn)
	} else {
		now := sw.now()
		c, err = s.store.StageChannel(r.Context(), app, name, action, now, now.Add(sw.patchWait), fn)
	}
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	s.answerSwitch(w, r, c, sw, http.StatusOK)
}

// maxSwitchAnswerWait bounds how long a request waits for its switch
// before it is answered 202 (the switch still happens): well inside the
// server's write timeout.
func (s *Server) maxSwitchAnswerWait() time.Duration {
	return max(time.Second, s.cfg.Limits.WriteTimeout-15*time.Second)
}

// answerSwitch answers a channel change: done is the status of a change
// made (no pending switch); a pending one starts its runner and, when the
// request waits, is answered once devices are served (done), else (or
// past maxSwitchAnswerWait) 202 with the pending switch.
func (s *Server) answerSwitch(w http.ResponseWriter, r *http.Request, c api.Channel, sw switchOptions, done int) {
	if c.Pending == nil {
		s.stopSwitch(c.App, c.Name) // a pending switch this change dropped
		writeJSON(w, done, c)
		return
	}
	since := c.Pending.Since
	s.log.Info("channel switch pending: making patches first", "app", c.App, "channel", c.Name, "bundle", c.Pending.Bundle,
		"deadline", c.Pending.Deadline)
	s.startSwitch(c)
	if !sw.wait {
		writeJSON(w, http.StatusAccepted, c)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(sw.patchWait+5*time.Second, s.maxSwitchAnswerWait()))
	defer cancel()
	s.waitSwitch(ctx, c.App, c.Name, since)
	now, err := s.store.GetChannel(r.Context(), c.App, c.Name)
	if err != nil {
		writeError(w, r, s.log, channelError(err, c.App))
		return
	}
	if now.Pending != nil && now.Pending.Since.Equal(since) {
		writeJSON(w, http.StatusAccepted, now)
		return
	}
	writeJSON(w, done, now)
}
