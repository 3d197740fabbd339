package server

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// Connections that never send a request (issue 14 item 8) are closed after
// Limits.UnusedConnTimeout instead of holding their buffers until the idle
// timeout: an HTTP/3 connection otherwise stays for IdleTimeout after its
// handshake, and so does an HTTP/2 one after its preface (HTTP/1.1 ones
// already end at ReadHeaderTimeout). Each connection's context carries a
// connState; guardBodies marks it at every request.

// connState is what the server knows of one connection.
type connState struct{ used atomic.Bool }

type connStateKey struct{}

// withConnState gives a connection's context a fresh connState; every
// request's context derives from it.
func withConnState(ctx context.Context) context.Context {
	return context.WithValue(ctx, connStateKey{}, &connState{})
}

// markConnUsed records that the request's connection sent a request.
func markConnUsed(ctx context.Context) {
	if st, ok := ctx.Value(connStateKey{}).(*connState); ok {
		st.used.Store(true)
	}
}

// closeIfUnused calls close after d unless the connection of ctx has sent
// a request by then.
func closeIfUnused(ctx context.Context, d time.Duration, close func()) *time.Timer {
	st, _ := ctx.Value(connStateKey{}).(*connState)
	return time.AfterFunc(d, func() {
		if st == nil || !st.used.Load() {
			close()
		}
	})
}

// tcpConnContext is the TCP servers' ConnContext: the connection's state,
// and its close when it stays unused.
func (s *Server) tcpConnContext(ctx context.Context, c net.Conn) context.Context {
	ctx = withConnState(ctx)
	if d := s.cfg.Limits.UnusedConnTimeout; d > 0 {
		closeIfUnused(ctx, d, func() { c.Close() })
	}
	return ctx
}
