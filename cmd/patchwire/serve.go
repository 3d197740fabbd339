package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/webhooks"
	"github.com/patchwire/patchwire/store"
)

// runServe is `patchwire serve`: open the store, bind, serve until a signal.
func runServe(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags("serve", env.stderr)
	def := server.DefaultLimits()
	var (
		cfg       server.Config
		logLevel  string
		gcGrace   time.Duration
		gcEvery   time.Duration
		shutdownT time.Duration
		reserve   int64
		scrubT    time.Duration
		mem       memoryFlags
		objects   string
		redirect  string
		catalog   catalogFlags
	)
	fs.StringVar(&cfg.DataDir, "data", "./patchwire-data", "data directory (store, TLS certificate, admin key)")
	fs.StringVar(&cfg.Addr, "addr", ":8443", "HOST:PORT for HTTPS (TCP) and HTTP/3 (UDP)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate (default: self-signed, created under --data)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "", "optional cleartext HTTP listener HOST:PORT (development, or behind a TLS proxy/CDN)")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "base URL for download links when behind a proxy")
	fs.Var((*prefixList)(&cfg.TrustedProxies), "trusted-proxy", "CIDR[,CIDR...] of proxies whose X-Forwarded-For/-Proto/-Host and Forwarded headers are believed (client address, URL scheme and host)")
	fs.BoolVar(&cfg.DisableHTTP3, "no-http3", false, "serve no HTTP/3 (UDP)")
	fs.Int64Var(&cfg.Limits.MaxJSONBytes, "max-body", def.MaxJSONBytes, "largest JSON request body, bytes")
	fs.Int64Var(&cfg.Limits.MaxUploadBytes, "max-upload", def.MaxUploadBytes, "largest zip upload body, bytes")
	fs.IntVar(&cfg.Limits.Bundle.MaxFiles, "max-files", def.Bundle.MaxFiles, "most files in one bundle")
	fs.Int64Var(&cfg.Limits.Bundle.MaxBundleBytes, "max-bundle-bytes", def.Bundle.MaxBundleBytes, "largest bundle (sum of file sizes), bytes")
	fs.Int64Var(&cfg.Limits.Bundle.MaxFileBytes, "max-file-bytes", def.Bundle.MaxFileBytes, "largest single file, bytes")
	fs.IntVar(&cfg.Limits.Bundle.MaxPathBytes, "max-path", def.Bundle.MaxPathBytes, "longest file path in a bundle, bytes")
	fs.Float64Var(&cfg.Limits.DeviceRate, "device-rate", server.DefaultDeviceRate, "device endpoint requests a second per client address (/updates, /stats, /channel_self, /v1/check); 0: no limit")
	fs.IntVar(&cfg.Limits.DeviceBurst, "device-burst", server.DefaultDeviceBurst, "device endpoint requests one address may send at once")
	fs.Float64Var(&cfg.Limits.DeviceRatePerDevice, "device-rate-per-device", server.DefaultDeviceRatePerDevice, "device endpoint requests a second per device id; 0: no limit")
	fs.IntVar(&cfg.Limits.DeviceBurstPerDevice, "device-burst-per-device", server.DefaultDeviceBurstPerDevice, "device endpoint requests one device may send at once")
	fs.DurationVar(&cfg.Native.AnswerTTL, "check-expiry", server.DefaultAnswerTTL, "how long a signed /v1/check answer stays valid")
	fs.IntVar(&cfg.Native.PatchBases, "patch-bases", server.DefaultPatchBases, "patches are made at publish from this many latest and most installed bundles")
	fs.DurationVar(&cfg.PatchWait, "patch-wait", server.DefaultPatchWait, "a channel change waits this long for its patches before it switches anyway (0: switch at once)")
	fs.StringVar(&cfg.Native.ZstdCLI, "zstd-cli", server.ZstdCLIAuto, "zstd tool for smaller zstd-dict patches: empty finds it on PATH, \"off\" uses the Go encoder only, or a path")
	fs.DurationVar(&gcGrace, "gc-grace", time.Hour, "how long unreferenced objects are kept before the GC removes them")
	fs.DurationVar(&gcEvery, "gc-interval", 10*time.Minute, "how often the GC runs (0: never)")
	fs.DurationVar(&shutdownT, "shutdown-timeout", 20*time.Second, "how long requests in flight may finish after SIGINT/SIGTERM")
	fs.Int64Var(&reserve, "reserve-bytes", 0, "free disk space the store keeps for Badger; writes that would use it answer 507 (0: the default, 960 MiB; -1: no guard)")
	fs.DurationVar(&scrubT, "scrub-interval", server.DefaultScrubInterval, "how often every stored bundle's objects are re-read and verified in the background (0: never)")
	fs.StringVar(&objects, "objects", "", "keep objects' bytes in S3-compatible storage: s3://BUCKET/PREFIX?endpoint=URL&region=R[&credentials=FILE] (else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); default: in the store under --data")
	fs.StringVar(&redirect, "objects-redirect", "", "with --objects, answer /o/ and /d/ downloads with 302: \"presign\" (presigned URLs) or the bucket's public base URL; default: stream them")
	catalog.register(fs)
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	hooks := webhooks.DefaultConfig()
	fs.BoolVar(&hooks.AllowPrivate, "webhook-allow-private", false, "let webhooks reach loopback, private, link-local, unspecified and multicast addresses (refused by default: SSRF)")
	fs.DurationVar(&hooks.Backoff, "webhook-backoff", hooks.Backoff, "wait after a webhook delivery's first failed attempt; doubled after each further failure")
	fs.DurationVar(&hooks.MaxBackoff, "webhook-max-backoff", hooks.MaxBackoff, "longest wait between two attempts of a webhook delivery")
	fs.IntVar(&hooks.MaxAttempts, "webhook-attempts", hooks.MaxAttempts, "attempts before a webhook delivery is marked failed")
	fs.DurationVar(&hooks.Timeout, "webhook-timeout", hooks.Timeout, "time limit of one webhook delivery attempt")
	mem.register(fs)
	finishConnLimits := connLimitFlags(fs, &cfg.Limits)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs, env.getenv); err != nil {
		return err
	}
	finishConnLimits()
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return usageError(fmt.Sprintf("--log-level %q: %v", logLevel, err))
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	if hooks.Backoff <= 0 || hooks.MaxBackoff < hooks.Backoff || hooks.MaxAttempts < 1 || hooks.Timeout <= 0 {
		return usageError(fmt.Sprintf("--webhook-backoff %s, --webhook-max-backoff %s, --webhook-attempts %d, --webhook-timeout %s: want backoff > 0, max backoff >= backoff, attempts >= 1, timeout > 0",
			hooks.Backoff, hooks.MaxBackoff, hooks.MaxAttempts, hooks.Timeout))
	}
	cfg.Webhooks = hooks
	if err := server.CheckDeviceRates(cfg.Limits); err != nil {
		return usageError(err.Error())
	}
	if err := catalog.validate(); err != nil {
		return err
	}
	if cfg.PatchWait == 0 {
		cfg.PatchWait = -1 // --patch-wait 0: switch at once
	}
	cfg.Limits.Bundle.MaxPathDepth = def.Bundle.MaxPathDepth
	cfg.Limits.Bundle.MaxRatio = def.Bundle.MaxRatio
	cfg.Limits.Bundle.RatioFloor = def.Bundle.RatioFloor

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if gcEvery == 0 {
		gcEvery = -1
	}
	if err := mem.validate(); err != nil {
		return err
	}
	mem.apply(env.getenv, log)
	cfg.Native.PatchMemory = mem.patchMB << 20
	sopts := store.Options{
		Dir: filepath.Join(cfg.DataDir, "db"), Logger: log, Limits: cfg.Limits.Bundle,
		GCGrace: gcGrace, GCInterval: gcEvery, Reserve: reserve,
	}
	mem.storeOptions(&sopts)
	blobs, err := openObjects(ctx, objects, redirect, env.getenv)
	if err != nil {
		return err
	}
	sopts.Blobs = blobs
	catalog.storeOptions(&sopts)
	st, err := store.Open(sopts)
	if err != nil {
		if catalog.dsn != "" {
			return fmt.Errorf("open store with the PostgreSQL catalog (--catalog): %w", err)
		}
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	if st.ExternalObjects() && blobs == nil {
		return fmt.Errorf("the store in %s keeps objects' bytes in S3-compatible storage: start it with the --objects s3://... it ran with", sopts.Dir)
	}
	if st.ReadOnly() {
		log.Error("THE STORE IS READ-ONLY: serving reads only, every write answers an error", "reason", st.ReadOnlyError())
		fmt.Fprintf(env.stderr, "patchwire: WARNING: %v\n", st.ReadOnlyError())
	}
	adminKey, err := server.EnsureAdminKey(ctx, st, cfg.DataDir)
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, st, log)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	printBanner(env, cfg, srv, adminKey)
	scrubCtx, stopScrub := context.WithCancel(context.Background())
	scrubDone := make(chan struct{})
	go func() { srv.RunScrub(scrubCtx, scrubT); close(scrubDone) }()
	defer func() { stopScrub(); <-scrubDone }() // before st.Close
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownT)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownT)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	return <-errc
}

