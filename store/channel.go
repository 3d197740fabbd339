package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/patchwire/patchwire/api"
)

// Channel keys; doc.go describes what each holds.
const (
	pfxChannel        = "c/"  // c/<app>\x00<name>: channel record
	pfxChannelHistory = "ch/" // ch/<app>\x00<name>: history, JSON array
	pfxOverride       = "cd/" // cd/<app>\x00<device>: override channel name
	pfxSelfAssigned   = "cs/" // cs/<app>\x00<device>: self-assigned channel name
	keyChannelSeq     = "s/channel-id"
)

// Rules for channels and devices.
const (
	// MaxChannelNameLen bounds a channel name.
	MaxChannelNameLen = 64
	// MaxDeviceIDLen bounds a device id.
	MaxDeviceIDLen = 128
	// MaxChannelHistory is how many events a channel's history keeps.
	MaxChannelHistory = 100
	// BuiltinBundle is the channel bundle that sends devices back to the
	// bundle shipped in the native app.
	BuiltinBundle = "builtin"
	// MaxBasisPoints is 100 % of devices in a rollout.
	MaxBasisPoints = 10000
)

// Channel policies (api.Channel.Policy): how far a bundle may move from the
// device's native version; resolver.Policy documents each.
const (
	PolicyNone     = "none"     // any version
	PolicyMajor    = "major"    // not past the native major (the default)
	PolicyMinor    = "minor"    // same major.minor as the native version
	PolicyPatch    = "patch"    // same major.minor.patch as the native version
	PolicyMetadata = "metadata" // the bundle's min_update_version decides
)

// kindError is a sentinel that is also another, broader sentinel: it prints
// like its parent and errors.Is matches both.
type kindError struct {
	what   string // for reading the code; Error prints the parent
	parent error
}

func (e *kindError) Error() string        { return e.parent.Error() }
func (e *kindError) Is(target error) bool { return target == e.parent }

// Channel errors. Each also matches the broader sentinel named in its
// comment, so callers that only know ErrNotFound or ErrInvalid still work.
var (
	// ErrChannelNotFound: the channel does not exist (also ErrNotFound).
	ErrChannelNotFound error = &kindError{"channel not found", ErrNotFound}
	// ErrBundleNotFound: a channel or rollout names a bundle version the
	// app does not have (also ErrNotFound).
	ErrBundleNotFound error = &kindError{"bundle not found", ErrNotFound}
	// ErrPublicConflict: another channel is already public for one of the
	// channel's platforms (also ErrInvalid).
	ErrPublicConflict error = &kindError{"public conflict", ErrInvalid}
	// ErrNoPreviousBundle: RollbackChannel found no earlier bundle that
	// still exists (also ErrInvalid).
	ErrNoPreviousBundle error = &kindError{"no previous bundle", ErrInvalid}
	// ErrBundleInUse: DeleteBundle refused a bundle a channel or a rollout
	// serves (also ErrInvalid).
	ErrBundleInUse error = &kindError{"bundle in use", ErrInvalid}
	// ErrNoRollout: a rollout action on a channel without a rollout (also
	// ErrInvalid).
	ErrNoRollout error = &kindError{"no rollout", ErrInvalid}
)

// appScopedKey is prefix + app + \x00 + name: app ids cannot hold \x00, so
// prefix + app + \x00 lists exactly one app's records.
func appScopedKey(prefix, app, name string) []byte {
	k := make([]byte, 0, len(prefix)+len(app)+1+len(name))
	k = append(k, prefix...)
	k = append(k, app...)
	k = append(k, bundleSep)
	return append(k, name...)
}

func appScopedPrefix(prefix, app string) []byte { return appScopedKey(prefix, app, "") }

func channelKey(app, name string) []byte        { return appScopedKey(pfxChannel, app, name) }
func channelHistoryKey(app, name string) []byte { return appScopedKey(pfxChannelHistory, app, name) }
func overrideKey(app, device string) []byte     { return appScopedKey(pfxOverride, app, device) }
func selfAssignedKey(app, device string) []byte { return appScopedKey(pfxSelfAssigned, app, device) }

