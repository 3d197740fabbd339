package server_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// dialQUIC completes a QUIC handshake with the server from a new UDP
// socket on local (an IP address of this host), then sends nothing.
func dialQUIC(t *testing.T, env *servertest.Env, local string) (*quic.Conn, error) {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(local)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	t.Cleanup(func() { tr.Close(); udp.Close() })
	raddr, err := net.ResolveUDPAddr("udp", env.Server.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conf := env.TLSConfig()
	conf.NextProtos = []string{http3.NextProtoH3}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := tr.Dial(ctx, raddr, conf, &quic.Config{HandshakeIdleTimeout: 3 * time.Second})
	if err == nil {
		t.Cleanup(func() { conn.CloseWithError(0, "") })
	}
	return conn, err
}

// waitQUICConns waits until the server counts n open HTTP/3 connections.
func waitQUICConns(t *testing.T, env *servertest.Env, n int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); server.QUICConns(env.Server) != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("server counts %d QUIC connections, want %d", server.QUICConns(env.Server), n)
		}
	}
}

// refused reports whether a connection attempt was refused: the handshake
// failed, or the server closed the connection right after it.
func refused(conn *quic.Conn, err error) bool {
	if err != nil {
		return true
	}
	select {
	case <-conn.Context().Done():
		return true
	case <-time.After(500 * time.Millisecond):
		return false
	}
}

// TestQUICConnectionCaps (issue 14 item 8): past the per-address cap, or
// the cap in all, a new handshake is refused; once a connection closes a
// new one is accepted. Another address still gets in while one is at its
// cap. The code before the caps accepted every handshake.
func TestQUICConnectionCaps(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limits    server.Limits
		otherAddr bool // a client on another address gets in at the cap
	}{
		{"per address", server.Limits{MaxQUICConnsPerIP: 3}, true},
		{"in all", server.Limits{MaxQUICConns: 3, MaxQUICConnsPerIP: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.Start(t, servertest.WithLimits(tc.limits))
			var conns []*quic.Conn
			for i := range 3 {
				conn, err := dialQUIC(t, env, "127.0.0.1")
				if err != nil {
					t.Fatalf("connection %d under the cap: %v", i+1, err)
				}
				conns = append(conns, conn)
			}
			waitQUICConns(t, env, 3)
			if !refused(dialQUIC(t, env, "127.0.0.1")) {
				t.Fatal("a 4th connection was accepted past the cap of 3")
			}
			other, err := dialQUIC(t, env, "127.0.0.2")
			if got := refused(other, err); got == tc.otherAddr {
				t.Errorf("a connection from 127.0.0.2 with 127.0.0.1 at its cap: refused %v, want %v", got, !tc.otherAddr)
			}
			if other != nil {
				other.CloseWithError(0, "")
			}
			conns[0].CloseWithError(0, "done")
			waitQUICConns(t, env, 2)
			if conn, err := dialQUIC(t, env, "127.0.0.1"); refused(conn, err) {
				t.Fatalf("no new connection once one closed: %v", err)
			}
			for _, c := range conns[1:] {
				if c.Context().Err() != nil {
					t.Errorf("a connection under the cap was closed: %v", context.Cause(c.Context()))
				}
			}
		})
	}
}

// TestQUICUnusedConnectionClosed (issue 14 item 8): a connection that
// completes its handshake and sends no request is closed after
// UnusedConnTimeout, while one that sent a request stays until the normal
// idle timeout. The code before kept both for the 2-minute idle timeout.
func TestQUICUnusedConnectionClosed(t *testing.T) {
	const unused = 300 * time.Millisecond
	env := servertest.Start(t, servertest.WithLimits(server.Limits{UnusedConnTimeout: unused}))
	idle, err := dialQUIC(t, env, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	used, err := dialQUIC(t, env, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	h3 := &http3.Transport{}
	defer h3.Close()
	req, _ := http.NewRequest("GET", env.URL+api.PathHealth, nil)
	resp, err := h3.NewClientConn(used).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	start := time.Now()
	select {
	case <-idle.Context().Done():
		var ae *quic.ApplicationError
		if err := context.Cause(idle.Context()); !errors.As(err, &ae) || !ae.Remote {
			t.Errorf("the unused connection ended with %v, want the server's close", err)
		}
		if took := time.Since(start); took > unused+time.Second {
			t.Errorf("the unused connection was closed after %v, want about %v", took, unused)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a connection that sent no request is still open after 5 s")
	}
	time.Sleep(2 * unused)
	if err := used.Context().Err(); err != nil {
		t.Errorf("the connection that sent a request was closed: %v", context.Cause(used.Context()))
	}
	waitQUICConns(t, env, 1)
}