// printBanner tells the user where the server is and what to do next.
func printBanner(env *cliEnv, cfg server.Config, srv *server.Server, adminKey string) {
	url := "https://" + displayAddr(srv.Addr())
	w := env.stdout
	fmt.Fprintf(w, "patchwire is serving\n")
	fmt.Fprintf(w, "  HTTPS (HTTP/1.1, HTTP/2): %s\n", url)
	if !cfg.DisableHTTP3 {
		fmt.Fprintf(w, "  HTTP/3 (QUIC, UDP):       %s\n", url)
	}
	if a := srv.HTTPAddr(); a != "" {
		fmt.Fprintf(w, "  cleartext HTTP:           http://%s\n", displayAddr(a))
	}
	fmt.Fprintf(w, "  web console:              %s/console/ (sign in with an API key)\n", url)
	fmt.Fprintf(w, "  data:                     %s\n", cfg.DataDir)
	fmt.Fprintf(w, "  TLS certificate SHA-256:  %s\n", srv.Fingerprint())
	if adminKey != "" {
		fmt.Fprintf(w, "\nFirst start: created an admin API key (shown once, also saved in %s):\n  %s\n",
			filepath.Join(cfg.DataDir, server.AdminKeyFile), adminKey)
	}
	ca := ""
	if cfg.TLSCert == "" {
		ca = " --ca " + filepath.Join(cfg.DataDir, server.SelfSignedCertFile)
	}
	fmt.Fprintf(w, "\nNext, in another terminal:\n")
	fmt.Fprintf(w, "  bin/patchwire login --server %s --key $(cat %s)%s\n", url, filepath.Join(cfg.DataDir, server.AdminKeyFile), ca)
	fmt.Fprintf(w, "  bin/patchwire app add com.example.app\n")
	fmt.Fprintf(w, "  bin/patchwire bundle upload ./dist --app com.example.app --version 1.0.0\n")
	fmt.Fprintf(w, "\nStop with Ctrl-C.\n")
}

// displayAddr turns ":8443" or "[::]:8443" into "localhost:8443".
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" || strings.HasPrefix(host, "[::") {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// openObjects opens the S3-compatible object storage of --objects and
// --objects-redirect, checking at start that it can be used; nil without
// --objects (objects stay in the store).
func openObjects(ctx context.Context, objects, redirect string, getenv func(string) string) (store.Blobs, error) {
	if objects == "" {
		if redirect != "" {
			return nil, usageError("--objects-redirect needs --objects")
		}
		return nil, nil
	}
	cfg, err := store.ParseS3URL(objects, getenv)
	if err != nil {
		return nil, usageError("--objects: " + err.Error())
	}
	if redirect != "" {
		if err := cfg.SetRedirect(redirect); err != nil {
			return nil, usageError("--objects-redirect: " + err.Error())
		}
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := store.OpenS3(octx, cfg)
	if err != nil {
		return nil, err
	}
	return b, nil
}
