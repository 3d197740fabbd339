// Package webhooks delivers the store's durable webhook queue: a
// background worker POSTs each hook's deliveries in order, signed
// (package webhook), retries with exponential backoff, records every
// attempt, and refuses to connect to internal addresses (guard.go). It
// works off the request path: publishes only write queue rows (in their
// own transactions, store/webhook.go) and wake the worker, so a receiver
// that is down slows no publish and no device check.
package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/store"
	"github.com/patchwire/patchwire/webhook"
)

// Observer hears the outcome of every attempt: api.DeliveryDelivered,
// "retry" (failed, tried again later) or api.DeliveryFailed (given up).
type Observer func(status string)

// StatusRetry is the Observer status of a failed attempt that will be retried.
const StatusRetry = "retry"

// maxResponse is how much of a receiver's answer is read (and dropped).
const maxResponse = 64 << 10

// Worker delivers the queue. Start it with Start, stop it with Close.
type Worker struct {
	st      store.Webhooks
	cfg     Config
	log     *slog.Logger
	observe Observer
	client  *http.Client

	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	wg      sync.WaitGroup
	started atomic.Bool

	mu       sync.Mutex
	inflight map[string]bool // hook ids being delivered to
	// finished is, by hook id, the gen its last attempt was recorded at;
	// gen counts recorded attempts. A queue read taken before a hook's
	// attempt was recorded may still show that delivery as its head, so
	// dispatch leaves such a hook to the next read (the finishing delivery
	// wakes the loop for it): no delivery is sent twice.
	finished map[string]uint64
	gen      uint64
	// hold is, by hook id, when a hook whose last attempts could not be
	// recorded (the store failing, or read-only) may be tried again: its
	// row still says due, and it must not be sent in a tight loop.
	hold    map[string]hold
	paused  int        // Pause calls not resumed yet
	drained *sync.Cond // on mu: signalled when a delivery ends
}

// New makes a worker over st; observe may be nil.
func New(st store.Webhooks, cfg Config, log *slog.Logger, observe Observer) *Worker {
	cfg = cfg.withDefaults()
	if observe == nil {
		observe = func(string) {}
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		dialer.Control = dialControl
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would make the guard check the proxy, not the hook
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Worker{
		st: st, cfg: cfg, log: log, observe: observe,
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// A redirect is not followed: its target was never checked.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		inflight: map[string]bool{}, finished: map[string]uint64{}, hold: map[string]hold{},
	}
	w.drained = sync.NewCond(&w.mu)
	return w
}

// Pause stops the worker from starting deliveries and waits for those in
// flight to be recorded; resume lets it go on. For tests that compare
// stored state around a request.
func (w *Worker) Pause() (resume func()) {
	w.mu.Lock()
	w.paused++
	for len(w.inflight) > 0 {
		w.drained.Wait()
	}
	w.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			w.paused--
			w.mu.Unlock()
			w.Wake()
		})
	}
}

// Config is the worker's configuration, defaults applied.
func (w *Worker) Config() Config { return w.cfg }

// Start runs the worker until Close; it resumes whatever the queue holds,
// and hears the store's publish events to look at the queue again.
func (w *Worker) Start() {
	w.started.Store(true)
	cancel := w.st.Subscribe(func(store.PublishEvent) { w.Wake() })
	go func() {
		defer cancel()
		w.run()
	}()
}

// Wake makes the worker read the queue again soon (a hook was added or a
// publish queued deliveries). It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close stops the worker: attempts in flight are abandoned unrecorded
// (they are made again after a restart) and Close waits for them to end.
func (w *Worker) Close() {
	w.cancel()
	if w.started.Load() {
		<-w.done
	}
	w.wg.Wait()
	w.client.CloseIdleConnections()
}

