package capgo

import (
	"net/http"
	"net/url"

	"github.com/patchwire/patchwire/resolver"
)

// actionUnset is the action of the POST Capgo's Electron updater sends
// from unsetChannel.
const actionUnset = "unset"

// handleSetChannel answers POST /channel_self, the plugin's setChannel
// (protocol §7): resolver.SetChannel decides, or resolver.UnsetChannel for
// a body with action "unset" (Capgo's Electron updater unsets with a POST,
// without a channel); for old plugins the result's action (store or clear
// the device's self-assignment) is written before the answer, and a failed
// write is 200 override_not_allowed.
func (h *Handler) handleSetChannel(w http.ResponseWriter, r *http.Request) {
	req, snap, ok := h.channelRequest(w, r)
	if !ok {
		return
	}
	if req.Action == actionUnset {
		h.writeChannelResult(w, r, req, resolver.UnsetChannel(snap, req.device()))
		return
	}
	h.writeChannelResult(w, r, req, resolver.SetChannel(snap, req.device(), req.Channel))
}

// handleGetChannel answers PUT /channel_self, the plugin's getChannel: the
// channel the device's update checks really use (resolver.GetChannel).
func (h *Handler) handleGetChannel(w http.ResponseWriter, r *http.Request) {
	if req, snap, ok := h.channelRequest(w, r); ok {
		h.writeChannelResult(w, r, req, resolver.GetChannel(snap, req.device()))
	}
}

// channelRequest reads the body of POST and PUT /channel_self and the
// catalog snapshot for its device; it answers errors itself.
func (h *Handler) channelRequest(w http.ResponseWriter, r *http.Request) (*request, resolver.Snapshot, bool) {
	req, _, bp, failed := h.readRequest(w, r, h.lim.UpdateBody, schemaChannel)
	if failed != "" {
		return nil, resolver.Snapshot{}, false
	}
	putBody(bp)
	snap, err := h.snapshot(r.Context(), req.AppID, req.DeviceID)
	if err != nil {
		h.writeInternal(w, r, err)
		return nil, resolver.Snapshot{}, false
	}
	return req, snap, true
}

// handleListChannels answers GET /channel_self?..., the plugin's
// listChannels: a JSON array of {id, name, public, allow_self_set}.
func (h *Handler) handleListChannels(w http.ResponseWriter, r *http.Request) {
	req, ok := h.queryRequest(w, r, schemaChannelList)
	if !ok {
		return
	}
	snap, err := h.snapshot(r.Context(), req.AppID, req.DeviceID)
	if err != nil {
		h.writeInternal(w, r, err)
		return
	}
	list, refusal := resolver.ListChannels(snap, req.device())
	if refusal != nil {
		writeJSON(w, refusal.Status, refusal.Body())
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// handleUnsetChannel answers DELETE /channel_self?..., which only old
// plugins send (resolver.UnsetChannel: current plugins get ok and nothing
// changes).
func (h *Handler) handleUnsetChannel(w http.ResponseWriter, r *http.Request) {
	req, ok := h.queryRequest(w, r, schemaChannel)
	if !ok {
		return
	}
	snap, err := h.snapshot(r.Context(), req.AppID, req.DeviceID)
	if err != nil {
		h.writeInternal(w, r, err)
		return
	}
	h.writeChannelResult(w, r, req, resolver.UnsetChannel(snap, req.device()))
}

// queryRequest validates the query string of GET and DELETE like a body
// (Capgo's convertQueryToBody), with invalid_query_parameters for an empty
// or malformed query and schema failures.
func (h *Handler) queryRequest(w http.ResponseWriter, r *http.Request, s schema) (*request, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeAPIError(w, newAPIError(resolver.CodeInvalidQuery, map[string]any{"reason": err.Error()}))
		return nil, false
	}
	req, aerr := validate(objectFromQuery(q), s, resolver.CodeInvalidQuery)
	if aerr != nil {
		writeAPIError(w, aerr)
		return nil, false
	}
	return req, h.admitDevice(w, req.DeviceID)
}

// writeChannelResult applies a channel_self result's store action and
// answers with its status and body.
func (h *Handler) writeChannelResult(w http.ResponseWriter, r *http.Request, req *request, res resolver.ChannelResult) {
	var err error
	switch res.Action {
	case resolver.ActionStore:
		err = h.st.SetSelfAssigned(r.Context(), req.AppID, req.DeviceID, res.Channel)
	case resolver.ActionClear:
		err = h.st.SetSelfAssigned(r.Context(), req.AppID, req.DeviceID, "")
	}
	if err != nil {
		h.log.Error("channel_self: storing the self-assignment failed", "app", req.AppID, "device", req.DeviceID, "err", err)
		c := resolver.CodeOverrideNotAllowed
		res = resolver.ChannelResult{Status: resolver.StatusOf(c), Code: c, Message: resolver.Message(c)}
	}
	writeJSON(w, res.Status, res.Body())
}
