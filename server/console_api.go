package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/store"
)

// consoleRoutes registers the read routes the web console and the CLI's
// `device list`, `device show` and `stats --series` use.
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+api.PathWhoami, s.handleWhoami)
	mux.HandleFunc("GET "+api.PathDevices, s.handleSearchDevices)
	mux.HandleFunc("GET "+api.PathDevice, s.handleDevice)
	mux.HandleFunc("GET "+api.PathStatsSeries, s.handleStatsSeries)
}

// handleWhoami describes the calling key (any valid key).
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	key, err := s.authenticate(w, r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Whoami{KeyID: key.ID, Name: key.Name, Scope: key.Scope, Apps: key.Apps, Channels: key.Channels})
}

// defaultDeviceSearch is how many devices a search answers without ?limit.
const defaultDeviceSearch = 50

func (s *Server) handleSearchDevices(w http.ResponseWriter, r *http.Request) {
	app, ok := s.readApp(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := defaultDeviceSearch
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxDeviceSearch {
			writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeBadRequest,
				fmt.Sprintf("limit %q: must be a number from 1 to %d", v, store.MaxDeviceSearch)))
			return
		}
		limit = n
	}
	search := q.Get("q")
	if len(search) > 256 {
		writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeBadRequest, "q: at most 256 bytes"))
		return
	}
	devices, err := s.store.SearchDevices(r.Context(), app, search, limit)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DeviceList{Devices: nonNil(devices)})
}

func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) {
	app, ok := s.readApp(w, r)
	if !ok {
		return
	}
	id := strings.ToLower(r.PathValue("device")) // as the device protocols store it
	ctx := r.Context()
	d, err := s.store.GetDevice(ctx, app, id)
	if err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = errorf(http.StatusNotFound, api.CodeDeviceNotFound, fmt.Sprintf("app %q has no device %q (devices appear after their first check)", app, id))
		case errors.Is(err, store.ErrInvalid):
			err = errorf(http.StatusBadRequest, api.CodeInvalidDeviceID, err.Error())
		}
		writeError(w, r, s.log, err)
		return
	}
	events, err := s.store.DeviceEvents(ctx, app, id)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	slices.Reverse(events) // newest first
	channels, err := s.store.DeviceChannels(ctx, app, id)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DeviceDetail{Device: d, Events: nonNil(events), Channels: channels})
}

// defaultSeriesWindow is the range of a series query that names none.
const defaultSeriesWindow = 48 * time.Hour

func (s *Server) handleStatsSeries(w http.ResponseWriter, r *http.Request) {
	app, ok := s.readApp(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	sq := store.SeriesQuery{Bucket: q.Get("bucket"), Channel: q.Get("channel"), Bundle: q.Get("bundle")}
	if sq.Bucket == "" {
		sq.Bucket = api.BucketHour
	}
	now := time.Now()
	sq.To, sq.From = now, now.Add(-defaultSeriesWindow)
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &sq.From}, {"to", &sq.To}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			writeError(w, r, s.log, errorf(http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s %q: must be Unix seconds", p.name, v)))
			return
		}
		*p.t = time.Unix(n, 0)
	}
	series, err := s.store.StatsSeries(r.Context(), app, sq)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			err = errorf(http.StatusBadRequest, api.CodeBadRequest, err.Error())
		}
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, series)
}
