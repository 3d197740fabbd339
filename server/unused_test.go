package server_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestUnusedHTTP2ConnectionClosed (issue 14 item 8, the TCP side): an
// HTTP/2 connection that sends its preface and no request is closed after
// UnusedConnTimeout, where the code before kept it for IdleTimeout (2
// minutes); a connection that sent a request is kept and reused.
func TestUnusedHTTP2ConnectionClosed(t *testing.T) {
	const unused = 300 * time.Millisecond
	env := servertest.Start(t, servertest.WithLimits(server.Limits{UnusedConnTimeout: unused}))
	conf := env.TLSConfig()
	conf.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", env.Server.Addr(), conf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	// The client preface and an empty SETTINGS frame, then nothing.
	if _, err := io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	conn.SetReadDeadline(start.Add(5 * time.Second))
	io.Copy(io.Discard, conn)
	if took := time.Since(start); took > unused+time.Second {
		t.Errorf("the unused HTTP/2 connection was closed after %v, want about %v", took, unused)
	}

	hc := env.HTTPSClient()
	reused := false
	for i := range 2 {
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", env.URL+api.PathHealth, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("answer over %s, want HTTP/2", resp.Proto)
		}
		if i == 0 {
			time.Sleep(3 * unused)
		}
	}
	if !reused {
		t.Error("the connection that sent a request was closed as unused")
	}
}
