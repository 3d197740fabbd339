package capgo

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/patchwire/patchwire/store"
)

// errBusy means the writer has too much pending: the request is refused
// with 503 and the plugin sends it again later.
var errBusy = errors.New("stats writer busy")

// recorder is the one background writer of device records and stats
// events. Update checks hand it sightings without waiting (written about
// every FlushInterval, coalesced per device); stats requests hand it events
// and wait for the commit. Whatever accumulates while one transaction
// commits goes into the next: a group commit, so many requests cost one
// fsync.
type recorder struct {
	st  Store
	lim Limits
	log *slog.Logger
	obs Observer
	// flushed is Deps.Flushed (nil: none).
	flushed func(context.Context, []string)

	mu      sync.Mutex
	devices map[devKey]store.DeviceReport
	events  []store.Event
	waiters []chan error
	closed  bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

type devKey struct{ app, device string }

func newRecorder(st Store, lim Limits, log *slog.Logger, obs Observer, flushed func(context.Context, []string)) *recorder {
	r := &recorder{
		st: st, lim: lim, log: log, obs: obs, flushed: flushed,
		devices: map[devKey]store.DeviceReport{},
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go r.loop()
	return r
}

// merge folds a newer report of the same device into an older one, with
// the store's rules (store.DeviceReport).
func merge(old, r store.DeviceReport) store.DeviceReport {
	if r.Bundle == "" {
		r.Bundle = old.Bundle
	}
	if r.CustomID == "" {
		r.CustomID = old.CustomID
	}
	if !r.SetChannel {
		r.Channel, r.SetChannel = old.Channel, old.SetChannel
	}
	return r
}

// addLocked adds a report to the pending ones; it reports false when the
// report was dropped because too many devices are pending.
func (r *recorder) addLocked(rep store.DeviceReport) bool {
	k := devKey{rep.App, rep.DeviceID}
	if old, ok := r.devices[k]; ok {
		r.devices[k] = merge(old, rep)
		return true
	}
	if len(r.devices) >= r.lim.PendingDevices {
		return false
	}
	r.devices[k] = rep
	return true
}

// sight records that a device checked for updates. It never blocks.
func (r *recorder) sight(rep store.DeviceReport) {
	r.mu.Lock()
	ok := r.closed || r.addLocked(rep)
	r.mu.Unlock()
	if !ok {
		r.obs.DevicesDropped(1)
	}
}

// submit queues events and the reports that go with them and returns a
// channel that receives the outcome of their commit; errBusy when too much
// is pending already.
func (r *recorder) submit(reps []store.DeviceReport, evs []store.Event) (<-chan error, error) {
	done := make(chan error, 1)
	r.mu.Lock()
	if r.closed || len(r.events)+len(evs) > r.lim.PendingEvents {
		r.mu.Unlock()
		return nil, errBusy
	}
	for _, rep := range reps {
		if !r.addLocked(rep) {
			r.obs.DevicesDropped(1)
		}
	}
	r.events = append(r.events, evs...)
	r.waiters = append(r.waiters, done)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return done, nil
}

func (r *recorder) loop() {
	defer close(r.done)
	flush := time.NewTicker(r.lim.FlushInterval)
	defer flush.Stop()
	expire := time.NewTicker(r.lim.ExpireInterval)
	defer expire.Stop()
	for {
		select {
		case <-r.kick:
			r.flush()
		case <-flush.C:
			r.flush()
		case <-expire.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			// Shutdown must not wait for a long expiry run: stopping cancels it.
			go func() {
				select {
				case <-r.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			if n, err := r.st.ExpireDevices(ctx, r.lim.DeviceTTL); err != nil {
				r.log.Error("expiring idle devices failed", "err", err)
			} else if n > 0 {
				r.log.Info("expired idle devices", "devices", n, "idle", r.lim.DeviceTTL)
			}
			cancel()
		case <-r.stop:
			r.flush()
			return
		}
	}
}

// flush writes everything pending in one RecordActivity call.
func (r *recorder) flush() {
	r.mu.Lock()
	devices, events, waiters := r.devices, r.events, r.waiters
	if len(devices) == 0 && len(events) == 0 && len(waiters) == 0 {
		r.mu.Unlock()
		return
	}
	r.devices, r.events, r.waiters = make(map[devKey]store.DeviceReport, len(devices)), nil, nil
	r.mu.Unlock()

	a := store.Activity{Devices: make([]store.DeviceReport, 0, len(devices)), Events: events}
	for _, rep := range devices {
		a.Devices = append(a.Devices, rep)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := r.st.RecordActivity(ctx, a)
	cancel()
	if err != nil {
		r.log.Error("writing device records and stats failed", "devices", len(a.Devices), "events", len(events), "err", err)
	} else if r.flushed != nil && len(events) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r.flushed(ctx, eventApps(events))
		cancel()
	}
	for _, w := range waiters {
		w <- err
	}
}

// eventApps returns the apps of evs, sorted, once each.
func eventApps(evs []store.Event) []string {
	apps := make([]string, 0, 1)
	for _, e := range evs {
		apps = append(apps, e.App)
	}
	slices.Sort(apps)
	return slices.Compact(apps)
}

// close writes what is pending and stops the writer; later calls do
// nothing.
func (r *recorder) close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	return nil
}
