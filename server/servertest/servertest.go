// Package servertest starts a real patchwire server for tests: a real
// Badger store in a temporary directory, HTTPS on TCP and HTTP/3 on UDP on
// 127.0.0.1 (port 0), and clients configured to trust its certificate.
// It exists so every package's tests start the server the same way.
package servertest

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/store"
)

// Env is one running server and what a test needs to talk to it.
type Env struct {
	Dir      string // data directory
	Store    *store.Store
	Server   *server.Server
	URL      string // https://127.0.0.1:PORT
	HTTPURL  string // http://127.0.0.1:PORT of the cleartext listener
	AdminKey string
	CAFile   string // the self-signed certificate, PEM
	Config   server.Config

	t     testing.TB
	done  chan error
	sopts store.Options // as given to Start, for Restart
}

// Option adjusts the server configuration before it starts.
type Option func(*server.Config, *store.Options)

// WithLimits sets the server's limits.
func WithLimits(l server.Limits) Option {
	return func(c *server.Config, _ *store.Options) { c.Limits = l }
}

// WithStoreOptions edits the store options.
func WithStoreOptions(f func(*store.Options)) Option {
	return func(_ *server.Config, o *store.Options) { f(o) }
}

// Start starts a server in t.TempDir() and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	dir := t.TempDir()
	cfg := server.Config{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: dir}
	sopts := store.Options{Dir: filepath.Join(dir, "db"), GCInterval: -1}
	for _, o := range opts {
		o(&cfg, &sopts)
	}
	e := &Env{Dir: dir, Config: cfg, t: t, sopts: sopts}
	e.start(sopts)
	t.Cleanup(e.Stop)
	return e
}

func (e *Env) start(sopts store.Options) {
	t := e.t
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sopts.Logger = log
	if sopts.Limits == (store.Options{}).Limits {
		sopts.Limits = e.Config.Limits.Bundle
	}
	st, err := store.Open(sopts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	key, err := server.EnsureAdminKey(context.Background(), st, e.Dir)
	if err != nil {
		t.Fatalf("admin key: %v", err)
	}
	if key == "" {
		b, err := os.ReadFile(filepath.Join(e.Dir, server.AdminKeyFile))
		if err != nil {
			t.Fatalf("read admin key: %v", err)
		}
		key = string(b[:len(b)-1])
	}
	srv, err := server.New(e.Config, st, log)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	e.Store, e.Server, e.AdminKey = st, srv, key
	e.URL = "https://" + srv.Addr()
	if a := srv.HTTPAddr(); a != "" {
		e.HTTPURL = "http://" + a
	}
	e.CAFile = filepath.Join(e.Dir, server.SelfSignedCertFile)
	e.done = make(chan error, 1)
	go func() { e.done <- srv.Serve() }()
	// Serve flips HTTP/3 on asynchronously; wait until it is up.
	for deadline := time.Now().Add(5 * time.Second); !e.Config.DisableHTTP3 && !srv.HTTP3Enabled() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// Stop shuts the server down and closes the store; calling it twice is fine.
func (e *Env) Stop() {
	if e.Server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.Server.Shutdown(ctx)
	if err := <-e.done; err != nil {
		e.t.Errorf("serve: %v", err)
	}
	if err := e.Store.Close(); err != nil {
		e.t.Errorf("close store: %v", err)
	}
	e.Server, e.Store = nil, nil
}

// Restart stops the server and starts it again on the same data directory
// (on new ports), with the store options Start was given.
func (e *Env) Restart() {
	e.Stop()
	e.Config.Addr, e.Config.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	e.start(e.sopts)
}

// Client returns an API client with key; http3 selects QUIC.
func (e *Env) Client(key string, http3 bool) *client.Client {
	e.t.Helper()
	c, err := client.New(client.Config{Server: e.URL, Key: key, CAFile: e.CAFile, HTTP3: http3})
	if err != nil {
		e.t.Fatalf("client: %v", err)
	}
	e.t.Cleanup(c.Close)
	return c
}

// TLSConfig trusts the server's self-signed certificate.
func (e *Env) TLSConfig() *tls.Config {
	e.t.Helper()
	conf, err := client.TLSConfig(e.CAFile, false)
	if err != nil {
		e.t.Fatalf("tls config: %v", err)
	}
	return conf
}

// HTTPSClient is a plain net/http client over TCP (HTTP/2) trusting the server.
func (e *Env) HTTPSClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = e.TLSConfig()
	t.ForceAttemptHTTP2 = true
	t.DisableCompression = true
	e.t.Cleanup(t.CloseIdleConnections)
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// HTTP1Client is a net/http client over TCP that speaks only HTTP/1.1, for
// tests of what HTTP/2 would refuse at the framing layer.
func (e *Env) HTTP1Client() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = e.TLSConfig()
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	t.DisableCompression = true
	e.t.Cleanup(t.CloseIdleConnections)
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// HTTP3Client is a net/http client over quic-go's HTTP/3 transport.
func (e *Env) HTTP3Client() *http.Client {
	t := &http3.Transport{TLSClientConfig: e.TLSConfig(), DisableCompression: true}
	e.t.Cleanup(func() { t.Close() })
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
