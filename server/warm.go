package server

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP/2 and HTTP/3 run every request on a goroutine of its own, which
// starts with a small stack. A check (JSON decoding, the resolver, the
// answer's encoding) needs about 16 KiB, so each request's stack was grown
// two or three times, each growth copying the stack and adjusting every
// frame: 2.6 growths per check, about 18 % of the server's CPU under HTTP/3
// check load (perf, `patchwire bench load`). warmStacks runs requests on
// long-lived workers instead, whose stacks are already grown: the request's
// own goroutine only hands its request over and waits.

// warmWorkers bounds the workers: requests in flight past it run on their
// own goroutines as before. warmIdle is how long an idle one lingers.
const (
	warmWorkers = 256
	warmIdle    = 30 * time.Second
)

// warmPool is a set of idle workers a request is handed to.
type warmPool struct {
	jobs    chan *warmJob // unbuffered: a send succeeds only to an idle worker
	workers atomic.Int32
	max     int32         // at most this many workers; past it, requests run inline
	idle    time.Duration // a worker with nothing to do this long exits
	closed  chan struct{} // closed by close: idle workers exit
	once    sync.Once
}

// warmJob is one request on its way to a worker and back.
type warmJob struct {
	h    http.Handler
	w    http.ResponseWriter
	r    *http.Request
	done chan struct{}
	// aborted: the handler panicked (with panicVal) or called
	// runtime.Goexit; the request's goroutine re-raises it.
	aborted  bool
	panicVal any
}

var warmJobs = sync.Pool{New: func() any { return &warmJob{done: make(chan struct{}, 1)} }}

// newWarmPool is a pool of up to max workers that exit after idle.
func newWarmPool(max int, idle time.Duration) *warmPool {
	return &warmPool{jobs: make(chan *warmJob), max: int32(max), idle: idle, closed: make(chan struct{})}
}

// close ends the idle workers, and each busy one when its request is done.
// A request served after it still runs, on a worker of its own.
func (p *warmPool) close() { p.once.Do(func() { close(p.closed) }) }

// warmStacks runs next's HTTP/2 and HTTP/3 requests on p's workers.
// HTTP/1.1 requests run inline: their connection's goroutine serves
// request after request, so its stack is grown once.
func (p *warmPool) warmStacks(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor < 2 {
			next.ServeHTTP(w, r)
			return
		}
		p.serve(next, w, r)
	})
}

// serve runs h on an idle worker, a new one, or (all max busy) inline, and
// returns when h has.
func (p *warmPool) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	j := warmJobs.Get().(*warmJob)
	j.h, j.w, j.r = h, w, r
	select {
	case p.jobs <- j:
	default:
		if p.workers.Add(1) > p.max {
			p.workers.Add(-1)
			j.put()
			h.ServeHTTP(w, r)
			return
		}
		go p.work(j)
	}
	<-j.done
	aborted, v := j.aborted, j.panicVal
	j.put()
	if aborted {
		if v == nil {
			// The handler called runtime.Goexit: net/http treats an
			// ErrAbortHandler panic the same way, the response ends there.
			v = http.ErrAbortHandler
		}
		panic(v)
	}
}

// work runs j and then whatever job comes next, until it has been idle for
// p.idle or the pool is closed.
func (p *warmPool) work(j *warmJob) {
	defer p.workers.Add(-1)
	idle := time.NewTimer(p.idle)
	defer idle.Stop()
	for {
		j.run()
		idle.Reset(p.idle)
		select {
		case j = <-p.jobs:
		case <-idle.C:
			return
		case <-p.closed:
			return
		}
	}
}

// put clears j (keeping its done channel) and returns it to warmJobs.
func (j *warmJob) put() {
	*j = warmJob{done: j.done}
	warmJobs.Put(j)
}

// run serves the job's request and signals done, also when the handler
// panics (caught, for the request's goroutine to re-raise) or calls
// runtime.Goexit (which then ends this worker, too).
func (j *warmJob) run() {
	normal := false
	defer func() {
		if !normal {
			j.aborted, j.panicVal = true, recover()
		}
		j.done <- struct{}{}
	}()
	j.h.ServeHTTP(j.w, j.r)
	normal = true
}
