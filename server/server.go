package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/server/capgo"
	"github.com/patchwire/patchwire/server/catalog"
	"github.com/patchwire/patchwire/server/console"
	"github.com/patchwire/patchwire/server/internal/http2"
	"github.com/patchwire/patchwire/server/native"
	"github.com/patchwire/patchwire/server/patcher"
	"github.com/patchwire/patchwire/server/webhooks"
	"github.com/patchwire/patchwire/store"
)

// Server serves one store over HTTPS, HTTP/3 and optionally cleartext HTTP.
// Create it with New, bind with Listen, run with Serve, stop with Shutdown.
type Server struct {
	cfg         Config
	store       *store.Store
	log         *slog.Logger
	handler     http.Handler
	warm        *warmPool // workers with grown stacks for HTTP/2 and HTTP/3 requests (warm.go)
	tlsConfig   *tls.Config
	fingerprint string
	authLimiter *authLimiter     // failed authentications per address and key id (authlimit.go)
	native      *native.Handler  // native protocol: POST /v1/check (server/native)
	nativeCfg   NativeConfig     // its settings, defaults applied
	signer      *checksig.Signer // signs check answers
	patcher     *patcher.Patcher // makes patches and steps (server/patcher)
	unsubscribe func()           // ends the patcher's store subscription (publish events)
	metrics     *metrics         // Prometheus metrics (metrics.go)
	capgo       *capgo.Handler   // Capgo plugin protocol (server/capgo)
	catalog     *catalog.Catalog // decoded catalog both protocols decide over (server/catalog)
	devLimits   *deviceLimiter   // token buckets of the device endpoints (ratelimit.go)
	switches    *switches        // pending channel switches (switch.go)
	hooks       *webhooks.Worker // delivers the webhook queue (server/webhooks)

	manifestBodies *manifestBodyCache // encodings served by /m/{sha256} (manifests.go)

	https *http.Server
	h3    *http3.Server
	plain *http.Server

	tcpLn   net.Listener
	udpConn net.PacketConn
	plainLn net.Listener
	h3Up    atomic.Bool

	quicTr   *quic.Transport // over udpConn
	quicLn   gatedListener   // what h3 serves
	quicGate *quicGate       // connection caps (quicgate.go)

	shutdownOnce sync.Once
}

// New builds a server over st. It loads or creates the TLS certificate but
// binds nothing yet.
func New(cfg Config, st *store.Store, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.DataDir != "" {
		// Spooled uploads and patch inputs a crash left behind: the store's
		// lock on the data dir means no other server is using them.
		if err := os.RemoveAll(filepath.Join(cfg.DataDir, "tmp")); err != nil {
			return nil, fmt.Errorf("clean temporary files: %w", err)
		}
	}
	cert, fp, err := loadCertificate(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		store:       st,
		log:         log,
		fingerprint: fp,
		authLimiter: newAuthLimiter(cfg.Limits.AuthFailuresPerMinute, time.Minute),

		manifestBodies: newManifestBodyCache(manifestCacheBytes),
	}
	s.tlsConfig = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if cfg.HTTPAddr != "" && cfg.PublicURL == "" && len(cfg.TrustedProxies) == 0 {
		log.Warn(proxyWarning)
	}
	s.catalog = catalog.New(st)
	if err := s.newNative(cfg); err != nil {
		return nil, err
	}
	s.unsubscribe = st.Subscribe(s.patcher.OnPublish)
	s.handler = s.routes()
	s.warm = newWarmPool(warmWorkers, warmIdle)
	s.switches = newSwitches()
	s.resumeSwitches()
	s.hooks = webhooks.New(st, cfg.Webhooks, log, s.metrics.webhookDelivery)
	s.hooks.Start()
	return s, nil
}

// Handler is the server's whole HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Fingerprint is the SHA-256 of the TLS leaf certificate, in hex.
func (s *Server) Fingerprint() string { return s.fingerprint }

