package server_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestSlowHeadersAreClosed keeps what issue 14 measured as fine: slowloris
// connections (half trickling request headers after the TLS handshake,
// half never starting it) do not stop /updates from answering, and every
// one is closed at ReadHeaderTimeout.
func TestSlowHeadersAreClosed(t *testing.T) {
	const timeout = time.Second
	env := servertest.Start(t, servertest.WithLimits(server.Limits{ReadHeaderTimeout: timeout}))
	const slow = 50
	stop := make(chan struct{})
	defer close(stop)
	closedAfter := make(chan time.Duration, slow)
	for i := range slow {
		raw, err := net.Dial("tcp", env.Server.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		conn := raw
		if i%2 == 0 {
			conf := env.TLSConfig()
			conf.ServerName = "127.0.0.1"
			tc := tls.Client(raw, conf)
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			conn = tc
		}
		start := time.Now()
		if conn != raw {
			go trickleHeader(conn, stop)
		}
		go func() { // waits for the server to close it
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, conn)
			closedAfter <- time.Since(start)
		}()
	}
	hc := env.HTTPSClient()
	for range 20 {
		resp, err := hc.Post(env.URL+"/updates", "application/json", bytes.NewReader([]byte(`{}`)))
		if err != nil {
			t.Fatalf("/updates during the slow connections: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("/updates during the slow connections: %d", resp.StatusCode)
		}
	}
	for range slow {
		if d := <-closedAfter; d < timeout-100*time.Millisecond || d > timeout+2*time.Second {
			t.Errorf("a slow connection was closed after %v, want about ReadHeaderTimeout (%v)", d, timeout)
		}
	}
}

// trickleHeader sends the start of a request and then one header byte
// every 100 ms, never ending the header, until a write fails or stop.
func trickleHeader(conn net.Conn, stop <-chan struct{}) {
	io.WriteString(conn, "POST /updates HTTP/1.1\r\nHost: x\r\n")
	for {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := io.WriteString(conn, "X"); err != nil {
			return
		}
	}
}
