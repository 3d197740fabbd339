package resolver

import (
	"net/http"
	"sort"
)

// SelfAction is what the store must do after a channel_self request from an
// old plugin, which keeps its channel on the server (Snapshot.SelfAssigned).
type SelfAction int

// The store actions.
const (
	ActionNone  SelfAction = iota // store nothing
	ActionStore                   // set the device's SelfAssigned to ChannelResult.Channel
	ActionClear                   // remove the device's SelfAssigned
)

// getChannel statuses.
const (
	ChannelStatusOverride = "override" // the server pins the channel (override or stored self-assignment)
	ChannelStatusDefault  = "default"  // the device's defaultChannel or the public channel
)

// ChannelResult is the answer to one channel_self request (protocol §7).
// The HTTP layer sends Status and the object Body returns; if Action is not
// ActionNone it first updates the store (a failure there is its
// override_not_allowed).
type ChannelResult struct {
	Status  int
	Code    Code   // "" on success
	Message string // with Code
	// Channel is, on success, the channel set (POST) or in use (PUT); on
	// channel_not_found and the *_self_set_not_allowed refusals of POST, the
	// channel the device asked for (sent as "channel" with "app_id").
	Channel string
	AppID   string
	// ChannelStatus is set by GetChannel: ChannelStatusOverride or
	// ChannelStatusDefault.
	ChannelStatus string
	// AllowSet is sent as "allowSet" when HasAllowSet.
	AllowSet, HasAllowSet bool
	Action                SelfAction
}

// Body returns the JSON object to send.
func (r *ChannelResult) Body() map[string]any {
	var m map[string]any
	switch {
	case r.Code != "":
		m = map[string]any{"error": string(r.Code), "message": r.Message}
		if r.Channel != "" {
			m["channel"] = r.Channel
		}
		if r.AppID != "" {
			m["app_id"] = r.AppID
		}
		return m
	case r.ChannelStatus != "":
		m = map[string]any{"channel": r.Channel, "status": r.ChannelStatus}
	default:
		m = map[string]any{"status": "ok"}
	}
	if r.HasAllowSet {
		m["allowSet"] = r.AllowSet
	}
	return m
}

func channelErr(c Code) ChannelResult {
	return ChannelResult{Status: StatusOf(c), Code: c, Message: Message(c)}
}

// UsesLocalChannel reports whether the plugin keeps its channel on the
// device instead of asking the server to store it: Capgo's rule
// (channel_self.ts isChannelSelfLocalChannelStorageVersion), true for every
// version but 5.x before 5.34.0, 6.x before 6.34.0 and 7.x before 7.34.0.
// So 0.x (Capgo's Electron updater sends "0.0.1"), every 8.x and 9 and
// later keep it locally; an absent plugin_version counts as "0.0.0" and an
// unparsable one as old, as in Capgo.
func UsesLocalChannel(pluginVersion string) bool {
	if pluginVersion == "" {
		return true
	}
	v, err := ParseVersion(pluginVersion)
	return err == nil && pluginCurrent(v, pluginLocalChannel)
}

// forDevice is s as the device's channel is chosen: a plugin that keeps
// its channel itself is never pinned by a self-assignment stored for it
// earlier (when it was an old plugin, or by a server that stored it).
func forDevice(s Snapshot, d Device) Snapshot {
	if UsesLocalChannel(d.PluginVersion) {
		s.SelfAssigned = ""
	}
	return s
}

// SetChannel answers setChannel (POST channel_self) for channel, in order:
//
//  1. app unknown: 429 on_premise_app;
//  2. channel "": missing_channel;
//  3. old plugin and an administrator's Override exists: cannot_override
//     (a stored self-assignment could never win over it);
//  4. no channel of that name: channel_not_found;
//  5. the channel does not allow self-assignment: public_channel_self_set_not_allowed
//     if it is public, else channel_self_set_not_allowed;
//  6. a plugin that keeps its channel itself (UsesLocalChannel, e.g. 0.0.1,
//     7.34.0, 8.x, 9.x): ok with allowSet true; nothing is stored (the device
//     keeps it and sends it as defaultChannel);
//  7. old plugin (5.x-7.x before x.34.0): ok, with ActionClear when the channel is the platform's
//     public channel, ActionNone when it is already the stored one,
//     ActionStore otherwise.
//
// The platform and the channel's bundle are not checked here (Capgo does
// not either); the next update check reports them.
func SetChannel(s Snapshot, d Device, channel string) ChannelResult {
	if !s.App.Exists {
		return channelErr(CodeOnPremiseApp)
	}
	if channel == "" {
		return channelErr(CodeMissingChannel)
	}
	local := UsesLocalChannel(d.PluginVersion)
	if !local && s.Override != "" {
		return channelErr(CodeCannotOverride)
	}
	c, ok := s.channel(channel)
	if !ok {
		r := channelErr(CodeChannelNotFound)
		r.Channel, r.AppID = channel, d.AppID
		return r
	}
	if !c.AllowSelfAssign {
		code := CodeSelfSetNotAllowed
		if c.Public {
			code = CodePublicSelfSetNotAllowed
		}
		r := channelErr(code)
		r.Channel, r.AppID = channel, d.AppID
		return r
	}
	r := ChannelResult{Status: http.StatusOK, Channel: channel}
	if local {
		r.AllowSet, r.HasAllowSet = true, true
		return r
	}
	switch pub, ok := publicChannel(&s, d.Platform); {
	case ok && pub.Name == channel:
		if s.SelfAssigned != "" {
			r.Action = ActionClear
		}
	case s.SelfAssigned == channel:
	default:
		r.Action = ActionStore
	}
	return r
}

