package bench

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// httpsClient is a net/http client over TCP (HTTP/2) trusting conf.
func httpsClient(conf *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = conf
	t.ForceAttemptHTTP2 = true
	t.DisableCompression = true
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// https1Client is a net/http client over TLS speaking HTTP/1.1 only, with
// up to conns connections kept: how a pull CDN fetches from its origin.
func https1Client(conf *tls.Config, conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = conf.Clone()
	t.TLSClientConfig.NextProtos = []string{"http/1.1"} // conf may offer h2 (an HTTP/2 transport added it)
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // no HTTP/2
	t.DisableCompression = true
	t.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// loadClient is the load generator's client over proto (ProtoH2 or
// ProtoH3) trusting conf, and what closes its connections: one connection
// carries every request in flight (up to inFlight idle ones are kept for
// HTTP/2's sake). It has no timeout of its own: a phase's context bounds
// each request (a client timeout costs a timer per request), and a long
// run sets one (see runLong).
func loadClient(proto string, conf *tls.Config, inFlight int) (*http.Client, func()) {
	if proto == ProtoH3 {
		t := &http3.Transport{TLSClientConfig: conf, DisableCompression: true}
		return &http.Client{Transport: t}, func() { t.Close() }
	}
	hc := httpsClient(conf)
	hc.Timeout = 0
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = inFlight
	return hc, hc.CloseIdleConnections
}
