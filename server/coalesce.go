package server

import (
	"net"
	"os"
	"sync"
	"time"
)

// Every TLS connection's writes reach the socket through a coalescingConn
// (it sits under TLS, so it gathers whole TLS records).
//
// Go's HTTP/2 server writes every frame that does not fit its 4 KiB buffer
// (every full DATA frame of an object body) from a goroutine of its own and
// waits for that write before it writes the next frame of the connection:
// one system call per frame, each on the connection's critical path. A
// Write here only appends the bytes to the connection's pending buffer and
// returns; one flusher goroutine per busy connection hands whatever has
// gathered meanwhile to the socket in one system call. Under load many
// frames go out per call and the HTTP/2 server never waits on the socket;
// an idle connection has no flusher and holds no buffer.
//
// What a plain connection promises holds: bytes go out in the order
// written; a Write blocks while coalesceLimit bytes are pending (the
// socket's back-pressure, as a full kernel buffer gives); a write error is
// returned by every Write after it; SetWriteDeadline, SetDeadline and Close
// first wait until the bytes written before them went out, under the
// deadline in force (Close, and a connection without one, for at most
// closeFlushTimeout). crypto/tls sets a deadline of now right after
// writing its close_notify alert, to fail any later write: the alert must
// still go out, or an HTTP/1.1 body that ends at the connection's close
// reads as cut.

// coalesceLimit is the pending bytes above which Write waits for the
// flusher; a Write may take the buffer past it by its own length (a TLS
// record, at most about 16 KiB).
const coalesceLimit = 64 << 10

// closeFlushTimeout bounds how long Close, or a new deadline where none was
// in force, waits for the pending bytes to go out to a peer that stopped
// reading.
const closeFlushTimeout = 5 * time.Second

// coalesceBuffers pools the pending buffers of busy connections.
var coalesceBuffers = sync.Pool{New: func() any { b := make([]byte, 0, coalesceLimit+20<<10); return &b }}

// coalescingListener wraps every accepted connection in a coalescingConn.
type coalescingListener struct{ net.Listener }

// Accept waits for the next connection.
func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newCoalescingConn(c), nil
}

// coalescingConn is a connection whose writes are gathered and sent by a
// flusher goroutine (see the top of this file).
type coalescingConn struct {
	net.Conn
	mu       sync.Mutex
	cond     sync.Cond // broadcast when the flusher sent a batch or stopped
	pending  *[]byte   // accepted, not yet handed to Conn; nil while idle
	spare    *[]byte   // the buffer of the batch before, reused for the next
	flushing bool      // a flusher goroutine runs
	closed   bool
	err      error         // the first write error; every later Write returns it
	deadline time.Time     // the write deadline last set
	drainFor time.Duration // how long drain waits: closeFlushTimeout
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, drainFor: closeFlushTimeout}
	cc.cond.L = &cc.mu
	return cc
}

// Write appends p to the pending bytes and returns; it waits only while
// coalesceLimit bytes are pending.
func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.pending != nil && len(*c.pending) >= coalesceLimit && c.err == nil && !c.closed {
		c.cond.Wait()
	}
	switch {
	case c.closed:
		return 0, net.ErrClosed
	case c.err != nil:
		return 0, c.err
	case !c.deadline.IsZero() && !c.deadline.After(time.Now()):
		return 0, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.ErrDeadlineExceeded}
	}
	if c.pending == nil {
		c.pending = takeBuffer(&c.spare)
	}
	*c.pending = append(*c.pending, p...)
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return len(p), nil
}

// takeBuffer returns *spare (emptied) and clears it, or a pooled buffer.
func takeBuffer(spare **[]byte) *[]byte {
	if b := *spare; b != nil {
		*spare = nil
		*b = (*b)[:0]
		return b
	}
	return coalesceBuffers.Get().(*[]byte)
}

// putBuffer gives b (if any) back to coalesceBuffers.
func putBuffer(b *[]byte) {
	if b != nil {
		*b = (*b)[:0]
		coalesceBuffers.Put(b)
	}
}

// flush sends the pending bytes, batch after batch, until none are left or
// a write fails; then it gives the buffers back and stops.
func (c *coalescingConn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.pending != nil && len(*c.pending) > 0 && c.err == nil {
		out := c.pending
		c.pending = nil
		c.mu.Unlock()
		_, err := c.Conn.Write(*out)
		c.mu.Lock()
		if c.spare == nil {
			c.spare = out // the next batch's buffer
		} else {
			putBuffer(out) // no Write took the spare meanwhile
		}
		if err != nil {
			c.err = err
		}
		c.cond.Broadcast()
	}
	putBuffer(c.pending)
	putBuffer(c.spare)
	c.pending, c.spare = nil, nil
	c.flushing = false
	c.cond.Broadcast()
}

// SetWriteDeadline sets the write deadline once the bytes written before
// went out (drain).
func (c *coalescingConn) SetWriteDeadline(t time.Time) error {
	return c.afterDrain(t, c.Conn.SetWriteDeadline)
}

// SetDeadline sets both deadlines once the bytes written before went out
// (drain).
func (c *coalescingConn) SetDeadline(t time.Time) error {
	return c.afterDrain(t, c.Conn.SetDeadline)
}

// afterDrain drains, then records t as the write deadline and sets it with
// set.
func (c *coalescingConn) afterDrain(t time.Time, set func(time.Time) error) error {
	c.mu.Lock()
	c.drain(false)
	c.deadline = t
	c.mu.Unlock()
	return set(t)
}

// drain waits, with c.mu held, until the flusher has sent what is pending
// and stopped, under the write deadline in force, as a plain connection's
// blocked Write would; with no deadline in force, or when closing, for at
// most drainFor: then the write fails and what is left is dropped.
func (c *coalescingConn) drain(closing bool) {
	if !c.flushing {
		return
	}
	var stop *time.Timer
	if c.deadline.IsZero() || closing && time.Until(c.deadline) > c.drainFor {
		stop = time.AfterFunc(c.drainFor, func() { c.Conn.SetWriteDeadline(time.Now()) })
	}
	for c.flushing {
		c.cond.Wait()
	}
	if stop != nil {
		stop.Stop()
	}
}

// Close sends the pending bytes, giving up after closeFlushTimeout (or the
// write deadline, if sooner), and closes the connection.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.cond.Broadcast()
	c.drain(true)
	c.mu.Unlock()
	return c.Conn.Close()
}