// Listen binds the TCP and UDP listeners on cfg.Addr (the same port for
// both, also when it is 0) and the cleartext one when configured.
func (s *Server) Listen() error {
	addr := s.cfg.Addr
	if addr == "" {
		addr = ":8443"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on TCP %s: %w", addr, err)
		}
		if s.cfg.DisableHTTP3 {
			s.tcpLn = tcp
			break
		}
		bound := strconv.Itoa(tcp.Addr().(*net.TCPAddr).Port)
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, bound))
		if err == nil {
			s.tcpLn, s.udpConn = tcp, udp
			break
		}
		tcp.Close()
		if port != "0" || attempt >= 20 {
			return fmt.Errorf("listen on UDP %s: %w", net.JoinHostPort(host, bound), err)
		}
	}
	if s.cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listen on %s: %w", s.cfg.HTTPAddr, err)
		}
		s.plainLn = ln
	}
	lim := s.cfg.Limits
	s.https = &http.Server{
		Handler:           s.altSvc(s.warm.warmStacks(s.handler)),
		TLSConfig:         s.tlsConfig.Clone(),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext:       s.tcpConnContext,
	}
	// HTTP/2 through the fork of x/net's server whose connections write
	// their frames into 64 KiB, not 4 KiB (server/internal/http2's doc).
	if err := http2.ConfigureServer(s.https, nil); err != nil {
		s.closeListeners()
		return fmt.Errorf("configure HTTP/2: %w", err)
	}
	if s.udpConn != nil {
		if err := s.listenQUIC(); err != nil {
			s.closeListeners()
			return err
		}
	}
	if s.plainLn != nil {
		s.plain = &http.Server{
			Handler:           s.handler,
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			ReadTimeout:       lim.ReadTimeout,
			WriteTimeout:      lim.WriteTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    lim.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	}
	return nil
}

// listenQUIC starts the QUIC listener on udpConn behind the connection
// gate, and the HTTP/3 server that will serve it.
func (s *Server) listenQUIC() error {
	lim := s.cfg.Limits
	s.quicGate = newQUICGate(lim)
	s.quicTr = &quic.Transport{Conn: s.udpConn, ConnContext: s.quicGate.connContext}
	tlsConf := http3.ConfigureTLSConfig(s.tlsConfig.Clone())
	ln, err := s.quicTr.Listen(tlsConf, &quic.Config{
		Allow0RTT:            false, // uploads are not idempotent; never replay them
		HandshakeIdleTimeout: 5 * time.Second,
		MaxIdleTimeout:       lim.IdleTimeout,
		MaxIncomingStreams:   100,
	})
	if err != nil {
		return fmt.Errorf("listen on QUIC %s: %w", s.udpConn.LocalAddr(), err)
	}
	s.quicLn = gatedListener{Listener: ln, gate: s.quicGate}
	s.h3 = &http3.Server{
		Handler:        s.warm.warmStacks(s.deadlines(s.handler)),
		TLSConfig:      tlsConf,
		MaxHeaderBytes: lim.MaxHeaderBytes,
		IdleTimeout:    lim.IdleTimeout,
		Logger:         s.log,
	}
	return nil
}

func (s *Server) closeListeners() {
	if s.tcpLn != nil {
		s.tcpLn.Close()
	}
	s.closeQUIC()
	if s.udpConn != nil {
		s.udpConn.Close()
	}
	if s.plainLn != nil {
		s.plainLn.Close()
	}
}

// closeQUIC closes the QUIC listener and transport (not udpConn).
func (s *Server) closeQUIC() {
	if s.quicLn.Listener != nil {
		s.quicLn.Close()
	}
	if s.quicTr != nil {
		s.quicTr.Close()
	}
}

// Addr is the bound TCP (and UDP) address; empty before Listen.
func (s *Server) Addr() string {
	if s.tcpLn == nil {
		return ""
	}
	return s.tcpLn.Addr().String()
}

// HTTPAddr is the bound cleartext address, or empty.
func (s *Server) HTTPAddr() string {
	if s.plainLn == nil {
		return ""
	}
	return s.plainLn.Addr().String()
}

// HTTP3Enabled reports whether the UDP listener is serving.
func (s *Server) HTTP3Enabled() bool { return s.h3Up.Load() }