// run is the worker's loop: dispatch what is due, sleep until the next
// retry or a wake-up.
func (w *Worker) run() {
	defer close(w.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := w.dispatch()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
		select {
		case <-w.ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// hold keeps a hook whose attempts could not be recorded waiting.
type hold struct {
	until      time.Time
	unrecorded int // attempts in a row not recorded
}

// idle is how long the loop sleeps with nothing due and nothing queued.
const idle = time.Minute

// dispatch starts every due head of the queue whose hook is not in flight
// (up to Parallel at once) and returns when the loop should look again.
func (w *Worker) dispatch() time.Time {
	now := time.Now()
	next := now.Add(idle)
	w.mu.Lock()
	readAt := w.gen
	w.mu.Unlock()
	q, err := w.st.WebhookQueue(w.ctx)
	if err != nil {
		if w.ctx.Err() == nil {
			w.log.Error("webhooks: read queue", "err", err)
		}
		return now.Add(time.Second)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused > 0 {
		return next
	}
	for id, g := range w.finished {
		if g <= readAt {
			delete(w.finished, id) // q is newer than that attempt
		}
	}
	for _, d := range q {
		if w.inflight[d.Hook.ID] || w.finished[d.Hook.ID] > readAt {
			continue
		}
		at := d.Delivery.NextAttempt
		if h, ok := w.hold[d.Hook.ID]; ok && (at == nil || h.until.After(*at)) {
			at = &h.until
		}
		if at != nil && at.After(now) {
			if at.Before(next) {
				next = *at
			}
			continue
		}
		if len(w.inflight) >= w.cfg.Parallel {
			continue // a finishing delivery wakes the loop
		}
		w.inflight[d.Hook.ID] = true
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			recorded := w.deliver(d)
			w.mu.Lock()
			if recorded {
				delete(w.hold, d.Hook.ID)
			} else {
				n := w.hold[d.Hook.ID].unrecorded + 1
				w.hold[d.Hook.ID] = hold{time.Now().Add(w.cfg.BackoffAfter(d.Delivery.Attempts + n)), n}
			}
			w.gen++
			w.finished[d.Hook.ID] = w.gen
			delete(w.inflight, d.Hook.ID)
			w.drained.Broadcast()
			w.mu.Unlock()
			w.Wake()
		}()
	}
	return next
}

// deliver makes one attempt at d and records it, reporting whether it
// could (or needed not: the hook is gone, the worker stopping).
func (w *Worker) deliver(d store.QueuedDelivery) (recorded bool) {
	attemptErr := w.post(d)
	if w.ctx.Err() != nil {
		return true // shutting down: not the receiver's fault; sent again after a restart
	}
	a := store.WebhookAttempt{Status: api.DeliveryDelivered}
	observed := api.DeliveryDelivered
	if attemptErr != nil {
		a.Error = attemptErr.Error()
		n := d.Delivery.Attempts + 1
		if n >= w.cfg.MaxAttempts {
			a.Status, observed = api.DeliveryFailed, api.DeliveryFailed
		} else {
			a.Status, observed = api.DeliveryPending, StatusRetry
			a.NextAttempt = time.Now().Add(w.cfg.BackoffAfter(n))
		}
	}
	if _, err := w.st.RecordWebhookAttempt(w.ctx, d, a); err != nil {
		if errors.Is(err, store.ErrNotFound) || w.ctx.Err() != nil {
			return true // the hook was removed meanwhile
		}
		w.log.Error("webhooks: record attempt (will try the delivery again)", "hook", d.Hook.ID, "delivery", d.Delivery.ID, "err", err)
		return false
	}
	w.observe(observed)
	if a.Status == api.DeliveryFailed {
		w.log.Warn("webhooks: delivery failed, giving up", "hook", d.Hook.ID, "delivery", d.Delivery.ID,
			"attempts", d.Delivery.Attempts+1, "err", a.Error)
	}
	return true
}

// post sends d once: a 2xx answer is success.
func (w *Worker) post(d store.QueuedDelivery) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Hook.URL, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "patchwire-webhook/1")
	req.Header.Set(webhook.HeaderSignature, webhook.SignatureHeaderAll(d.Secrets, time.Now(), d.Body))
	req.Header.Set(webhook.HeaderEvent, d.Delivery.Event)
	req.Header.Set(webhook.HeaderDelivery, d.Delivery.ID)
	resp, err := w.client.Do(req)
	if err != nil {
		return errors.New(clip(err.Error()))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		return fmt.Errorf("receiver answered %s (redirects are not followed)", resp.Status)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// clip bounds an error kept in the log.
func clip(s string) string {
	const maxErr = 300
	if len(s) > maxErr {
		s = s[:maxErr] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
