package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patchwire/patchwire/api"
)

// Devices and their stats events (doc.go, "Devices and stats").
//
//	dv/<app>\x00<device id>                 device record (JSON deviceRecord)
//	ev/<app>\x00<device id>\x00<seq BE64>  one stats event (JSON eventRecord)
//	sb/<app>\x00<channel>\x00<bundle>      per-bundle counters (JSON bundleCounters)
//
// App ids, device ids, channel names and bundle versions never hold \x00, so
// each prefix up to a \x00 selects exactly one app (or device).
const (
	pfxDevice      = "dv/"
	pfxEvent       = "ev/"
	pfxBundleStats = "sb/"
)

// Retention of stats (doc.go, "Devices and stats").
const (
	// EventsPerDevice is how many stats events are kept per device: when a
	// device sends more, its oldest are deleted in the same transaction.
	EventsPerDevice = 100
	// maxEventBytes bounds one stored event: an event whose JSON is larger
	// is stored without its metadata.
	maxEventBytes = 8 << 10
	// maxActivityTxnBytes is roughly how many bytes of records one
	// RecordActivity transaction writes before it commits and starts the
	// next, well below Badger's transaction size limit.
	maxActivityTxnBytes = 2 << 20
	// maxNameBytes bounds a device id, channel name or bundle version in a
	// key.
	maxNameBytes = 256
)

// DeviceReport is what one request tells the server about a device. Every
// field is stored as given (the device's latest word), except Bundle and
// CustomID, applied only when not "" (the plugin sends custom_id "" when it
// has none to tell), and Channel, applied only with SetChannel.
type DeviceReport struct {
	App, DeviceID string
	// At is when the server heard it; zero means the store clock.
	At                                      time.Time
	Platform, VersionOS, VersionBuild       string
	PluginVersion, CustomID, DefaultChannel string
	IsEmulator, IsProd                      bool
	// Bundle is the bundle the device runs now ("builtin" for the native
	// one); "" leaves the recorded one.
	Bundle string
	// Channel is the channel the server resolved for the device ("" for
	// none); it is applied only when SetChannel is true.
	Channel    string
	SetChannel bool
}

// Event is one stats event of a device.
type Event struct {
	App, DeviceID string
	// At is when the server received it; zero means the store clock.
	At time.Time
	// DeviceAt is the device's timestamp, zero when it sent none.
	DeviceAt time.Time
	Action   string
	// Version is the version_name the event is about, as sent (per-file
	// failures send "<version>:<file>"); OldVersion the previous bundle.
	Version, OldVersion string
	Metadata            map[string]string
	// BytesServed and BytesFull, on an event that completes a download,
	// are the bytes the device was sent for it and the size of the bundle's
	// full zip: the series count them (bytes saved = full - served).
	BytesServed, BytesFull int64
}

// Activity is a batch of device reports and events, written by
// RecordActivity.
type Activity struct {
	Devices []DeviceReport
	Events  []Event
}

// deviceRecord is the dv/ value.
type deviceRecord struct {
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	Platform       string    `json:"platform,omitempty"`
	VersionOS      string    `json:"version_os,omitempty"`
	VersionBuild   string    `json:"version_build,omitempty"`
	PluginVersion  string    `json:"plugin_version,omitempty"`
	CustomID       string    `json:"custom_id,omitempty"`
	DefaultChannel string    `json:"default_channel,omitempty"`
	IsEmulator     bool      `json:"is_emulator,omitempty"`
	IsProd         bool      `json:"is_prod,omitempty"`
	Bundle         string    `json:"bundle,omitempty"`
	Channel        string    `json:"channel,omitempty"`
	// Events is how many ev/ keys the device has: seqs NextSeq-Events up
	// to NextSeq-1.
	Events  int    `json:"events,omitempty"`
	NextSeq uint64 `json:"next_seq,omitempty"`
}

func (r deviceRecord) device(app, id string) api.Device {
	return api.Device{
		App: app, ID: id, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen,
		Platform: r.Platform, VersionOS: r.VersionOS, VersionBuild: r.VersionBuild,
		PluginVersion: r.PluginVersion, CustomID: r.CustomID, DefaultChannel: r.DefaultChannel,
		IsEmulator: r.IsEmulator, IsProd: r.IsProd, Bundle: r.Bundle, Channel: r.Channel,
	}
}

func deviceKey(app, id string) []byte { return appScopedKey(pfxDevice, app, id) }

func eventPrefix(app, id string) []byte { return append(appScopedKey(pfxEvent, app, id), 0) }

func eventKey(app, id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(eventPrefix(app, id), seq)
}

