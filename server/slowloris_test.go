package server_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
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

// TestStalledReaderIsFreed follows security-bar case 32 on the server's
// side: a client that asks for a large object over HTTPS/1.1 and stops
// reading holds its handler and its connection's write queue
// (coalesce.go) until WriteTimeout: then the handler's goroutine is gone.
func TestStalledReaderIsFreed(t *testing.T) {
	env := servertest.Start(t, servertest.WithLimits(server.Limits{WriteTimeout: time.Second}))
	body := randomBytes(8<<20, 32)
	d := putObjects(t, env, body)[0]
	raw, err := net.Dial("tcp", env.Server.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	conf := env.TLSConfig()
	conf.ServerName, conf.NextProtos = "127.0.0.1", []string{"http/1.1"}
	tc := tls.Client(raw, conf)
	if _, err := io.WriteString(tc, "GET /o/"+d.String()+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	serving := func() bool {
		buf := make([]byte, 1<<20)
		return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("(*Server).serveObject"))
	}
	time.Sleep(300 * time.Millisecond)
	if !serving() {
		t.Fatal("no handler is writing the object to the stalled reader")
	}
	deadline := time.Now().Add(20 * time.Second)
	for serving() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if serving() {
		t.Fatal("the stalled reader's handler still runs 20 s on, past WriteTimeout (1 s)")
	}
	resp, err := env.HTTPSClient().Get(env.URL + api.PathHealth)
	if err != nil {
		t.Fatalf("health after the stalled reader: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health after the stalled reader: %s", resp.Status)
	}
}