// GetChannel answers getChannel (PUT channel_self) with the channel the
// device's update checks really use (SelectChannel), as the protocol notes
// recommend, rather than Capgo's literal "production" fallback:
//
//   - app unknown: 429 on_premise_app;
//   - platform not ios/android/electron: invalid_platform;
//   - override, or (old plugins) stored self-assignment: {channel,
//     status:"override", allowSet};
//   - defaultChannel or public channel: {channel, status:"default"};
//   - none: channel_not_found.
//
// Note that the plugin stores a returned channel as its defaultChannel, so a
// device that calls getChannel pins itself to today's public channel by
// name.
func GetChannel(s Snapshot, d Device) ChannelResult {
	if !s.App.Exists {
		return channelErr(CodeOnPremiseApp)
	}
	if !d.Platform.Valid() {
		return channelErr(CodeInvalidPlatform)
	}
	s = forDevice(s, d)
	c, src := pickChannel(&s, d)
	r := ChannelResult{Status: http.StatusOK, Channel: c.Name}
	switch src {
	case SourceNone:
		return channelErr(CodeChannelNotFound)
	case SourceOverride, SourceSelfAssigned:
		r.ChannelStatus = ChannelStatusOverride
		r.AllowSet, r.HasAllowSet = c.AllowSelfAssign, true
	default:
		r.ChannelStatus = ChannelStatusDefault
	}
	return r
}

// UnsetChannel answers the device's unset: DELETE channel_self (old
// plugins) and POST channel_self with action "unset" (Capgo's Electron
// updater), in order: app unknown: 429 on_premise_app; a plugin that keeps
// its channel itself (UsesLocalChannel): ok, nothing stored or removed (it
// forgets the channel locally; a self-assignment stored for it is already
// ignored); old plugin without a stored self-assignment: cannot_override;
// else ok with ActionClear. An administrator's Override is never removed
// by a device. After an unset the device's defaultChannel decides again.
func UnsetChannel(s Snapshot, d Device) ChannelResult {
	if !s.App.Exists {
		return channelErr(CodeOnPremiseApp)
	}
	r := ChannelResult{Status: http.StatusOK}
	if UsesLocalChannel(d.PluginVersion) {
		return r
	}
	if s.SelfAssigned == "" {
		return channelErr(CodeCannotOverride)
	}
	r.Action = ActionClear
	return r
}

// ChannelInfo is one entry of listChannels.
type ChannelInfo struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	Public          bool   `json:"public"`
	AllowSelfAssign bool   `json:"allow_self_set"`
}

// ListChannels answers listChannels (GET channel_self): the channels a device
// like d could use, sorted by name then ID — those that are public or allow
// self-assignment, are enabled for its platform, admit it (emulator or real
// device, dev or prod build) and serve a live bundle. An unknown app gets
// the 429 on_premise_app refusal instead (and a nil list).
func ListChannels(s Snapshot, d Device) ([]ChannelInfo, *ChannelResult) {
	if !s.App.Exists {
		r := channelErr(CodeOnPremiseApp)
		return nil, &r
	}
	out := []ChannelInfo{}
	for _, c := range s.Channels {
		if !selfSelectable(c, d.Platform) || !s.bundleLive(c.Bundle) {
			continue
		}
		if d.IsEmulator && !c.AllowEmulator || !d.IsEmulator && !c.AllowDevice {
			continue
		}
		if d.IsProd && !c.AllowProd || !d.IsProd && !c.AllowDev {
			continue
		}
		out = append(out, ChannelInfo{ID: c.ID, Name: c.Name, Public: c.Public, AllowSelfAssign: c.AllowSelfAssign})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
