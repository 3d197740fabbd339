package resolver

import "strconv"

// Source says which rule chose a device's channel.
type Source int

// The channel-selection rules, in the order they are tried.
const (
	SourceNone           Source = iota // no channel
	SourceOverride                     // Snapshot.Override, an administrator's pin
	SourceSelfAssigned                 // Snapshot.SelfAssigned, stored for an old plugin
	SourceDefaultChannel               // Device.DefaultChannel
	SourcePublic                       // the app's public channel for the platform
)

// String returns a short lower-case name ("override", "self_assigned",
// "default_channel", "public", "none").
func (s Source) String() string {
	switch s {
	case SourceNone:
		return "none"
	case SourceOverride:
		return "override"
	case SourceSelfAssigned:
		return "self_assigned"
	case SourceDefaultChannel:
		return "default_channel"
	case SourcePublic:
		return "public"
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// Selection is the channel a device uses and the bundle version that channel
// wants it to run.
type Selection struct {
	Channel Channel
	Source  Source
	// Target is the bundle version to serve: the rollout's bundle when
	// InRollout, else Channel.Bundle ("" = no bundle assigned, Builtin =
	// back to the native bundle).
	Target    string
	InRollout bool
	// RolloutID is the id the device was drawn with ("" without rollout).
	RolloutID string
	// Drawn reports that the device's id decided InRollout: an active,
	// unpaused rollout of more than 0 % and less than 100 %. A paused
	// rollout is decided by the bundle the device runs, and 0 % or 100 %
	// by nothing of the device's.
	Drawn bool
}

// SelectChannel chooses the device's channel (protocol §8 step 6). A channel
// whose Bundle is missing or deleted is invisible to every rule. First match
// wins:
//
//  1. Snapshot.Override, if that channel exists: no platform, public or
//     self-assign filter (an administrator chose it; restrictions are
//     reported later as refusals).
//  2. Snapshot.SelfAssigned (old plugins), if that channel exists. Like an
//     override it is not filtered here, but it is not exempt from the
//     private-channel refusal: if the channel stopped allowing
//     self-assignment the device gets cannot_update_via_private_channel
//     rather than silently moving to another channel.
//  3. Device.DefaultChannel when non-empty: the channel of exactly that name
//     if it is enabled for the platform and public or self-assignable.
//     Otherwise there is no channel: no fallback to the public channel, as
//     in Capgo (a device that asked for a channel it may not use must not
//     silently land elsewhere).
//  4. With no DefaultChannel: the public channel enabled for the platform
//     (the first by name, then ID, if the catalog has several).
//
// Then, if the chosen channel has an active rollout whose bundle is live,
// the device gets the rollout bundle when rolloutPick says so.
func SelectChannel(s Snapshot, d Device) (Selection, bool) {
	ch, src := pickChannel(&s, d)
	if src == SourceNone {
		return Selection{}, false
	}
	sel := Selection{Channel: ch, Source: src, Target: ch.Bundle}
	if ch.Rollout.Active() && s.bundleLive(ch.Rollout.Bundle) {
		sel.RolloutID = rolloutID(ch)
		sel.Drawn = rolloutDrawn(ch)
		if rolloutPick(ch, d, currentVersion(d)) {
			sel.InRollout = true
			sel.Target = ch.Rollout.Bundle
		}
	}
	return sel, true
}

func pickChannel(s *Snapshot, d Device) (Channel, Source) {
	if s.Override != "" {
		if c, ok := s.channel(s.Override); ok && s.bundleLive(c.Bundle) {
			return c, SourceOverride
		}
	}
	if s.SelfAssigned != "" {
		if c, ok := s.channel(s.SelfAssigned); ok && s.bundleLive(c.Bundle) {
			return c, SourceSelfAssigned
		}
	}
	if d.DefaultChannel != "" {
		if c, ok := s.channel(d.DefaultChannel); ok && s.bundleLive(c.Bundle) && selfSelectable(c, d.Platform) {
			return c, SourceDefaultChannel
		}
		return Channel{}, SourceNone
	}
	if c, ok := publicChannel(s, d.Platform); ok {
		return c, SourcePublic
	}
	return Channel{}, SourceNone
}

// selfSelectable is the rule for a channel a device names itself.
func selfSelectable(c Channel, p Platform) bool {
	return c.Enabled(p) && (c.Public || c.AllowSelfAssign)
}

// publicChannel returns the visible public channel for p, the least by
// (Name, ID).
func publicChannel(s *Snapshot, p Platform) (Channel, bool) {
	if s.idx != nil {
		c, ok := s.idx.public[p]
		return c, ok
	}
	var best Channel
	found := false
	for _, c := range s.Channels {
		if !c.Public || !c.Enabled(p) || !s.bundleLive(c.Bundle) {
			continue
		}
		if !found || c.Name < best.Name || c.Name == best.Name && c.ID < best.ID {
			best, found = c, true
		}
	}
	return best, found
}

// currentVersion is version_name after the builtin substitution: a device
// on the native bundle is taken to run its version_build (canonical form when
// it parses).
func currentVersion(d Device) string {
	if d.VersionName != Builtin {
		return d.VersionName
	}
	if v, err := ParseNativeVersion(d.VersionBuild); err == nil {
		return v.String()
	}
	return d.VersionBuild
}
