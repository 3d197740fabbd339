package server

import (
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// statsRoutes registers the admin stats route.
func (s *Server) statsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+api.PathStats, s.handleStats)
}

// handleStats answers GET /api/v1/apps/{app}/stats[?channel=C] (read
// scope): per bundle, the devices on it and what they reported, and the
// release-guard trips of the app's channels (api.AppStats).
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	app, ok := s.readApp(w, r)
	if !ok {
		return
	}
	channel := r.URL.Query().Get("channel")
	bundles, err := s.store.BundleStats(r.Context(), app, channel)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	channels, err := s.store.ListChannels(r.Context(), app)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, api.AppStats{App: app, Channel: channel, Bundles: nonNil(bundles), GuardTrips: guardTrips(channels, channel)})
}