func validName(field, s string) error {
	if len(s) > maxNameBytes || strings.IndexByte(s, 0) >= 0 {
		return invalid(field, s, fmt.Sprintf("must be at most %d bytes without NUL", maxNameBytes))
	}
	return nil
}

func validDevice(app, id string) error {
	if err := ValidateAppID(app); err != nil {
		return err
	}
	_, err := NormalizeDeviceID(id)
	return err
}

// deviceBatch is everything one device gets in a RecordActivity call.
type deviceBatch struct {
	app, id string
	reports []DeviceReport
	events  []Event
	size    int // rough bytes written
}

// RecordActivity writes device reports and stats events: it creates or
// updates each device's record, appends its events (keeping the newest
// EventsPerDevice), and keeps the per-bundle counters in step (devices per
// bundle and channel, downloads, installs, failures, rollbacks; see
// api.BundleStats). An event is counted under the channel the device's
// record names after this batch's reports. Large batches are written in
// several transactions, each consistent on its own; the call is meant for a
// single background writer, and concurrent calls are safe (conflicts are
// retried). Invalid names fail the whole call before anything is written.
func (s *Store) RecordActivity(ctx context.Context, a Activity) error {
	if err := s.ensureSpace(int64(len(a.Devices)+len(a.Events)) * 1024); err != nil {
		return fmt.Errorf("record activity: %w", err)
	}
	batches := map[string]*deviceBatch{}
	get := func(app, id string) (*deviceBatch, error) {
		k := app + "\x00" + id
		b := batches[k]
		if b == nil {
			if err := validDevice(app, id); err != nil {
				return nil, err
			}
			b = &deviceBatch{app: app, id: id, size: 512}
			batches[k] = b
		}
		return b, nil
	}
	for _, r := range a.Devices {
		b, err := get(r.App, r.DeviceID)
		if err != nil {
			return fmt.Errorf("record activity: %w", err)
		}
		if err := errors.Join(validName("bundle", r.Bundle), validName("channel", r.Channel)); err != nil {
			return fmt.Errorf("record activity: %w", err)
		}
		b.reports = append(b.reports, r)
	}
	for _, e := range a.Events {
		b, err := get(e.App, e.DeviceID)
		if err != nil {
			return fmt.Errorf("record activity: %w", err)
		}
		if err := errors.Join(validName("version", e.Version), validName("action", e.Action)); err != nil {
			return fmt.Errorf("record activity: %w", err)
		}
		b.events = append(b.events, e)
		b.size += 256 + len(e.Version) + len(e.OldVersion)
		for k, v := range e.Metadata {
			b.size += len(k) + len(v)
		}
	}
	keys := make([]string, 0, len(batches))
	for k := range batches {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for len(keys) > 0 {
		n, size := 0, 0
		for n < len(keys) && (n == 0 || size+batches[keys[n]].size <= maxActivityTxnBytes) {
			size += batches[keys[n]].size
			n++
		}
		chunk := make([]*deviceBatch, n)
		for i, k := range keys[:n] {
			chunk[i] = batches[k]
		}
		keys = keys[n:]
		if err := s.updateData(ctx, func(txn kvTxn) error { return s.recordTxn(txn, chunk) }); err != nil {
			return fmt.Errorf("record activity: %w", err)
		}
	}
	return nil
}

// recordTxn writes one chunk of devices. It may run more than once.
func (s *Store) recordTxn(txn kvTxn, chunk []*deviceBatch) error {
	now := s.now()
	deltas := map[counterKey]*bundleCounters{}
	delta := func(app, channel, bundle string) *bundleCounters {
		k := counterKey{app, channel, bundle}
		c := deltas[k]
		if c == nil {
			c = &bundleCounters{}
			deltas[k] = c
		}
		return c
	}
	for _, b := range chunk {
		dk := deviceKey(b.app, b.id)
		var rec deviceRecord
		v, ok, err := getValue(txn, dk)
		if err != nil {
			return err
		}
		if ok {
			if err := decodeRecord(dk, v, &rec); err != nil {
				// A record that does not decode is replaced: stats are not
				// worth failing every later write of this device for.
				s.log.Error("device record does not decode; starting afresh", "key", string(dk), "err", err)
				rec = deviceRecord{}
			}
		}
		// seen records that the device was heard of at at (zero: now) and
		// returns the time as stored.
		seen := func(at time.Time) time.Time {
			if at.IsZero() {
				at = now
			}
			at = at.UTC().Round(time.Microsecond)
			if rec.FirstSeen.IsZero() || at.Before(rec.FirstSeen) {
				rec.FirstSeen = at
			}
			if at.After(rec.LastSeen) {
				rec.LastSeen = at
			}
			return at
		}
		oldChannel, oldBundle := rec.Channel, rec.Bundle
		for _, r := range b.reports {
			seen(r.At)
			rec.Platform, rec.VersionOS, rec.VersionBuild = r.Platform, r.VersionOS, r.VersionBuild
			rec.PluginVersion, rec.DefaultChannel = r.PluginVersion, r.DefaultChannel
			if r.CustomID != "" {
				rec.CustomID = r.CustomID
			}
			rec.IsEmulator, rec.IsProd = r.IsEmulator, r.IsProd
			if r.Bundle != "" {
				rec.Bundle = r.Bundle
			}
			if r.SetChannel {
				rec.Channel = r.Channel
			}
		}
		if len(b.reports) > 0 && rec.Bundle != "" {
			// Reports are update checks, coalesced per device and flush.
			delta(b.app, rec.Channel, rec.Bundle).Checks++
		}
		if oldChannel != rec.Channel || oldBundle != rec.Bundle {
			if oldBundle != "" {
				delta(b.app, oldChannel, oldBundle).Devices--
			}
			if rec.Bundle != "" {
				delta(b.app, rec.Channel, rec.Bundle).Devices++
			}
		}
		for _, e := range b.events {
			er := api.DeviceEvent{At: seen(e.At), Action: e.Action, Version: e.Version, OldVersion: e.OldVersion,
				Channel: rec.Channel, Metadata: e.Metadata}
			if !e.DeviceAt.IsZero() {
				t := e.DeviceAt.UTC().Round(time.Millisecond)
				er.DeviceAt = &t
			}
			ev, err := json.Marshal(er)
			if err != nil {
				return err
			}
			if len(ev) > maxEventBytes {
				er.Metadata = map[string]string{"patchwire": "metadata dropped: event too large"}
				if ev, err = json.Marshal(er); err != nil {
					return err
				}
			}
			if err := txn.Set(eventKey(b.app, b.id, rec.NextSeq), ev); err != nil {
				return err
			}
			rec.NextSeq++
			rec.Events++
			d := delta(b.app, rec.Channel, EventBundle(e.Version))
			countEvent(d, e.Action)
			d.BytesServed += e.BytesServed
			d.BytesFull += e.BytesFull
		}
		for ; rec.Events > EventsPerDevice; rec.Events-- {
			if err := txn.Delete(eventKey(b.app, b.id, rec.NextSeq-uint64(rec.Events))); err != nil {
				return err
			}
		}
		enc, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := txn.Set(dk, enc); err != nil {
			return err
		}
	}
	return addCounters(txn, now, deltas)
}

// EventBundle is the bundle version an event's version_name is about: the
// part before the first ':' (per-file failures send "<version>:<file>").
func EventBundle(versionName string) string {
	if i := strings.IndexByte(versionName, ':'); i > 0 {
		return versionName[:i]
	}
	return versionName
}

// GetDevice returns what the store knows about device id of app, or
// ErrNotFound.
func (s *Store) GetDevice(ctx context.Context, app, id string) (api.Device, error) {
	if err := validDevice(app, id); err != nil {
		return api.Device{}, fmt.Errorf("get device: %w", err)
	}
	var rec deviceRecord
	err := s.view(ctx, func(txn kvTxn) error {
		k := deviceKey(app, id)
		v, ok, err := getValue(txn, k)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("device %q of app %q: %w", id, app, ErrNotFound)
		}
		return decodeRecord(k, v, &rec)
	})
	if err != nil {
		return api.Device{}, fmt.Errorf("get device: %w", err)
	}
	return rec.device(app, id), nil
}

