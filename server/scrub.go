package server

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/patchwire/patchwire/store"
)

// DefaultScrubInterval is how often `patchwire serve` scrubs the store by
// default (issue 14 item 9).
const DefaultScrubInterval = 24 * time.Hour

// problemKinds are the store.Verify problem kinds, each a label value of
// patchwire_scrub_problems (all present, 0 when none was found).
var problemKinds = []string{
	store.ProblemBadBundle, store.ProblemMissingManifest, store.ProblemCorruptManifest,
	store.ProblemMissingObject, store.ProblemCorruptObject, store.ProblemOrphanRecord,
}

// scrubMetrics report the background scrub (see Server.RunScrub).
type scrubMetrics struct {
	runs        *prometheus.CounterVec // result: ok, problems, failed
	problems    *prometheus.GaugeVec   // kind
	corrupt     prometheus.Gauge
	objects     prometheus.Gauge
	lastSuccess prometheus.Gauge
	duration    prometheus.Gauge
}

func newScrubMetrics(reg *prometheus.Registry) *scrubMetrics {
	m := &scrubMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchwire_scrub_runs_total",
			Help: "Store scrubs by result: ok, problems (found something wrong), failed (did not finish).",
		}, []string{"result"}),
		problems: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "patchwire_scrub_problems",
			Help: "Problems the last finished scrub found, by kind.",
		}, []string{"kind"}),
		corrupt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "patchwire_scrub_corrupt_objects",
			Help: "Objects the last finished scrub found corrupt or missing (never served: reads verify too).",
		}),
		objects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "patchwire_scrub_objects_checked",
			Help: "Objects the last finished scrub read and verified.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "patchwire_scrub_last_success_timestamp_seconds",
			Help: "When the last scrub finished (Unix time), whatever it found; 0 before the first.",
		}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "patchwire_scrub_duration_seconds",
			Help: "How long the last finished scrub took.",
		}),
	}
	for _, r := range []string{"ok", "problems", "failed"} {
		m.runs.WithLabelValues(r)
	}
	for _, k := range problemKinds {
		m.problems.WithLabelValues(k)
	}
	reg.MustRegister(m.runs, m.problems, m.corrupt, m.objects, m.lastSuccess, m.duration)
	return m
}

// record counts one scrub.
func (m *scrubMetrics) record(rep store.VerifyReport, err error, start, end time.Time) {
	if err != nil {
		m.runs.WithLabelValues("failed").Inc()
		return
	}
	counts := map[string]int{}
	for _, p := range rep.Problems {
		counts[p.Kind]++
	}
	for _, k := range problemKinds {
		m.problems.WithLabelValues(k).Set(float64(counts[k]))
	}
	m.corrupt.Set(float64(counts[store.ProblemCorruptObject] + counts[store.ProblemMissingObject]))
	m.objects.Set(float64(rep.Objects))
	m.lastSuccess.Set(float64(end.UnixNano()) / 1e9)
	m.duration.Set(end.Sub(start).Seconds())
	if rep.OK() {
		m.runs.WithLabelValues("ok").Inc()
	} else {
		m.runs.WithLabelValues("problems").Inc()
	}
}

// watchStore exports the store's disk state: free bytes, the reserve and
// whether it is read-only (issue 14 item 1).
func (m *metrics) watchStore(st *store.Store) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "patchwire_store_free_bytes",
			Help: "Free bytes on the store's file system (-1: unknown on this platform).",
		}, func() float64 { free, _ := st.Space(); return float64(free) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "patchwire_store_reserve_bytes",
			Help: "Free space the store keeps: writes that would use it answer 507.",
		}, func() float64 { _, r := st.Space(); return float64(max(r, 0)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "patchwire_store_read_only",
			Help: "1 when the store is read-only (opened on a disk below its reserve), else 0.",
		}, func() float64 {
			if st.ReadOnly() {
				return 1
			}
			return 0
		}),
	)
}

// Scrub runs store.Verify once, logs what it found and records it in the
// metrics (patchwire_scrub_*). The store logs each problem itself.
func (s *Server) Scrub(ctx context.Context) (store.VerifyReport, error) {
	start := time.Now()
	s.log.Info("scrub: started")
	rep, err := s.store.Verify(ctx)
	end := time.Now()
	if errors.Is(err, context.Canceled) {
		return rep, err // shutting down: not a failure
	}
	s.metrics.scrub.record(rep, err, start, end)
	switch {
	case err != nil:
		s.log.Error("scrub: failed", "err", err)
	case !rep.OK():
		s.log.Error("scrub: the store has problems", "problems", len(rep.Problems),
			"bundles", rep.Bundles, "manifests", rep.Manifests, "objects", rep.Objects, "took", end.Sub(start))
	default:
		s.log.Info("scrub: ok", "bundles", rep.Bundles, "manifests", rep.Manifests, "objects", rep.Objects,
			"bytes", rep.Bytes, "took", end.Sub(start))
	}
	return rep, err
}

// RunScrub scrubs the store every interval until ctx ends; the first run
// comes an hour after the start (or one interval, if shorter), so a server
// that restarts often still scrubs. interval <= 0 returns at once. Cancel
// ctx and wait for RunScrub to return before closing the store.
func (s *Server) RunScrub(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTimer(min(interval, time.Hour))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Scrub(ctx)
			t.Reset(interval)
		}
	}
}
