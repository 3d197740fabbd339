package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The minimum request body rate (issue 14 item 3). Every request body is
// read through a rateBody: from the handler's first Read, each window of
// Limits.MinBodyRateWindow must bring MinBodyRate × window bytes (or the
// rest of a body whose length is known), else the body is cut. Each time a
// window's quota arrives a new window starts and the read deadline of the
// connection (HTTP/1.1) or stream (HTTP/2, HTTP/3) moves to its end, so a
// Read blocked on a trickle is interrupted at the deadline instead of
// waiting for the next byte. A body that arrives whole within one window is
// never cut, however small or large.

// BodyRateError is what a request body's Read returns once the body arrives
// slower than Limits.MinBodyRate; it is answered 408 request_timeout.
type BodyRateError struct {
	Got     int64         // bytes that arrived in the window
	Elapsed time.Duration // how long the window lasted
	Min     int64         // the minimum, bytes per second
}

// Error names the measured and the minimum rate.
func (e *BodyRateError) Error() string {
	rate := int64(0)
	if e.Elapsed > 0 {
		rate = e.Got * int64(time.Second) / int64(e.Elapsed)
	}
	return fmt.Sprintf("request body arrived at %d B/s over %s, below the %d B/s minimum",
		rate, e.Elapsed.Round(time.Millisecond), e.Min)
}

// Timeout reports true: the body was cut for being too slow.
func (e *BodyRateError) Timeout() bool { return true }

// asBodyRateError returns the *BodyRateError in err's chain, or nil; body
// readers use it to keep the 408 when they wrap read errors.
func asBodyRateError(err error) error {
	var re *BodyRateError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// guardBodies marks the request's connection used (unused.go), reads
// every request body through a rateBody (when MinBodyRate is on), and takes
// the read deadline off bodiless HTTP/1.1 requests: their request is read
// whole, and net/http cancels the request's context when a read deadline
// passes while the response is still being written, so ReadTimeout must
// not bound a long download.
func (s *Server) guardBodies(next http.Handler) http.Handler {
	lim := s.cfg.Limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		markConnUsed(r.Context())
		switch {
		case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
			if r.ProtoMajor == 1 {
				_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
			}
		case lim.MinBodyRate > 0 && lim.MinBodyRateWindow > 0:
			b := &rateBody{ReadCloser: r.Body, w: w, h1: r.ProtoMajor == 1,
				min: lim.MinBodyRate, window: lim.MinBodyRateWindow, left: r.ContentLength}
			// A shallow copy: net/http keeps looking at the original
			// request's body type once the handler returns.
			r2 := *r
			r2.Body = b
			defer b.afterHandler()
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// rateBody enforces the minimum rate on one request body. It is read by
// the handler's goroutine only, like any request body.
type rateBody struct {
	io.ReadCloser
	w      http.ResponseWriter
	rc     *http.ResponseController // made at the first Read
	h1     bool                     // HTTP/1.1: the deadline is the connection's
	min    int64                    // bytes per second
	window time.Duration
	left   int64 // bytes still to come, -1 when unknown

	start, deadline time.Time // the current window
	got, quota      int64     // bytes in it, bytes it needs
	noDeadlines     bool      // the writer cannot set read deadlines: check after each Read
	eof             bool      // the body was read to its end
	err             error     // sticky once cut
}

// Read reads from the body and cuts it when a window ends short of its quota.
func (b *rateBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.rc == nil {
		b.rc = http.NewResponseController(b.w)
		b.open(time.Now())
	}
	n, err := b.ReadCloser.Read(p)
	b.got += int64(n)
	if b.left > 0 {
		b.left = max(b.left-int64(n), 0)
	}
	now := time.Now()
	switch {
	case err == io.EOF:
		b.finish()
	case b.got >= b.quota:
		b.open(now)
	case !now.Before(b.deadline):
		b.err = &BodyRateError{Got: b.got, Elapsed: now.Sub(b.start), Min: b.min}
		return n, b.err
	}
	return n, err
}

// open starts a window at now.
func (b *rateBody) open(now time.Time) {
	b.start, b.deadline, b.got = now, now.Add(b.window), 0
	b.quota = b.min * int64(b.window) / int64(time.Second)
	if b.left >= 0 && b.left < b.quota {
		b.quota = b.left
	}
	if !b.noDeadlines && b.rc.SetReadDeadline(b.deadline) != nil {
		b.noDeadlines = true
	}
}

// afterHandler runs when the handler returns. An HTTP/1.1 body it did not
// read to the end is then discarded by net/http before the answer goes out
// (up to 256 KiB) under whatever read deadline is set: a trickled rest
// would hold the answer and the connection until ReadTimeout. The deadline
// moves to now, so what is buffered is still discarded and the connection
// closes if more would have to be waited for.
func (b *rateBody) afterHandler() {
	if !b.h1 || b.eof || b.noDeadlines {
		return
	}
	if b.rc == nil {
		b.rc = http.NewResponseController(b.w)
	}
	_ = b.rc.SetReadDeadline(time.Now())
}

// finish takes the deadline off an HTTP/1.1 connection once the body is
// read: it would otherwise cancel the request's context in the middle of
// a long handler (net/http's background read fails at the deadline).
// HTTP/2 and HTTP/3 deadlines are the stream's and end with its body.
func (b *rateBody) finish() {
	b.eof = true
	if b.h1 && !b.noDeadlines {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}
