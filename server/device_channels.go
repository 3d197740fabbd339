package server

import (
	"net/http"
)

// handleDeviceChannels answers GET /api/v1/apps/{app}/devices/{device}/override
// (read scope): the device's override and its stored self-assignment
// (api.DeviceChannels). DELETE on the same path (handleClearOverride)
// removes both.
func (s *Server) handleDeviceChannels(w http.ResponseWriter, r *http.Request) {
	app, dev, ok := s.deviceApp(w, r, permRead)
	if !ok {
		return
	}
	dc, err := s.store.DeviceChannels(r.Context(), app, dev)
	if err != nil {
		writeError(w, r, s.log, channelError(err, app))
		return
	}
	writeJSON(w, http.StatusOK, dc)
}