// DeviceEvents returns the stats events kept for device id of app, oldest
// first (at most EventsPerDevice).
func (s *Store) DeviceEvents(ctx context.Context, app, id string) ([]api.DeviceEvent, error) {
	if err := validDevice(app, id); err != nil {
		return nil, fmt.Errorf("device events: %w", err)
	}
	out := []api.DeviceEvent{}
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, eventPrefix(app, id), true, func(key, v []byte) error {
			var ev api.DeviceEvent // the ev/ value is its JSON
			if err := decodeRecord(key, v, &ev); err != nil {
				return err
			}
			out = append(out, ev)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("device events: %w", err)
	}
	return out, nil
}

// ExpireDevices forgets the devices of every app not seen for idle: their
// records, their events and their place in the per-bundle device counts.
// It returns how many it removed. It also prunes the hour buckets of the
// stats series older than SeriesRetention. Run it now and then (the server
// does, hourly); it reads every device record.
func (s *Store) ExpireDevices(ctx context.Context, idle time.Duration) (int, error) {
	cutoff := s.now().Add(-idle)
	var expired [][]byte
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, []byte(pfxDevice), true, func(key, v []byte) error {
			var rec deviceRecord
			err := json.Unmarshal(v, &rec)
			if err == nil && rec.LastSeen.Before(cutoff) {
				expired = append(expired, bytes.Clone(key))
			}
			return ctx.Err()
		})
	})
	if err != nil {
		return 0, fmt.Errorf("expire devices: %w", err)
	}
	removed := 0
	for len(expired) > 0 {
		batch := expired[:min(len(expired), 256)]
		expired = expired[len(batch):]
		n := 0
		err := s.updateData(ctx, func(txn kvTxn) error {
			n = 0
			deltas := map[counterKey]*bundleCounters{}
			for _, k := range batch {
				v, ok, err := getValue(txn, k)
				if err != nil {
					return err
				}
				var rec deviceRecord
				if !ok || json.Unmarshal(v, &rec) != nil || !rec.LastSeen.Before(cutoff) {
					continue // gone, or seen again since the scan
				}
				app, id, _ := bytes.Cut(k[len(pfxDevice):], []byte{0})
				for i := 0; i < rec.Events; i++ {
					if err := txn.Delete(eventKey(string(app), string(id), rec.NextSeq-uint64(rec.Events)+uint64(i))); err != nil {
						return err
					}
				}
				if err := txn.Delete(k); err != nil {
					return err
				}
				if rec.Bundle != "" {
					ck := counterKey{string(app), rec.Channel, rec.Bundle}
					if deltas[ck] == nil {
						deltas[ck] = &bundleCounters{}
					}
					deltas[ck].Devices--
				}
				n++
			}
			return addCounters(txn, s.now(), deltas)
		})
		if err != nil {
			return removed, fmt.Errorf("expire devices: %w", err)
		}
		removed += n
	}
	if _, err := s.pruneSeries(ctx); err != nil {
		return removed, fmt.Errorf("expire devices: %w", err)
	}
	return removed, nil
}

