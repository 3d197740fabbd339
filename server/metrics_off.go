//go:build !prometheus

package server

import "net/http"

// PathMetrics is where the Prometheus metrics are served.
const PathMetrics = "/metrics"

// metrics is the stand-in used when the binary is built without the
// "prometheus" tag (until go.sum carries client_golang's dependencies; see
// metrics.go): it counts nothing and /metrics answers 501.
type metrics struct{ handler http.Handler }

func newMetrics() *metrics {
	return &metrics{handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "patchwire was built without Prometheus metrics (build tag \"prometheus\")", http.StatusNotImplemented)
	})}
}

// UpdateCheck implements capgo.Observer.
func (m *metrics) UpdateCheck(outcome, reason string) {}

// StatsEvents implements capgo.Observer.
func (m *metrics) StatsEvents(stored, refused int) {}

// DevicesDropped implements capgo.Observer.
func (m *metrics) DevicesDropped(n int) {}

func (m *metrics) wrap(mux *http.ServeMux) http.Handler { return mux }
