package server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/webhooks"
)

// PathMetrics is where the Prometheus metrics are served.
const PathMetrics = "/metrics"

// metrics are the server's Prometheus metrics, on a registry of its own (no
// global state: two servers in one process keep separate counts).
//
//	patchwire_http_request_duration_seconds{route}  histogram of request latency
//	patchwire_http_response_bytes_total{route}      response body bytes written
//	patchwire_update_checks_total{outcome,reason}   Capgo update checks by answer
//	patchwire_stats_events_total{result}            Capgo stats events stored / refused
//	patchwire_device_reports_dropped_total          device sightings dropped (writer behind)
//	patchwire_guard_trips_total{action}             release-guard trips: pause, rollback, notify (guard.go)
//	patchwire_scrub_runs_total{result}              store scrubs: ok, problems, failed (scrub.go)
//	patchwire_scrub_problems{kind}                  problems the last scrub found, by kind
//	patchwire_scrub_corrupt_objects                 objects the last scrub found corrupt or missing
//	patchwire_scrub_objects_checked                 objects the last scrub verified
//	patchwire_scrub_last_success_timestamp_seconds  when the last scrub finished
//	patchwire_scrub_duration_seconds                how long it took
//	patchwire_store_free_bytes, _reserve_bytes      the store's free disk space and reserve
//	patchwire_store_read_only                       1 when the store is read-only
//	patchwire_webhook_deliveries_total{status}      webhook delivery attempts: delivered, retry, failed (gave up)
//	patchwire_native_answers_total{signature}       native check answers: device, fleet, fleet_cached (native.go)
//
// route is the ServeMux pattern that matched ("POST /updates", "GET
// /o/{sha256}", ...) or "unmatched"; outcome is update, up_to_date, blocked,
// failed, rejected (4xx/429) or error (5xx); reason the Capgo code.
type metrics struct {
	reg      *prometheus.Registry
	latency  *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
	checks   *prometheus.CounterVec
	events   *prometheus.CounterVec
	dropped  prometheus.Counter
	trips    *prometheus.CounterVec
	redirect *prometheus.CounterVec
	stored   prometheus.Counter
	refused  prometheus.Counter
	handler  http.Handler
	routes   sync.Map // route -> *routeMetrics
	checkMu  sync.RWMutex
	checkFor map[[2]string]prometheus.Counter
	scrub    *scrubMetrics
	hooks    *prometheus.CounterVec
}

// routeMetrics are one route's children, looked up once.
type routeMetrics struct {
	latency prometheus.Observer
	bytes   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), checkFor: map[[2]string]prometheus.Counter{}}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "patchwire_http_request_duration_seconds",
		Help:    "Time from the request's headers to the end of the handler, by route.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "patchwire_http_response_bytes_total",
		Help: "Response body bytes written, by route.",
	}, []string{"route"})
	m.checks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "patchwire_update_checks_total",
		Help: "Capgo update checks (POST /updates) by outcome and reason code.",
	}, []string{"outcome", "reason"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "patchwire_stats_events_total",
		Help: "Capgo stats events by result: stored, or refused (invalid, unknown app or version).",
	}, []string{"result"})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "patchwire_device_reports_dropped_total",
		Help: "Device sightings of update checks dropped because the writer fell behind.",
	})
	m.trips = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "patchwire_guard_trips_total",
		Help: "Release-guard trips by the guard's action: pause, rollback or notify.",
	}, []string{"action"})
	for _, a := range []string{api.GuardPause, api.GuardRollback, api.GuardNotify} {
		m.trips.WithLabelValues(a) // shown from the start, at 0
	}
	m.hooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "patchwire_webhook_deliveries_total",
		Help: "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later), failed (given up).",
	}, []string{"status"})
	for _, st := range []string{api.DeliveryDelivered, webhooks.StatusRetry, api.DeliveryFailed} {
		m.hooks.WithLabelValues(st)
	}
	m.redirect = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "patchwire_object_redirects_total",
		Help: "Object and patch downloads (/o/, /d/) answered 302 to S3-compatible storage (--objects-redirect), by mode: presign or base.",
	}, []string{"mode"})
	m.stored, m.refused = m.events.WithLabelValues("stored"), m.events.WithLabelValues("refused")
	m.reg.MustRegister(m.latency, m.bytes, m.checks, m.events, m.dropped, m.trips, m.hooks, m.redirect,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.scrub = newScrubMetrics(m.reg)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return m
}

// UpdateCheck implements capgo.Observer.
func (m *metrics) UpdateCheck(outcome, reason string) {
	k := [2]string{outcome, reason}
	m.checkMu.RLock()
	c := m.checkFor[k]
	m.checkMu.RUnlock()
	if c == nil {
		c = m.checks.WithLabelValues(outcome, reason)
		m.checkMu.Lock()
		m.checkFor[k] = c
		m.checkMu.Unlock()
	}
	c.Inc()
}

// StatsEvents implements capgo.Observer.
func (m *metrics) StatsEvents(stored, refused int) {
	m.stored.Add(float64(stored))
	m.refused.Add(float64(refused))
}

// GuardTripped counts one trip of a release guard whose action is action.
func (m *metrics) GuardTripped(action string) { m.trips.WithLabelValues(action).Inc() }

// webhookDelivery is the webhooks.Observer: one attempt's outcome.
func (m *metrics) webhookDelivery(status string) { m.hooks.WithLabelValues(status).Inc() }

// DevicesDropped implements capgo.Observer.
func (m *metrics) DevicesDropped(n int) { m.dropped.Add(float64(n)) }

func (m *metrics) route(pattern string) *routeMetrics {
	if pattern == "" {
		pattern = "unmatched"
	}
	if rm, ok := m.routes.Load(pattern); ok {
		return rm.(*routeMetrics)
	}
	rm, _ := m.routes.LoadOrStore(pattern, &routeMetrics{
		latency: m.latency.WithLabelValues(pattern),
		bytes:   m.bytes.WithLabelValues(pattern),
	})
	return rm.(*routeMetrics)
}

// countingWriters are pooled: one per request in flight.
var countingWriters = sync.Pool{New: func() any { return &countingWriter{} }}

// wrap measures every request mux serves. It must sit directly around the
// ServeMux: the route is read from the request the mux matched.
func (m *metrics) wrap(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := countingWriters.Get().(*countingWriter)
		cw.ResponseWriter, cw.n = w, 0
		defer func() {
			rm := m.route(r.Pattern)
			rm.latency.Observe(time.Since(start).Seconds())
			rm.bytes.Add(float64(cw.n))
			cw.ResponseWriter = nil
			countingWriters.Put(cw)
		}()
		mux.ServeHTTP(cw, r)
	})
}

// countingWriter counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush forwards to the real writer when it can flush.
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack forwards to the real writer when it can hijack (HTTP/1.1 only).
func (c *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := c.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijacking not supported")
}