// DeviceChannels returns the channels stored for device id of app: the
// administrator's override (cd/) and an old plugin's self-assignment
// (cs/), "" for none. The device id is lower-cased; an unknown app is
// ErrNotFound.
func (s *Store) DeviceChannels(ctx context.Context, app, id string) (api.DeviceChannels, error) {
	return s.deviceChannels(ctx, "device channels", app, id, false)
}

// ClearDeviceChannels removes, in one transaction, both the override and
// the self-assignment of device id of app, and returns what was stored
// before ("" for none; none at all is not an error).
func (s *Store) ClearDeviceChannels(ctx context.Context, app, id string) (api.DeviceChannels, error) {
	return s.deviceChannels(ctx, "clear device channels", app, id, true)
}

// deviceChannelsTxn reads device dev's override (cd/) and self-assigned
// channel (cs/) records of app in txn, "" for one that is absent; with
// clear it deletes the records it found.
func deviceChannelsTxn(txn kvTxn, app, dev string, clear bool) (override, selfAssigned string, err error) {
	for _, x := range []struct {
		key []byte
		dst *string
	}{{overrideKey(app, dev), &override}, {selfAssignedKey(app, dev), &selfAssigned}} {
		v, ok, err := getValue(txn, x.key)
		if err != nil {
			return "", "", err
		}
		if !ok {
			continue
		}
		*x.dst = string(v)
		if clear {
			if err := txn.Delete(x.key); err != nil {
				return "", "", err
			}
		}
	}
	return override, selfAssigned, nil
}

// deviceChannels reads (and with clear, deletes) a device's cd/ and cs/
// records.
func (s *Store) deviceChannels(ctx context.Context, what, app, id string, clear bool) (api.DeviceChannels, error) {
	if err := ValidateAppID(app); err != nil {
		return api.DeviceChannels{}, err
	}
	dev, err := NormalizeDeviceID(id)
	if err != nil {
		return api.DeviceChannels{}, err
	}
	var dc api.DeviceChannels
	fn := func(txn kvTxn) error {
		dc = api.DeviceChannels{App: app, Device: dev}
		if _, err := getAppTxn(txn, app); err != nil {
			return err
		}
		var err error
		dc.Override, dc.SelfAssigned, err = deviceChannelsTxn(txn, app, dev, clear)
		return err
	}
	if clear {
		err = s.updateDevices(ctx, app, fn)
	} else {
		err = s.view(ctx, fn)
	}
	if err != nil {
		return api.DeviceChannels{}, fmt.Errorf("%s for device %q: %w", what, clip(dev), err)
	}
	return dc, nil
}