// Serve runs every listener until Shutdown; it returns the first error other
// than a clean close.
func (s *Server) Serve() error {
	if s.tcpLn == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	errc := make(chan error, 3)
	n := 1
	go func() { errc <- ignoreClosed(s.https.ServeTLS(coalescingListener{s.tcpLn}, "", "")) }()
	if s.h3 != nil {
		n++
		s.h3Up.Store(true)
		go func() {
			err := s.h3.ServeListener(s.quicLn)
			s.h3Up.Store(false)
			errc <- ignoreClosed(err)
		}()
	}
	if s.plain != nil {
		n++
		go func() { errc <- ignoreClosed(s.plain.Serve(s.plainLn)) }()
	}
	var first error
	for i := 0; i < n; i++ {
		if err := <-errc; err != nil && first == nil {
			first = err
			go s.Shutdown(context.Background())
		}
	}
	return first
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, quic.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends
// (HTTP/3 clients get GOAWAY), then closes everything.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	s.shutdownOnce.Do(func() {
		s.h3Up.Store(false)
		var wg sync.WaitGroup
		var mu sync.Mutex
		add := func(err error) {
			if err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}
		if s.h3 != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				add(ignoreClosed(s.h3.Shutdown(ctx)))
				s.h3.Close()
				s.closeQUIC()
				s.udpConn.Close()
			}()
		}
		for _, hs := range []*http.Server{s.https, s.plain} {
			if hs == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := hs.Shutdown(ctx); err != nil {
					hs.Close()
					add(ignoreClosed(err))
				}
			}()
		}
		wg.Wait()
		s.warm.close()
		s.unsubscribe()
		s.hooks.Close()
		s.patcher.Close()
		add(s.capgo.Close())
	})
	return errors.Join(errs...)
}

// altSvc advertises HTTP/3 on TCP responses while the UDP listener is up.
func (s *Server) altSvc(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.h3 != nil && s.h3Up.Load() {
			_ = s.h3.SetQUICHeaders(w.Header())
		}
		next.ServeHTTP(w, r)
	})
}

// deadlines gives each HTTP/3 request the read and write deadlines that
// ReadTimeout and WriteTimeout give HTTP/1.1 and HTTP/2 requests:
// http3.Server has no such timeouts, so a body that stalls would hold its
// stream (and an upload's temporary file) for as long as the connection
// lives. It also marks the connection used (quicgate.go).
func (s *Server) deadlines(next http.Handler) http.Handler {
	lim := s.cfg.Limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		_ = rc.SetReadDeadline(now.Add(lim.ReadTimeout))
		_ = rc.SetWriteDeadline(now.Add(lim.WriteTimeout))
		next.ServeHTTP(w, r)
	})
}

// routes registers every endpoint.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+api.PathObject, s.handleObject)
	mux.HandleFunc("HEAD "+api.PathObject, s.handleObject)
	mux.HandleFunc("GET "+api.PathManifest, s.handleManifest)
	mux.HandleFunc("HEAD "+api.PathManifest, s.handleManifest)
	s.adminRoutes(mux)
	s.channelRoutes(mux)
	s.nativeRoutes(mux)
	s.releaseRoutes(mux)
	s.webhookRoutes(mux)
	s.metrics = newMetrics()
	s.metrics.watchStore(s.store)
	s.metrics.watchNative(s.native)
	s.devLimits = newDeviceLimiter(s.cfg.Limits)
	s.devLimits.register(s.metrics.reg)
	deps := capgo.Deps{Store: s.store, Snapshot: s.catalog.Snapshot, PublicURL: s.cfg.PublicURL, Log: s.log, Observer: s.metrics,
		DeviceLimit: s.devLimits.deviceAllowed, Flushed: s.checkGuards}
	if len(s.cfg.TrustedProxies) > 0 {
		deps.BaseURL = s.baseURL // forwarded scheme and host; the default path stays allocation-free
	}
	s.capgo = capgo.New(deps)
	s.capgo.Register(mux)
	s.statsRoutes(mux)
	s.consoleRoutes(mux)
	mux.Handle("GET "+PathMetrics, s.metrics.handler)
	mux.Handle("GET /console/", console.Handler()) // console.Prefix
	mux.Handle("HEAD /console/", console.Handler())
	mux.HandleFunc("GET /console", console.Redirect)
	return s.guardBodies(s.recoverer(s.devLimits.wrap(s.clientIP, s.metrics.wrap(mux))))
}

// recoverer turns a panic in a handler into a 500 and a log line.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, s.log, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