// ValidateChannelName checks a channel name: 1–64 characters from
// [A-Za-z0-9._-]. The error wraps ErrInvalid.
func ValidateChannelName(name string) error {
	if name == "" || len(name) > MaxChannelNameLen {
		return invalid("channel name", name, fmt.Sprintf("must be 1 to %d characters", MaxChannelNameLen))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalid("channel name", name, "may hold only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// NormalizeDeviceID lower-cases a device id and checks it: 1–128 bytes of
// valid UTF-8 without control characters. The error wraps ErrInvalid.
func NormalizeDeviceID(id string) (string, error) {
	if id == "" || len(id) > MaxDeviceIDLen {
		return "", invalid("device id", id, fmt.Sprintf("must be 1 to %d bytes", MaxDeviceIDLen))
	}
	if !utf8.ValidString(id) {
		return "", invalid("device id", id, "is not valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return "", invalid("device id", id, fmt.Sprintf("contains control character %U", r))
		}
	}
	return strings.ToLower(id), nil
}

// NormalizePolicy maps a submitted policy name to the stored one: "" is
// major, Capgo's "version_number" is metadata. The error wraps ErrInvalid.
func NormalizePolicy(p string) (string, error) {
	switch p {
	case "":
		return PolicyMajor, nil
	case PolicyNone, PolicyMajor, PolicyMinor, PolicyPatch, PolicyMetadata:
		return p, nil
	case "version_number":
		return PolicyMetadata, nil
	}
	return "", invalid("policy", p, "must be none, major, minor, patch or metadata")
}

// CreateChannel adds channel ch.Name to app ch.App. The app must exist
// (ErrNotFound); the name must follow ValidateChannelName and be free
// (ErrExists); ch.Bundle must be "", "builtin" or a version of the app
// (ErrBundleNotFound); ch.Policy one of none, major, minor, patch, metadata
// ("" is major); a public channel must not share a platform with another
// public channel (ErrPublicConflict, naming it). The store assigns ID,
// Sequence 1, CreatedAt and UpdatedAt, and records a "create" event.
func (s *Store) CreateChannel(ctx context.Context, ch api.Channel) (api.Channel, error) {
	if err := ValidateAppID(ch.App); err != nil {
		return api.Channel{}, err
	}
	if err := ValidateChannelName(ch.Name); err != nil {
		return api.Channel{}, err
	}
	var out api.Channel
	err := s.update(ctx, func(txn kvTxn) error {
		if _, err := getAppTxn(txn, ch.App); err != nil {
			return err
		}
		ok, err := exists(txn, channelKey(ch.App, ch.Name))
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("channel %q of app %q: %w", ch.Name, ch.App, ErrExists)
		}
		c := ch
		c.Rollout = cloneRollout(ch.Rollout)
		if err := s.checkChannel(txn, &c); err != nil {
			return err
		}
		id, err := nextChannelID(txn)
		if err != nil {
			return err
		}
		now := s.now()
		c.ID, c.Sequence, c.CreatedAt, c.UpdatedAt = id, 1, now, now
		if err := putChannel(txn, c); err != nil {
			return err
		}
		ev := api.ChannelEvent{At: now, Action: "create", Bundle: c.Bundle, Detail: rolloutDetail(c.Rollout)}
		if err := appendHistory(txn, c.App, c.Name, []api.ChannelEvent{ev}); err != nil {
			return err
		}
		out = c
		if err := s.publishTxn(txn, servesEvent(c), channelData(api.Channel{}, c, ev)); err != nil {
			return err
		}
		return s.publishPausedTxn(txn, api.Channel{}, c, ev, true)
	})
	if err != nil {
		return api.Channel{}, fmt.Errorf("create channel: %w", err)
	}
	s.emitServes(api.Channel{}, out, true)
	return out, nil
}

// GetChannel returns channel name of app, or ErrChannelNotFound (ErrNotFound
// for an unknown app).
func (s *Store) GetChannel(ctx context.Context, app, name string) (api.Channel, error) {
	if err := ValidateAppID(app); err != nil {
		return api.Channel{}, err
	}
	var c api.Channel
	err := s.view(ctx, func(txn kvTxn) error {
		var err error
		c, err = getChannelTxn(txn, app, name)
		return err
	})
	if err != nil {
		return api.Channel{}, fmt.Errorf("get channel: %w", err)
	}
	return c, nil
}

// ListChannels returns app's channels ordered by name. An unknown app is
// ErrNotFound.
func (s *Store) ListChannels(ctx context.Context, app string) ([]api.Channel, error) {
	if err := ValidateAppID(app); err != nil {
		return nil, err
	}
	var list []api.Channel
	err := s.view(ctx, func(txn kvTxn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		var err error
		list, err = listChannelsTxn(txn, app)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return list, nil
}

// UpdateChannel changes channel name of app with fn in one read-modify-write
// transaction (retried on conflict, so fn may run more than once and must
// only edit the channel it is given). fn may not change App, Name, ID,
// CreatedAt or Sequence. The result is validated as CreateChannel does;
// when fn changed nothing, nothing is written. Otherwise UpdatedAt is set,
// Sequence increases when what the channel serves (Bundle or Rollout)
// changed, and an event with action is added to the history.
//
// A rollout whose bundle becomes the channel's bundle is cleared (it has
// nothing left to roll out); a new rollout without an ID gets a random one.
func (s *Store) UpdateChannel(ctx context.Context, app, name string, action string, fn func(*api.Channel) error) (api.Channel, error) {
	return s.editChannel(ctx, "update", app, name, false, fn, func(txn kvTxn, old, c api.Channel) (api.Channel, error) {
		return s.saveChannel(txn, old, c, action, "")
	})
}

// editChannel is the read-modify-write of UpdateChannel and StageChannel:
// in one update transaction (retried on conflict) it loads channel name of
// app as old, lets fn edit a copy c of it with a Rollout of its own (and
// no Pending, with dropPending), and has save write c, returning what save
// returns. An invalid app id is returned as is; any other error is wrapped
// as "<verb> channel %q of app %q".
func (s *Store) editChannel(ctx context.Context, verb, app, name string, dropPending bool, fn func(*api.Channel) error, save func(txn kvTxn, old, c api.Channel) (api.Channel, error)) (api.Channel, error) {
	if err := ValidateAppID(app); err != nil {
		return api.Channel{}, err
	}
	var before, out api.Channel
	err := s.update(ctx, func(txn kvTxn) error {
		old, err := getChannelTxn(txn, app, name)
		if err != nil {
			return err
		}
		before = old
		c := old
		c.Rollout = cloneRollout(old.Rollout)
		if dropPending {
			c.Pending = nil
		}
		if err := fn(&c); err != nil {
			return err
		}
		out, err = save(txn, old, c)
		return err
	})
	if err != nil {
		return api.Channel{}, fmt.Errorf("%s channel %q of app %q: %w", verb, name, app, err)
	}
	s.emitServes(before, out, false)
	return out, nil
}

// saveChannel validates c (the new state of old), and writes it with a
// history event unless nothing changed. It returns what is stored.
func (s *Store) saveChannel(txn kvTxn, old, c api.Channel, action, detail string) (api.Channel, error) {
	c.App, c.Name, c.ID, c.CreatedAt, c.Sequence, c.UpdatedAt = old.App, old.Name, old.ID, old.CreatedAt, old.Sequence, old.UpdatedAt
	if old.Bundle != c.Bundle {
		c.Paused = false // a pause holds one bundle
	}
	if err := s.checkChannel(txn, &c); err != nil {
		return api.Channel{}, err
	}
	serving := servingChanged(old, c)
	if serving {
		c.Pending = nil // a later change of what the channel serves replaces a pending switch
	}
	if channelsEqual(old, c) {
		return old, nil
	}
	if serving {
		c.Sequence++
	}
	c.UpdatedAt = s.now()
	if err := putChannel(txn, c); err != nil {
		return api.Channel{}, err
	}
	ev := api.ChannelEvent{At: c.UpdatedAt, Action: action, Bundle: c.Bundle}
	if old.Bundle != c.Bundle {
		ev.Previous = old.Bundle
	}
	ev.Detail = joinDetail(detail, diffChannel(old, c))
	if err := appendHistory(txn, c.App, c.Name, []api.ChannelEvent{ev}); err != nil {
		return api.Channel{}, err
	}
	if serving {
		if err := s.publishTxn(txn, servesEvent(c), channelData(old, c, ev)); err != nil {
			return api.Channel{}, err
		}
	}
	if err := s.publishPausedTxn(txn, old, c, ev, false); err != nil {
		return api.Channel{}, err
	}
	return c, nil
}

// publishPausedTxn queues ChannelPaused for hooks when c is paused and
// old was not (or c was created so), as emitServes emits it after commit.
func (s *Store) publishPausedTxn(txn kvTxn, old, c api.Channel, ev api.ChannelEvent, created bool) error {
	if !Paused(c) || !created && Paused(old) {
		return nil
	}
	return s.publishTxn(txn, PublishEvent{Kind: ChannelPaused, App: c.App, Channel: c.Name, Version: c.Bundle}, channelData(old, c, ev))
}

// servingChanged reports whether c serves other bundles than old, or to
// other devices: its bundle, its rollout, its pause or its disabling differ.
func servingChanged(old, c api.Channel) bool {
	return old.Bundle != c.Bundle || !rolloutsEqual(old.Rollout, c.Rollout) ||
		old.Paused != c.Paused || old.Disabled != c.Disabled
}

// SetChannelBundle makes channel name serve bundle (a version of the app or
// "builtin"), recorded as action "set".
func (s *Store) SetChannelBundle(ctx context.Context, app, name, bundle string) (api.Channel, error) {
	if bundle == "" {
		return api.Channel{}, invalid("bundle", bundle, `must be a version or "builtin"`)
	}
	return s.UpdateChannel(ctx, app, name, "set", func(c *api.Channel) error {
		c.Bundle = bundle
		return nil
	})
}

// RollbackChannel moves channel name back to the bundle it served before the
// current one, as its history records it, and records action "rollback".
// Rollbacks undo in order: after set A, set B, set C, two rollbacks lead to
// B, then A. Earlier bundles that were deleted since are skipped. With no
// earlier bundle left it returns ErrNoPreviousBundle (also ErrInvalid).
func (s *Store) RollbackChannel(ctx context.Context, app, name string) (api.Channel, error) {
	if err := ValidateAppID(app); err != nil {
		return api.Channel{}, err
	}
	var before, out api.Channel
	err := s.update(ctx, func(txn kvTxn) error {
		old, err := getChannelTxn(txn, app, name)
		if err != nil {
			return err
		}
		before = old
		target, skipped, err := rollbackTarget(txn, old)
		if err != nil {
			return err
		}
		c := old
		c.Rollout = cloneRollout(old.Rollout)
		c.Bundle = target
		detail := ""
		if len(skipped) > 0 {
			detail = "skipped deleted " + strings.Join(skipped, ", ")
		}
		out, err = s.saveChannel(txn, old, c, "rollback", detail)
		return err
	})
	if err != nil {
		return api.Channel{}, fmt.Errorf("roll back channel %q of app %q: %w", name, app, err)
	}
	s.emitServes(before, out, false)
	return out, nil
}

// rollbackTarget finds the bundle RollbackChannel moves old back to, and
// the deleted bundles it skipped on the way.
func rollbackTarget(txn kvTxn, old api.Channel) (string, []string, error) {
	hist, err := getHistory(txn, old.App, old.Name)
	if err != nil {
		return "", nil, err
	}
	stack := servedStack(hist)
	if n := len(stack); n > 0 && stack[n-1] == old.Bundle {
		stack = stack[:n-1]
	}
	var skipped []string
	for i := len(stack) - 1; i >= 0; i-- {
		b := stack[i]
		if b == "" {
			continue
		}
		if b != BuiltinBundle {
			ok, err := exists(txn, bundleKey(old.App, b))
			if err != nil {
				return "", nil, err
			}
			if !ok {
				skipped = append(skipped, b)
				continue
			}
		}
		if b != old.Bundle {
			return b, skipped, nil
		}
	}
	return "", nil, fmt.Errorf("channel %q serves %s and its history holds no earlier bundle that still exists: %w",
		old.Name, bundleName(old.Bundle), ErrNoPreviousBundle)
}

// servedStack replays a history into the stack of bundles a rollback walks
// down: every event that changed the bundle pushes it, a rollback pops back
// to the bundle it went to.
func servedStack(hist []api.ChannelEvent) []string {
	var stack []string
	push := func(b string) {
		if len(stack) == 0 || stack[len(stack)-1] != b {
			stack = append(stack, b)
		}
	}
	if len(hist) > 0 && hist[0].Action != "create" && hist[0].Previous != "" {
		push(hist[0].Previous) // the history was trimmed
	}
	for _, ev := range hist {
		if ev.Action == "rollback" {
			for len(stack) > 0 && stack[len(stack)-1] != ev.Bundle {
				stack = stack[:len(stack)-1]
			}
		}
		push(ev.Bundle) // a no-op when the event did not change the bundle
	}
	return stack
}

// ChannelHistory returns channel name's events, oldest first; only the last
// MaxChannelHistory are kept.
func (s *Store) ChannelHistory(ctx context.Context, app, name string) ([]api.ChannelEvent, error) {
	if err := ValidateAppID(app); err != nil {
		return nil, err
	}
	var hist []api.ChannelEvent
	err := s.view(ctx, func(txn kvTxn) error {
		if _, err := getChannelTxn(txn, app, name); err != nil {
			return err
		}
		var err error
		hist, err = getHistory(txn, app, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("channel history: %w", err)
	}
	if hist == nil {
		hist = []api.ChannelEvent{}
	}
	return hist, nil
}

// DeleteChannel removes channel name of app with its history, and the
// device overrides and self-assignments that point at it (so a channel
// created later under the same name starts without them).
func (s *Store) DeleteChannel(ctx context.Context, app, name string) error {
	if err := ValidateAppID(app); err != nil {
		return err
	}
	err := s.update(ctx, func(txn kvTxn) error {
		if _, err := getChannelTxn(txn, app, name); err != nil {
			return err
		}
		for _, k := range [][]byte{channelKey(app, name), channelHistoryKey(app, name)} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		for _, pfx := range []string{pfxOverride, pfxSelfAssigned} {
			var stale [][]byte
			err := scan(txn, appScopedPrefix(pfx, app), true, func(key, v []byte) error {
				if string(v) == name {
					stale = append(stale, bytes.Clone(key))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range stale {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete channel %q of app %q: %w", name, app, err)
	}
	return nil
}

// SetOverride pins device deviceID of app to channel, which must exist
// (ErrChannelNotFound). The device id is lower-cased (NormalizeDeviceID).
func (s *Store) SetOverride(ctx context.Context, app, deviceID, channel string) error {
	if channel == "" {
		return invalid("override channel", channel, "is required (ClearOverride removes an override)")
	}
	return s.setDeviceChannel(ctx, "set override", pfxOverride, app, deviceID, channel, true)
}

// ClearOverride removes the override of device deviceID; none is not an
// error.
func (s *Store) ClearOverride(ctx context.Context, app, deviceID string) error {
	return s.setDeviceChannel(ctx, "clear override", pfxOverride, app, deviceID, "", false)
}

// SetSelfAssigned stores the channel a device (an old plugin, through the
// Capgo channel_self endpoint) chose for itself; "" clears it. A non-empty
// channel must exist (ErrChannelNotFound). The device id is lower-cased.
func (s *Store) SetSelfAssigned(ctx context.Context, app, deviceID, channel string) error {
	return s.setDeviceChannel(ctx, "set self-assigned channel", pfxSelfAssigned, app, deviceID, channel, false)
}

// setDeviceChannel writes (or with channel "" deletes) a device's channel
// record. The channel's key is read, so a DeleteChannel committed first
// makes this fail. With pin it is also written back unchanged, so a
// DeleteChannel that started earlier (whose scan cannot see the new device
// key) conflicts instead: no override outlives its channel. Self-assignments
// skip that (they come from device traffic, and rewriting one hot key per
// request would make them conflict with each other); one left behind by
// that race is harmless, as the resolver ignores a channel that does not
// exist.
func (s *Store) setDeviceChannel(ctx context.Context, what, prefix, app, deviceID, channel string, pin bool) error {
	if err := ValidateAppID(app); err != nil {
		return err
	}
	dev, err := NormalizeDeviceID(deviceID)
	if err != nil {
		return err
	}
	key := appScopedKey(prefix, app, dev)
	err = s.updateDevices(ctx, app, func(txn kvTxn) error {
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		if channel == "" {
			return txn.Delete(key)
		}
		k := channelKey(app, channel)
		v, ok, err := getValue(txn, k)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := getChannelTxn(txn, app, channel); err != nil {
				return err
			}
		}
		if pin {
			if err := txn.Set(k, v); err != nil {
				return err
			}
		}
		return txn.Set(key, []byte(channel))
	})
	if err != nil {
		return fmt.Errorf("%s for device %q: %w", what, clip(dev), err)
	}
	return nil
}

// checkChannel normalises and validates c inside txn: name, policy, bundle,
// rollout, and public uniqueness against the app's other channels.
func (s *Store) checkChannel(txn kvTxn, c *api.Channel) error {
	if err := ValidateChannelName(c.Name); err != nil {
		return err
	}
	p, err := NormalizePolicy(c.Policy)
	if err != nil {
		return err
	}
	c.Policy = p
	if err := checkServedBundle(txn, c.App, c.Bundle, true); err != nil {
		return err
	}
	if err := checkPending(txn, c); err != nil {
		return err
	}
	if err := CheckGuard(c.Guard); err != nil {
		return err
	}
	if r := c.Rollout; r != nil {
		if r.Bundle == c.Bundle {
			c.Rollout = nil // promoted, or the channel was set to it
		} else {
			if r.Bundle == "" || r.Bundle == BuiltinBundle {
				return invalid("rollout bundle", r.Bundle, "must be an uploaded version of the app")
			}
			if err := checkServedBundle(txn, c.App, r.Bundle, false); err != nil {
				return err
			}
			if r.BasisPoints < 0 || r.BasisPoints > MaxBasisPoints {
				return invalid("rollout basis points", fmt.Sprint(r.BasisPoints), "must be 0 to 10000 (100 %)")
			}
			if r.ID == "" {
				r.ID = newRolloutID()
			}
			if r.StartedAt.IsZero() {
				r.StartedAt = s.now()
			}
		}
	}
	if !c.Public {
		return nil
	}
	others, err := listChannelsTxn(txn, c.App)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.Name == c.Name || !o.Public {
			continue
		}
		for _, pl := range []struct {
			name string
			a, b bool
		}{{"ios", c.IOS, o.IOS}, {"android", c.Android, o.Android}, {"electron", c.Electron, o.Electron}} {
			if pl.a && pl.b {
				return fmt.Errorf("channel %q is already public for %s (at most one public channel per platform; make it private first): %w",
					o.Name, pl.name, ErrPublicConflict)
			}
		}
	}
	return nil
}

// checkServedBundle checks that version may be served: a version of app
// that exists, or "builtin" (and "" when allowEmpty).
func checkServedBundle(txn kvTxn, app, version string, allowEmpty bool) error {
	if version == BuiltinBundle || version == "" && allowEmpty {
		return nil
	}
	if _, err := ParseVersion(version); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	ok, err := exists(txn, bundleKey(app, version))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("app %q has no bundle %q: %w", app, version, ErrBundleNotFound)
	}
	return nil
}

func getChannelTxn(txn kvTxn, app, name string) (api.Channel, error) {
	if err := ValidateChannelName(name); err != nil {
		return api.Channel{}, err
	}
	k := channelKey(app, name)
	v, ok, err := getValue(txn, k)
	if err != nil {
		return api.Channel{}, err
	}
	if !ok {
		if _, err := getAppTxn(txn, app); err != nil {
			return api.Channel{}, err
		}
		return api.Channel{}, fmt.Errorf("channel %q of app %q: %w", name, app, ErrChannelNotFound)
	}
	return decodeChannel(k, app, name, v)
}

func decodeChannel(k []byte, app, name string, v []byte) (api.Channel, error) {
	var c api.Channel
	if err := decodeRecord(k, v, &c); err != nil {
		return api.Channel{}, err
	}
	c.App, c.Name = app, name
	return c, nil
}

// listChannelsTxn returns app's channels in name order (key order).
func listChannelsTxn(txn kvTxn, app string) ([]api.Channel, error) {
	list := []api.Channel{}
	pfx := appScopedPrefix(pfxChannel, app)
	err := scan(txn, pfx, true, func(key, v []byte) error {
		name := string(key[len(pfx):])
		c, err := decodeChannel(key, app, name, v)
		if err == nil {
			list = append(list, c)
		}
		return err
	})
	return list, err
}

func putChannel(txn kvTxn, c api.Channel) error {
	rec := c
	rec.App, rec.Name = "", "" // the key holds them
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return txn.Set(channelKey(c.App, c.Name), v)
}

func getHistory(txn kvTxn, app, name string) ([]api.ChannelEvent, error) {
	k := channelHistoryKey(app, name)
	v, ok, err := getValue(txn, k)
	if err != nil || !ok {
		return nil, err
	}
	var hist []api.ChannelEvent
	err = decodeRecord(k, v, &hist)
	return hist, err
}

// appendHistory adds events to a channel's history, keeping the last
// MaxChannelHistory.
func appendHistory(txn kvTxn, app, name string, evs []api.ChannelEvent) error {
	hist, err := getHistory(txn, app, name)
	if err != nil {
		return err
	}
	hist = append(hist, evs...)
	if n := len(hist) - MaxChannelHistory; n > 0 {
		hist = hist[n:]
	}
	v, err := json.Marshal(hist)
	if err != nil {
		return err
	}
	return txn.Set(channelHistoryKey(app, name), v)
}

// nextChannelID increments and returns the store's channel id counter.
// DeleteBundle reads this key, so it conflicts with any CreateChannel that
// commits in between (a new channel key is invisible to its scan).
func nextChannelID(txn kvTxn) (int64, error) {
	v, ok, err := getValue(txn, []byte(keyChannelSeq))
	if err != nil {
		return 0, err
	}
	var n uint64
	if ok {
		if len(v) != 8 {
			return 0, fmt.Errorf("record %q: %d bytes: %w", keyChannelSeq, len(v), ErrCorrupt)
		}
		n = binary.BigEndian.Uint64(v)
	}
	n++
	return int64(n), txn.Set([]byte(keyChannelSeq), binary.BigEndian.AppendUint64(nil, n))
}

// channelServing returns the first channel of app whose bundle or rollout
// is version (and which of the two), reading every channel key in txn.
func channelServing(txn kvTxn, app, version string) (string, string, error) {
	if _, err := exists(txn, []byte(keyChannelSeq)); err != nil {
		return "", "", err
	}
	list, err := listChannelsTxn(txn, app)
	if err != nil {
		return "", "", err
	}
	for _, c := range list {
		if c.Bundle == version {
			return c.Name, "serves", nil
		}
		if c.Rollout != nil && c.Rollout.Bundle == version {
			return c.Name, "rolls out", nil
		}
		if pendingNames(c.Pending, version) {
			return c.Name, "switches (pending) to", nil
		}
	}
	return "", "", nil
}

func newRolloutID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func cloneRollout(r *api.Rollout) *api.Rollout {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

func rolloutsEqual(a, b *api.Rollout) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ID == b.ID && a.Bundle == b.Bundle && a.BasisPoints == b.BasisPoints &&
		a.Paused == b.Paused && a.StartedAt.Equal(b.StartedAt)
}

func channelsEqual(a, b api.Channel) bool {
	ra, rb := a.Rollout, b.Rollout
	pa, pb := a.Pending, b.Pending
	ga, gb := a.Guard, b.Guard
	ta, tb := a.GuardTrips, b.GuardTrips
	a.Rollout, b.Rollout, a.Pending, b.Pending = nil, nil, nil, nil
	a.Guard, b.Guard, a.GuardTrips, b.GuardTrips = nil, nil, nil, nil
	times := a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
	a.CreatedAt, b.CreatedAt, a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	// What is left holds only strings, numbers and booleans (and the nil
	// slice): DeepEqual is ==.
	return times && reflect.DeepEqual(a, b) && rolloutsEqual(ra, rb) && pendingEqual(pa, pb) &&
		guardsEqual(ga, gb) && tripsEqual(ta, tb)
}

// diffChannel describes what changed between a and b, e.g.
// "public true, policy minor, rollout 1.2.0 at 30% (paused)".
func diffChannel(a, b api.Channel) string {
	var d []string
	flag := func(name string, x, y bool) {
		if x != y {
			d = append(d, fmt.Sprintf("%s %t", name, y))
		}
	}
	flag("public", a.Public, b.Public)
	flag("ios", a.IOS, b.IOS)
	flag("android", a.Android, b.Android)
	flag("electron", a.Electron, b.Electron)
	flag("allow_self_assign", a.AllowSelfAssign, b.AllowSelfAssign)
	flag("allow_emulator", a.AllowEmulator, b.AllowEmulator)
	flag("allow_device", a.AllowDevice, b.AllowDevice)
	flag("allow_dev", a.AllowDev, b.AllowDev)
	flag("allow_prod", a.AllowProd, b.AllowProd)
	flag("allow_under_native", a.AllowUnderNative, b.AllowUnderNative)
	flag("paused", a.Paused, b.Paused)
	flag("disabled", a.Disabled, b.Disabled)
	if a.Policy != b.Policy {
		d = append(d, "policy "+b.Policy)
	}
	if !guardsEqual(a.Guard, b.Guard) {
		d = append(d, guardDetail(b.Guard))
	}
	if !rolloutsEqual(a.Rollout, b.Rollout) {
		if b.Rollout == nil {
			d = append(d, "no rollout")
		} else {
			d = append(d, rolloutDetail(b.Rollout))
		}
	}
	return strings.Join(d, ", ")
}

// rolloutDetail describes a rollout for the history: "rollout 1.2.0 at 12.5%".
func rolloutDetail(r *api.Rollout) string {
	if r == nil {
		return ""
	}
	s := fmt.Sprintf("rollout %s at %s%%", r.Bundle, FormatBasisPoints(r.BasisPoints))
	if r.Paused {
		s += " (paused)"
	}
	return s
}

// FormatBasisPoints renders basis points as a percentage without trailing
// zeros: 3000 → "30", 1250 → "12.5", 5 → "0.05".
func FormatBasisPoints(bp int) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func bundleName(b string) string {
	if b == "" {
		return "no bundle"
	}
	return b
}
