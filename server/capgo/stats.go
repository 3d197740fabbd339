package capgo

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// Codes and messages of /stats besides the shared ones (protocol §6).
const (
	codeInvalidAppID    = "invalid_app_id"
	codeMixedAppIDs     = "mixed_app_ids"
	msgMixedAppIDs      = "All events in a batch must have the same app_id"
	codeVersionNotFound = "version_not_found"
	msgVersionNotFound  = "Version not found"
)

// statsResult is one entry of a batch answer's results.
type statsResult struct {
	Status   string         `json:"status"`
	Index    int            `json:"index"`
	Error    string         `json:"error,omitempty"`
	Message  string         `json:"message,omitempty"`
	MoreInfo map[string]any `json:"moreInfo,omitempty"`
}

// handleStats answers POST /stats: one event object, or an array of them
// (protocol §6), in Capgo's order:
//
//  1. not JSON: 400 invalid_json_parse_body; an empty array: 200 {status:
//     "ok", results: []};
//  2. the first event's app_id missing or not a string, or not a reverse
//     domain: 400 invalid_app_id; in a batch, a later event's: 200
//     invalid_app_id, and an app_id different from the first: 200
//     mixed_app_ids;
//  3. a single event is then validated like an update check (400 codes);
//     in a batch each event is, and a bad one gets its own error result;
//  4. an app the server does not know: 429 on_premise_app (in a batch,
//     each event's result says on_premise_app);
//  5. an event whose version_name (before any ':') is not a live bundle
//     of the app, "builtin" and "unknown" excepted: 200 version_not_found
//     {error, message, app_id, version_name} (a result in a batch);
//  6. download_fail from plugins before 7.17.0 / 6.14.25, or with an
//     unparsable plugin_version, is acknowledged but not recorded (they
//     sent it when there was nothing to download);
//  7. the rest is stored, and the answer waits for the commit: 200
//     {status:"ok"} or, for a batch, {status:"ok", results:[...]}; 503
//     when the writer cannot take it (the plugin retries).
func (h *Handler) handleStats(w http.ResponseWriter, r *http.Request) {
	bp, err := readBody(r, h.lim.StatsBody)
	if err != nil {
		h.bodyError(w, r, err)
		return
	}
	defer putBody(bp)
	items, isBatch, err := splitStats(*bp, h.lim.StatsEvents)
	if err != nil {
		writeAPIError(w, parseError(err))
		return
	}
	if isBatch && len(items) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "results": []statsResult{}})
		return
	}

	// 2. app ids.
	objs := make([]object, len(items))
	isObj := make([]bool, len(items))
	appIDs := make([]value, len(items))
	for i, it := range items {
		// Each item is valid JSON already (splitStats).
		if isObj[i], _ = decodeObject(it, &objs[i]); isObj[i] {
			appIDs[i] = objs[i].v[fAppID]
		}
	}
	first := appIDs[0]
	if msg := appIDProblem(first); msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": codeInvalidAppID, "message": msg, "moreInfo": map[string]any{}})
		return
	}
	for _, id := range appIDs[1:] {
		if msg := appIDProblem(id); msg != "" {
			writeJSON(w, http.StatusOK, map[string]any{"error": codeInvalidAppID, "message": msg})
			return
		}
		if id.str != first.str {
			writeJSON(w, http.StatusOK, map[string]any{"error": codeMixedAppIDs, "message": msgMixedAppIDs})
			return
		}
	}

	// 3. validation.
	reqs := make([]*request, len(items))
	errs := make([]*apiError, len(items))
	for i := range items {
		if !isObj[i] {
			errs[i] = newAPIError(resolver.CodeInvalidJSONBody, map[string]any{"reason": "an event must be a JSON object"})
			continue
		}
		reqs[i], errs[i] = validate(&objs[i], schemaStats, resolver.CodeInvalidJSONBody)
	}
	if !isBatch && errs[0] != nil {
		writeAPIError(w, errs[0])
		return
	}

	// 4. the app.
	devID := ""
	for _, rq := range reqs {
		if rq != nil {
			devID = rq.DeviceID
			break
		}
	}
	if !h.admitDevice(w, devID) {
		return
	}
	snap, err := h.snapshot(r.Context(), first.str, devID)
	if err != nil {
		h.writeInternal(w, r, err)
		return
	}
	onPrem := newAPIError(resolver.CodeOnPremiseApp, nil)
	if !snap.App.Exists && !isBatch {
		writeAPIError(w, onPrem)
		return
	}

	// 5–7.
	results := make([]statsResult, len(items))
	var reps []store.DeviceReport
	var evs []store.Event
	now := h.now()
	stored, refused := 0, 0
	for i, rq := range reqs {
		res := &results[i]
		res.Index = i
		switch {
		case errs[i] != nil:
			res.Status, res.Error, res.Message, res.MoreInfo = "error", errs[i].code, errs[i].message, errs[i].moreInfo
		case !snap.App.Exists:
			res.Status, res.Error, res.Message = "error", onPrem.code, onPrem.message
		case !knownVersion(snap, rq.VersionName):
			res.Status, res.Error, res.Message = "error", codeVersionNotFound, msgVersionNotFound
			res.MoreInfo = map[string]any{"app_id": rq.AppID, "version_name": rq.VersionName}
		default:
			res.Status = "ok"
		}
		if res.Status != "ok" {
			refused++
			continue
		}
		if rq.Action == "download_fail" && !recordsDownloadFail(rq.PluginVersion) {
			continue
		}
		stored++
		rep := h.report(rq)
		rep.Bundle = ""
		if rq.Action == store.ActionSet {
			rep.Bundle = keyName(rq.VersionName) // the device now runs it
		}
		reps = append(reps, rep)
		if rq.Action == "" {
			continue // a device report without an event
		}
		ev := store.Event{App: rq.AppID, DeviceID: rq.DeviceID, At: now, Action: rq.Action,
			Version: eventVersion(rq.VersionName), OldVersion: keyName(rq.OldVersionName), Metadata: rq.Metadata}
		if rq.TimestampMS > 0 {
			ev.DeviceAt = time.UnixMilli(rq.TimestampMS)
		}
		if served, full, ok := h.deliveryBytes(r.Context(), snap, rq.AppID, rq.DeviceID, rq.Action, ev.Version); ok {
			ev.BytesServed, ev.BytesFull = served, full
		}
		evs = append(evs, ev)
	}
	h.obs.StatsEvents(stored, refused)
	if len(reps) > 0 {
		done, err := h.rec.submit(reps, evs)
		if err == nil {
			select {
			case err = <-done:
			case <-r.Context().Done():
				err = r.Context().Err()
			}
		}
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{
				"error": "stats_unavailable", "message": "stats could not be stored; send them again later", "moreInfo": map[string]any{}})
			return
		}
	}
	if isBatch {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "results": results})
		return
	}
	if res := results[0]; res.Status != "ok" {
		if res.Error == onPrem.code {
			writeAPIError(w, onPrem)
			return
		}
		m := map[string]any{"error": res.Error, "message": res.Message}
		for k, v := range res.MoreInfo {
			m[k] = v
		}
		writeJSON(w, http.StatusOK, m)
		return
	}
	writeBody(w, http.StatusOK, bodyOK)
}

