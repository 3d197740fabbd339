package server

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// quicGate bounds HTTP/3 connections (issue 14 item 8): at most maxTotal
// open in all and maxPerIP per client IP address, and a connection that
// sends no request within unused of its handshake is closed (an abandoned
// connection would otherwise hold ~85 KiB until the idle timeout).
//
// A connection is counted once its handshake completes (its address is
// then proven, so a spoofed Initial packet cannot use up someone else's
// share) and uncounted when its context ends. Handshakes from an address
// or a server already at its cap are refused before any cryptography, with
// QUIC's CONNECTION_REFUSED; clients fall back to TCP.
type quicGate struct {
	maxTotal, maxPerIP int           // <= 0: no cap
	unused             time.Duration // <= 0: never closed for it

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// errQUICFull refuses a handshake past a cap.
var errQUICFull = errors.New("too many QUIC connections")

func newQUICGate(lim Limits) *quicGate {
	return &quicGate{maxTotal: lim.MaxQUICConns, maxPerIP: lim.MaxQUICConnsPerIP,
		unused: lim.UnusedConnTimeout, perIP: make(map[netip.Addr]int)}
}

// connContext is the quic.Transport's ConnContext, run on a connection's
// first packet: it refuses the handshake when the address or the server is
// at its cap, and attaches the connection's state.
func (g *quicGate) connContext(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	g.mu.Lock()
	full := g.fullLocked(ipOf(info.RemoteAddr))
	g.mu.Unlock()
	if full {
		return ctx, errQUICFull
	}
	return withConnState(ctx), nil
}

func (g *quicGate) fullLocked(ip netip.Addr) bool {
	return (g.maxTotal > 0 && g.total >= g.maxTotal) || (g.maxPerIP > 0 && g.perIP[ip] >= g.maxPerIP)
}

// track counts a connection whose handshake completed, or closes it when
// that would pass a cap (handshakes that raced past connContext). It
// uncounts the connection when it ends and arms the unused timeout.
func (g *quicGate) track(conn *quic.Conn) bool {
	ip := ipOf(conn.RemoteAddr())
	g.mu.Lock()
	full := g.fullLocked(ip)
	if !full {
		g.total++
		g.perIP[ip]++
	}
	g.mu.Unlock()
	if full {
		_ = conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeExcessiveLoad), errQUICFull.Error())
		return false
	}
	var timer *time.Timer
	if g.unused > 0 {
		timer = closeIfUnused(conn.Context(), g.unused, func() {
			_ = conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "no request")
		})
	}
	context.AfterFunc(conn.Context(), func() {
		if timer != nil {
			timer.Stop()
		}
		g.release(ip)
	})
	return true
}

func (g *quicGate) release(ip netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.perIP[ip]--; g.perIP[ip] <= 0 {
		delete(g.perIP, ip)
	}
}

// open is how many connections are counted now.
func (g *quicGate) open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// ipOf is the IP address of a UDP peer, IPv4-mapped addresses unmapped.
func ipOf(a net.Addr) netip.Addr {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap()
}

// gatedListener hands http3.Server only the connections the gate admits.
type gatedListener struct {
	*quic.Listener
	gate *quicGate
}

// Accept returns the next admitted connection.
func (l gatedListener) Accept(ctx context.Context) (*quic.Conn, error) {
	for {
		conn, err := l.Listener.Accept(ctx)
		if err != nil {
			return nil, err
		}
		if l.gate.track(conn) {
			return conn, nil
		}
	}
}
