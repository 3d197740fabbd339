package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Forwarded headers are honoured only from peers in Config.TrustedProxies
// (--trusted-proxy). From such a peer:
//
//   - When any X-Forwarded-For, X-Forwarded-Proto or X-Forwarded-Host header
//     is present, only those are read: the client address is the rightmost
//     X-Forwarded-For address that is not itself a trusted proxy; scheme and
//     host are the rightmost X-Forwarded-Proto and X-Forwarded-Host values
//     (the ones the nearest proxy wrote).
//   - Otherwise the RFC 7239 Forwarded header is read: the client is the
//     for= of the rightmost element whose for= is not a trusted proxy, and
//     that element's proto= and host= give scheme and host.
//
// A value that does not parse (an obfuscated or "unknown" node, a host with
// characters a host cannot hold, a scheme other than http/https) is not
// used: the client is then the nearest trusted hop, the scheme and host
// those of the request. Headers from any other peer are ignored.

// maxForwardedHops bounds how many addresses of a forwarded chain are read.
const maxForwardedHops = 32

// clientIP is the address of the client that sent r: the peer address, or,
// when the peer is a trusted proxy, the client it forwarded for.
func (s *Server) clientIP(r *http.Request) string {
	if len(s.cfg.TrustedProxies) == 0 {
		return peerHost(r)
	}
	return s.origin(r).client
}

// baseURL is where absolute URLs in answers start: --public-url, else the
// scheme and host the client used (forwarded by a trusted proxy, or those
// of the request).
func (s *Server) baseURL(r *http.Request) string {
	if u := strings.TrimRight(s.cfg.PublicURL, "/"); u != "" {
		return u
	}
	o := s.origin(r)
	return o.proto + "://" + o.host
}

// origin is what the client sent a request as, before any trusted proxy.
type origin struct {
	client string // address, no port
	proto  string // "http" or "https"
	host   string // host[:port]
}

// origin works out r's origin (see the rules at the top of this file).
func (s *Server) origin(r *http.Request) origin {
	o := origin{client: peerHost(r), proto: "https", host: r.Host}
	if r.TLS == nil {
		o.proto = "http"
	}
	peer, ok := parseNode(r.RemoteAddr)
	if !ok || !s.trusted(peer) {
		return o
	}
	h := r.Header
	var client netip.Addr
	var proto, host string
	if len(h.Values("X-Forwarded-For"))+len(h.Values("X-Forwarded-Proto"))+len(h.Values("X-Forwarded-Host")) > 0 {
		client = s.rightmostUntrusted(peer, splitList(h.Values("X-Forwarded-For")))
		proto, host = lastValue(h.Values("X-Forwarded-Proto")), lastValue(h.Values("X-Forwarded-Host"))
	} else {
		els := parseForwarded(h.Values("Forwarded"))
		fors := make([]string, len(els))
		for i, e := range els {
			fors[i] = e.forNode
		}
		var i int
		client, i = s.rightmostUntrustedAt(peer, fors)
		if i >= 0 {
			proto, host = els[i].proto, els[i].host
		}
	}
	o.client = client.String()
	if p := strings.ToLower(proto); p == "http" || p == "https" {
		o.proto = p
	}
	if validHost(host) {
		o.host = host
	}
	return o
}

// trusted reports whether a is one of the trusted proxies.
func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rightmostUntrusted is the client address of a forwarded chain (oldest
// first) that reached us through peer.
func (s *Server) rightmostUntrusted(peer netip.Addr, chain []string) netip.Addr {
	a, _ := s.rightmostUntrustedAt(peer, chain)
	return a
}

// rightmostUntrustedAt walks chain from the right: each entry was written
// by the trusted hop after it, so the first entry that is not a trusted
// proxy is the client. It returns that address and its index; an entry
// that does not parse stops the walk at the hop that wrote it (index -1),
// and a chain of trusted proxies only gives its oldest entry.
func (s *Server) rightmostUntrustedAt(peer netip.Addr, chain []string) (netip.Addr, int) {
	last, at := peer, -1
	for i := len(chain) - 1; i >= 0 && i >= len(chain)-maxForwardedHops; i-- {
		a, ok := parseNode(chain[i])
		if !ok {
			return last, -1
		}
		last, at = a, i
		if !s.trusted(a) {
			break
		}
	}
	return last, at
}

// peerHost is the peer address without its port.
func peerHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// parseNode parses an address as forwarded headers and RemoteAddr spell
// it: "192.0.2.1", "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]" or
// "[2001:db8::1]:443", maybe quoted. Zones are refused; IPv4-mapped IPv6
// addresses become IPv4.
func parseNode(s string) (netip.Addr, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Addr().Zone() == ""
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// splitList splits the comma-separated values of repeated header lines,
// in order.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}

// lastValue is the rightmost value of a comma-separated header, trimmed.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// validHost reports whether h is a host[:port] that may stand in a URL:
// a name of letters, digits and "-._~", or a bracketed IPv6 address, and
// an optional decimal port.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(h[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		name, port = "", h[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
			if port == "" {
				return false
			}
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
		if name == "" || port == "" {
			return false
		}
	}
	if len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// proxyWarning is logged at start when a cleartext listener is configured
// but nothing says how clients reach the server.
const proxyWarning = "--http-addr is set without --public-url or --trusted-proxy: behind a TLS-terminating proxy, " +
	"answers will carry http:// URLs of the proxy-facing listener; set --public-url, or --trusted-proxy to honour X-Forwarded-Proto/Host"
