package device_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// cutProxy is a TCP proxy in front of a server that can cut connections
// after a number of bytes sent to the client, or refuse them (server down).
type cutProxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu     sync.Mutex
	down   bool
	budget []int64 // per new connection: cut after this many bytes (0: never)
	conns  map[net.Conn]bool
	cuts   atomic.Int64
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
	})
	return p
}

// URL is the proxy's https URL.
func (p *cutProxy) URL() string { return "https://" + p.ln.Addr().String() }

// setDown makes the proxy refuse (close at once) every connection, and
// drops the open ones.
func (p *cutProxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.closeAll()
	}
}

// cutNext makes the next connection be cut after n bytes to the client.
func (p *cutProxy) cutNext(n ...int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget = append(p.budget, n...)
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		var budget int64
		if len(p.budget) > 0 {
			budget, p.budget = p.budget[0], p.budget[1:]
		}
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.pipe(c, budget)
	}
}

func (p *cutProxy) pipe(c net.Conn, budget int64) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	defer func() {
		c.Close()
		s.Close()
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, s)
		p.mu.Unlock()
	}()
	go func() {
		io.Copy(s, c)
		s.Close()
	}()
	if budget <= 0 {
		io.Copy(c, s)
		return
	}
	io.Copy(c, io.LimitReader(s, budget))
	p.cuts.Add(1)
}

// mirror is a lying HTTPS mirror (think CDN) in front of the real server:
// it forwards every request and may rewrite the answer on the way back.
type mirror struct {
	srv    *httptest.Server
	target *url.URL
	client *http.Client

	mu   sync.Mutex
	edit func(r *http.Request, status int, h http.Header, body []byte) (int, []byte) // nil: pass through
	log  []string
}

func newMirror(t testing.TB, target string, targetTLS *tls.Config) *mirror {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: targetTLS, ForceAttemptHTTP2: true, DisableCompression: true}
	m := &mirror{target: u, client: &http.Client{Transport: tr}}
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(m.serve))
	m.srv.EnableHTTP2 = true
	m.srv.StartTLS()
	t.Cleanup(func() {
		m.srv.Close()
		tr.CloseIdleConnections()
	})
	return m
}

func (m *mirror) setEdit(f func(r *http.Request, status int, h http.Header, body []byte) (int, []byte)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.edit = f
}

func (m *mirror) requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.log...)
}

func (m *mirror) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	out, err := http.NewRequestWithContext(r.Context(), r.Method, m.target.String()+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	for k, vs := range r.Header {
		out.Header[k] = vs
	}
	out.Host = r.Host // so that the server's absolute URLs point at the mirror
	resp, err := m.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	m.mu.Lock()
	edit := m.edit
	m.log = append(m.log, r.Method+" "+r.URL.Path+" "+r.Header.Get("Range"))
	m.mu.Unlock()
	status := resp.StatusCode
	if edit != nil {
		status, rb = edit(r, status, resp.Header, rb)
	}
	for k, vs := range resp.Header {
		if !strings.EqualFold(k, "Content-Length") {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(status)
	w.Write(rb)
}
