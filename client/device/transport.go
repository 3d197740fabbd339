package device

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// netClient sends a device's requests over HTTP/3, TCP, or HTTP/3 with a
// fallback to TCP, and counts the response-body bytes it receives.
type netClient struct {
	mode      TransportMode
	h3        *http3.Transport
	tcp       *http.Transport
	h3Timeout time.Duration
	log       *slog.Logger

	h3Down   atomic.Bool  // TransportAuto gave up on HTTP/3 for this command
	h3Up     atomic.Bool  // an HTTP/3 response arrived: no more header deadline
	received atomic.Int64 // response-body bytes read
	lastProt atomic.Value // string: protocol of the last response
	client   *http.Client
}

func newNetClient(cfg Config) *netClient {
	tlsConf := cfg.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c := &netClient{mode: cfg.Transport, h3Timeout: cfg.H3Timeout, log: cfg.Logger}
	if c.mode != TransportTCP {
		c.h3 = &http3.Transport{
			TLSClientConfig:    tlsConf.Clone(),
			DisableCompression: true,
			QUICConfig: &quic.Config{
				HandshakeIdleTimeout: max(2*cfg.H3Timeout, time.Second),
				MaxIdleTimeout:       max(cfg.IdleTimeout, 10*time.Second),
				KeepAlivePeriod:      5 * time.Second,
			},
		}
	}
	if c.mode != TransportHTTP3 {
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}
		c.tcp = &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        tlsConf.Clone(),
			ForceAttemptHTTP2:      true,
			DisableCompression:     true,
			TLSHandshakeTimeout:    10 * time.Second,
			ResponseHeaderTimeout:  30 * time.Second,
			IdleConnTimeout:        30 * time.Second,
			MaxIdleConnsPerHost:    8,
			MaxResponseHeaderBytes: 64 << 10,
		}
	}
	c.client = &http.Client{
		Transport: c,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
				return fmt.Errorf("redirect to a %s URL", req.URL.Scheme)
			}
			return nil
		},
	}
	c.lastProt.Store("")
	return c
}

// close releases connections.
func (c *netClient) close() {
	if c.h3 != nil {
		c.h3.Close()
	}
	if c.tcp != nil {
		c.tcp.CloseIdleConnections()
	}
}

// protocol is the protocol of the last response ("HTTP/3.0", "HTTP/2.0").
func (c *netClient) protocol() string { return c.lastProt.Load().(string) }

var errH3Timeout = errors.New("no HTTP/3 answer in time")

// RoundTrip implements http.RoundTripper with the fallback policy.
func (c *netClient) RoundTrip(req *http.Request) (*http.Response, error) {
	if c.h3 != nil && !c.h3Down.Load() {
		resp, err := c.tryH3(req)
		if err == nil {
			return c.counted(resp), nil
		}
		if c.tcp == nil || req.Context().Err() != nil {
			return nil, err
		}
		if c.h3Down.CompareAndSwap(false, true) {
			c.log.Info("HTTP/3 unavailable, falling back to HTTPS over TCP", "err", err)
		}
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, err
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, gerr
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
	if c.tcp == nil {
		return nil, errors.New("device: HTTP/3 transport closed")
	}
	resp, err := c.tcp.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	return c.counted(resp), nil
}

// tryH3 sends req over HTTP/3; in TransportAuto, until HTTP/3 has worked
// once, the response headers must arrive within h3Timeout.
func (c *netClient) tryH3(req *http.Request) (*http.Response, error) {
	if c.mode != TransportAuto || c.h3Up.Load() {
		return c.h3.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(c.h3Timeout, cancel)
	resp, err := c.h3.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, errH3Timeout
	}
	if err != nil {
		cancel()
		return nil, err
	}
	c.h3Up.Store(true)
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// counted wraps resp.Body to count the bytes read from it.
func (c *netClient) counted(resp *http.Response) *http.Response {
	c.lastProt.Store(resp.Proto)
	resp.Body = &countBody{ReadCloser: resp.Body, n: &c.received}
	return resp
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

type countBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
