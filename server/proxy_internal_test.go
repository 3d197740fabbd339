package server

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
)

func proxyServer(publicURL string, trusted ...string) *Server {
	s := &Server{cfg: Config{PublicURL: publicURL}}
	for _, p := range trusted {
		s.cfg.TrustedProxies = append(s.cfg.TrustedProxies, netip.MustParsePrefix(p))
	}
	return s
}

// TestOrigin covers issue 14 items 2 and 7: forwarded headers are honoured
// from trusted peers only, the client is the rightmost untrusted address,
// and values that do not parse are not used.
func TestOrigin(t *testing.T) {
	trusted := []string{"10.0.0.0/8", "2001:db8:ffff::/48"}
	tests := []struct {
		name      string
		trusted   []string
		publicURL string
		peer      string
		tls       bool
		header    map[string][]string
		client    string
		base      string
	}{
		{"no proxies configured", nil, "", "192.0.2.1:5000", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}},
			"192.0.2.1", "http://origin.internal:8080"},
		{"untrusted peer", trusted, "", "192.0.2.1:5000", true,
			map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"evil.example"}},
			"192.0.2.1", "https://origin.internal:8080"},
		{"trusted peer, X-Forwarded-*", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"updates.example.com"}},
			"198.51.100.1", "https://updates.example.com"},
		{"trusted peer, no forwarded headers", trusted, "", "10.1.2.3:5000", false, nil,
			"10.1.2.3", "http://origin.internal:8080"},
		{"--public-url wins", trusted, "https://cdn.example.com/", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"updates.example.com"}},
			"10.1.2.3", "https://cdn.example.com"},
		{"rightmost untrusted address, spoofed left part ignored", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.9, 10.9.9.9"}},
			"198.51.100.9", "http://origin.internal:8080"},
		{"repeated X-Forwarded-For lines", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-For": {"6.6.6.6", "198.51.100.9,10.0.0.1"}},
			"198.51.100.9", "http://origin.internal:8080"},
		{"only trusted hops: the oldest", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-For": {"10.0.0.5, 10.0.0.6"}},
			"10.0.0.5", "http://origin.internal:8080"},
		{"garbage stops at the hop that wrote it", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.1, not-an-ip, 10.0.0.7"}},
			"10.0.0.7", "http://origin.internal:8080"},
		{"ports, brackets and IPv6", trusted, "", "[2001:db8:ffff::1]:443", true,
			map[string][]string{"X-Forwarded-For": {"[2001:db8::5]:1234, 198.51.100.2:80"}},
			"198.51.100.2", "https://origin.internal:8080"},
		{"IPv4-mapped peer", trusted, "", "[::ffff:10.0.0.1]:443", false,
			map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.3"}},
			"198.51.100.3", "http://origin.internal:8080"},
		{"zones refused", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-For": {"fe80::1%eth0"}},
			"10.1.2.3", "http://origin.internal:8080"},
		{"list of protos: the nearest", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-Proto": {"http, https"}, "X-Forwarded-Host": {"a.example, b.example:8443"}},
			"10.1.2.3", "https://b.example:8443"},
		{"bad proto and host ignored", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-Proto": {"javascript"}, "X-Forwarded-Host": {"evil.example/path?x"}},
			"10.1.2.3", "http://origin.internal:8080"},
		{"host with userinfo ignored", trusted, "", "10.1.2.3:5000", true,
			map[string][]string{"X-Forwarded-Host": {"user@evil.example"}},
			"10.1.2.3", "https://origin.internal:8080"},
		{"Forwarded", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"Forwarded": {`for=198.51.100.17;proto=https;host=updates.example.com`}},
			"198.51.100.17", "https://updates.example.com"},
		{"Forwarded chain: the element of the rightmost untrusted for=", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"Forwarded": {`for=6.6.6.6;host=evil.example;proto=http, for="[2001:db8::17]:4711";proto=https;host="u.example:8443", for=10.0.0.2;proto=http;host=internal`}},
			"2001:db8::17", "https://u.example:8443"},
		{"Forwarded: garbage left of the proxy's element", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"Forwarded": {`for=6.6.6.6;;;=, for=198.51.100.4;proto=https`}},
			"198.51.100.4", "https://origin.internal:8080"},
		{"Forwarded: obfuscated node stops the walk", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"Forwarded": {`for=198.51.100.4, for=_hidden;proto=https`}},
			"10.1.2.3", "http://origin.internal:8080"},
		{"X-Forwarded-* present: Forwarded is not read", trusted, "", "10.1.2.3:5000", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.5"}, "Forwarded": {`for=6.6.6.6;host=evil.example;proto=https`}},
			"198.51.100.5", "http://origin.internal:8080"},
		{"Forwarded from an untrusted peer", trusted, "", "192.0.2.1:5000", false,
			map[string][]string{"Forwarded": {`for=198.51.100.17;proto=https;host=updates.example.com`}},
			"192.0.2.1", "http://origin.internal:8080"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := proxyServer(tc.publicURL, tc.trusted...)
			r := httptest.NewRequest("GET", "http://origin.internal:8080/updates", nil)
			r.RemoteAddr = tc.peer
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, vs := range tc.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := s.clientIP(r); got != tc.client {
				t.Errorf("clientIP = %q, want %q", got, tc.client)
			}
			if got := s.baseURL(r); got != tc.base {
				t.Errorf("baseURL = %q, want %q", got, tc.base)
			}
		})
	}
}

// FuzzForwarded checks that no forwarded headers from a trusted peer make
// the client address anything but an address, or the URL base anything but
// http(s)://host with a valid host.
func FuzzForwarded(f *testing.F) {
	f.Add("198.51.100.1, 10.0.0.1", "https", "updates.example.com", `for=198.51.100.17;proto=https;host="a.example:8443"`)
	f.Add("", "", "", `for="[2001:db8::17]:4711", for=_x;proto="ht\"tp"`)
	f.Add("[::1]:80,,", "HTTPS", "[2001:db8::1]:443", `;;,,=;"`)
	s := proxyServer("", "10.0.0.0/8", "127.0.0.0/8")
	f.Fuzz(func(t *testing.T, xff, proto, host, fwd string) {
		r := httptest.NewRequest("GET", "http://origin.internal:8080/updates", nil)
		r.RemoteAddr = "10.0.0.1:1234"
		for k, v := range map[string]string{"X-Forwarded-For": xff, "X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "Forwarded": fwd} {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		if _, err := netip.ParseAddr(s.clientIP(r)); err != nil {
			t.Fatalf("clientIP %q: %v", s.clientIP(r), err)
		}
		base := s.baseURL(r)
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Path != "" || u.RawQuery != "" ||
			u.Scheme+"://"+u.Host != base || (u.Host != r.Host && !validHost(u.Host)) {
			t.Fatalf("baseURL %q (%+v, %v)", base, u, err)
		}
	})
}