// splitStats splits a /stats body into its events: the elements of an
// array (at most max), or the one value. The JSON must be valid as a whole.
func splitStats(body []byte, max int) (items [][]byte, isBatch bool, err error) {
	p := getParser(body)
	defer p.release()
	if p.dec.PeekKind() != '[' {
		v, err := p.dec.ReadValue()
		if err != nil {
			return nil, false, err
		}
		items = [][]byte{bytes.Clone(v)}
	} else {
		isBatch = true
		if _, err := p.dec.ReadToken(); err != nil {
			return nil, false, err
		}
		for p.dec.PeekKind() != ']' {
			v, err := p.dec.ReadValue()
			if err != nil {
				return nil, false, err
			}
			if len(items) == max {
				return nil, false, errTooManyEvents(max)
			}
			items = append(items, bytes.Clone(v))
		}
		if _, err := p.dec.ReadToken(); err != nil {
			return nil, false, err
		}
	}
	if _, err := p.dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errTrailing
		}
		return nil, false, err
	}
	return items, isBatch, nil
}

type errTooManyEvents int

func (e errTooManyEvents) Error() string {
	return "more than " + strconv.Itoa(int(e)) + " events in one request"
}

// eventVersion bounds an event's version_name as the store takes it (at
// most 256 bytes, no NUL): a per-file failure names "<version>:<file>",
// whose path may be longer. An event the store refuses would fail the whole
// group commit, other devices' events and sightings with it.
func eventVersion(s string) string {
	return truncateUTF8(strings.ReplaceAll(s, "\x00", ""), 256)
}

// appIDProblem is Capgo's early app_id check of /stats: the message of
// invalid_app_id, or "" when the app id is fine.
func appIDProblem(v value) string {
	switch {
	case !v.truthy() || !v.isString():
		return msgAppIDMissing
	case !validAppID(v.str):
		return msgAppIDInvalid
	}
	return ""
}

// knownVersion reports whether a stats event's version_name is a live bundle
// of the app; "builtin" and "unknown" always are (protocol §6).
func knownVersion(s resolver.Snapshot, versionName string) bool {
	v := store.EventBundle(versionName)
	if v == resolver.Builtin || v == resolver.Unknown {
		return true
	}
	b, ok := s.Bundles[v]
	return ok && !b.Deleted
}

// recordsDownloadFail reports whether a download_fail from this plugin
// version means a failed download: older plugins (before 7.17.0, or 6.x
// before 6.14.25, or an unparsable version) also sent it when there was
// nothing to download (protocol §6).
func recordsDownloadFail(pluginVersion string) bool {
	v, err := resolver.ParseVersion(pluginVersion)
	if err != nil {
		return false
	}
	if v.Compare(resolver.MustParseVersion("7.17.0")) >= 0 {
		return true
	}
	return v.Major() == 6 && v.Compare(resolver.MustParseVersion("6.14.25")) >= 0
}
