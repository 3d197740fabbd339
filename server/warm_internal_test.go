package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// TestWarmStacks runs requests through a warmPool and checks where they ran
// and what reached the caller: the response, a panic's value, or the abort
// a runtime.Goexit becomes.
func TestWarmStacks(t *testing.T) {
	errBoom := errors.New("boom")
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }
	cases := []struct {
		name        string
		max         int
		protoMajor  int
		handler     http.HandlerFunc
		wantBody    string
		wantPanic   any
		wantWorkers int32 // workers alive after the request
	}{
		{name: "HTTP/2 runs on a worker", max: 4, protoMajor: 2, handler: ok, wantBody: "ok", wantWorkers: 1},
		{name: "HTTP/3 runs on a worker", max: 4, protoMajor: 3, handler: ok, wantBody: "ok", wantWorkers: 1},
		{name: "HTTP/1.1 runs inline", max: 4, protoMajor: 1, handler: ok, wantBody: "ok", wantWorkers: 0},
		{name: "no worker allowed: inline", max: 0, protoMajor: 2, handler: ok, wantBody: "ok", wantWorkers: 0},
		{name: "a panic reaches the caller", max: 4, protoMajor: 2, wantPanic: errBoom, wantWorkers: 1,
			handler: func(http.ResponseWriter, *http.Request) { panic(errBoom) }},
		{name: "Goexit aborts the response and ends the worker", max: 4, protoMajor: 2, wantPanic: http.ErrAbortHandler, wantWorkers: 0,
			handler: func(http.ResponseWriter, *http.Request) { runtime.Goexit() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newWarmPool(c.max, time.Hour)
			h := p.warmStacks(c.handler)
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.ProtoMajor = c.protoMajor
			got := func() (v any) {
				defer func() { v = recover() }()
				h.ServeHTTP(rec, r)
				return nil
			}()
			if got != c.wantPanic {
				t.Fatalf("panic %v, want %v", got, c.wantPanic)
			}
			if c.wantPanic == nil && rec.Body.String() != c.wantBody {
				t.Fatalf("body %q, want %q", rec.Body.String(), c.wantBody)
			}
			waitWorkers(t, p, c.wantWorkers)
		})
	}
}

// TestWarmWorkerIsReused: requests one after another mostly share a
// worker (one that has not yet gone back to waiting when the next request
// comes makes a second), and workers exit once idle.
func TestWarmWorkerIsReused(t *testing.T) {
	p := newWarmPool(64, 50*time.Millisecond)
	h := p.warmStacks(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	const requests = 100
	for range requests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.ProtoMajor = 2
		h.ServeHTTP(httptest.NewRecorder(), r)
		time.Sleep(200 * time.Microsecond)
	}
	if n := p.workers.Load(); n > requests/10 {
		t.Fatalf("%d workers after %d sequential requests: not reused", n, requests)
	}
	waitWorkers(t, p, 0)
}

// TestWarmPoolBound: with every worker busy, a request runs inline rather
// than waiting for one.
func TestWarmPoolBound(t *testing.T) {
	p := newWarmPool(1, time.Hour)
	release := make(chan struct{})
	started := make(chan struct{})
	h := p.warmStacks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			close(started)
			<-release
		}
		_, _ = w.Write([]byte(r.URL.Path))
	}))
	serve := func(path string) string {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.ProtoMajor = 2
		h.ServeHTTP(rec, r)
		return rec.Body.String()
	}
	blocked := make(chan string)
	go func() { blocked <- serve("/block") }()
	<-started
	if got := serve("/inline"); got != "/inline" {
		t.Fatalf("body %q beside a busy worker", got)
	}
	if n := p.workers.Load(); n != 1 {
		t.Fatalf("%d workers, want the bound of 1", n)
	}
	close(release)
	if got := <-blocked; got != "/block" {
		t.Fatalf("blocked request's body %q", got)
	}
}

// TestWarmPoolClose: closing the pool ends its idle workers; a request
// after it is still served.
func TestWarmPoolClose(t *testing.T) {
	p := newWarmPool(4, time.Hour)
	h := p.warmStacks(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	serve := func() string {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.ProtoMajor = 2
		h.ServeHTTP(rec, r)
		return rec.Body.String()
	}
	serve()
	waitWorkers(t, p, 1)
	p.close()
	p.close() // twice is harmless
	waitWorkers(t, p, 0)
	if got := serve(); got != "ok" {
		t.Fatalf("body %q after close", got)
	}
}

// waitWorkers waits until p has n workers.
func waitWorkers(t *testing.T, p *warmPool, n int32) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); p.workers.Load() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers, want %d", p.workers.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
