package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/patcher"
	"github.com/patchwire/patchwire/store"
)

// benchApp and benchChannel are the app and public channel every
// in-process server gets.
const (
	benchApp     = "com.patchwire.bench"
	benchChannel = "production"
)

// Server is a patchwire server started in this process on 127.0.0.1 the
// way `patchwire serve` starts it (a real Badger store in Dir, HTTPS on
// TCP and HTTP/3 on UDP), with the bench app and a public channel.
type Server struct {
	Dir    string
	Store  *store.Store
	Server *server.Server
	URL    string // https://127.0.0.1:PORT
	Admin  *client.Client
	Pub    ed25519.PublicKey
	TLS    *tls.Config
	CAFile string

	done chan error
}

// StartServer starts a server with its data in dir (created).
func StartServer(ctx context.Context, dir string, http3 bool) (*Server, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(store.Options{Dir: filepath.Join(dir, "db"), GCInterval: -1, Logger: log})
	if err != nil {
		return nil, err
	}
	key, err := server.EnsureAdminKey(ctx, st, dir)
	if err == nil && key == "" {
		var b []byte
		b, err = os.ReadFile(filepath.Join(dir, server.AdminKeyFile))
		key = strings.TrimSpace(string(b))
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	cfg := server.Config{Addr: "127.0.0.1:0", DataDir: dir, DisableHTTP3: !http3}
	// Every core makes patches: the benchmark waits for them.
	cfg.Native.PatchWorkers = runtime.NumCPU()
	srv, err := server.New(cfg, st, log)
	if err == nil {
		err = srv.Listen()
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{Dir: dir, Store: st, Server: srv, URL: "https://" + srv.Addr(), CAFile: filepath.Join(dir, server.SelfSignedCertFile), done: make(chan error, 1)}
	go func() { s.done <- srv.Serve() }()
	for deadline := time.Now().Add(5 * time.Second); http3 && !srv.HTTP3Enabled() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if s.TLS, err = client.TLSConfig(s.CAFile, false); err != nil {
		s.Close()
		return nil, err
	}
	s.Pub = srv.SigningPublicKey()
	if s.Admin, err = client.New(client.Config{Server: s.URL, Key: key, CAFile: s.CAFile, Timeout: 10 * time.Minute}); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := s.Admin.CreateApp(ctx, benchApp); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server and closes the store.
func (s *Server) Close() error {
	if s.Admin != nil {
		s.Admin.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Server.Shutdown(ctx)
	err := <-s.done
	if cerr := s.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

// memSource is a Version as a manifest.Source.
type memSource struct{ v *Version }

func (m memSource) Manifest() *manifest.Manifest { return m.v.Manifest }
func (m memSource) Open(p string) (io.ReadCloser, error) {
	b, ok := m.v.Files[p]
	if !ok {
		return nil, fmt.Errorf("bench: no file %s", p)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
func (m memSource) Close() error { return nil }

// Publish uploads v as version with the client (only missing objects are
// sent) and points the public channel at it, as CI and an operator do.
func (s *Server) Publish(ctx context.Context, v *Version, version string) error {
	return publish(ctx, s.Admin, benchApp, v, version)
}

// SetChannel points the public channel at version, creating it once.
func (s *Server) SetChannel(ctx context.Context, version string) error {
	return setChannel(ctx, s.Admin, benchApp, version)
}

// publish uploads v as app's version and points the public channel at it.
func publish(ctx context.Context, admin *client.Client, app string, v *Version, version string) error {
	if _, err := admin.Upload(ctx, memSource{v}, client.UploadOptions{App: app, Version: version}); err != nil {
		return fmt.Errorf("bench: upload %s: %w", v.Name, err)
	}
	return setChannel(ctx, admin, app, version)
}

// setChannel points app's public channel at version, creating it once;
// it returns when devices are served version (its patches made).
func setChannel(ctx context.Context, admin *client.Client, app, version string) error {
	if _, err := admin.GetChannel(ctx, app, benchChannel); err == nil {
		_, err := admin.SetChannelBundle(ctx, app, benchChannel, version)
		return err
	}
	t, none := true, "none"
	_, err := admin.CreateChannel(ctx, app, api.CreateChannelRequest{Name: benchChannel, ChannelSettings: api.ChannelSettings{
		Public: &t, IOS: &t, Android: &t, Electron: &t, AllowEmulator: &t, AllowDevice: &t, AllowDev: &t, AllowProd: &t,
		Policy: &none, AllowUnderNative: &t, Bundle: &version,
	}})
	return err
}

// Check makes one native check (POST /v1/check) as a device running from
// would, and returns the verified answer. A check schedules the patches
// its plan lacks.
func (s *Server) Check(ctx context.Context, hc *http.Client, deviceID string, from *manifest.Manifest) (*api.CheckAnswer, error) {
	var codecs []string
	for _, c := range delta.All() {
		codecs = append(codecs, c.Name())
	}
	req := api.CheckRequest{App: benchApp, DeviceID: deviceID, Platform: "android", NativeVersion: "1.0.0",
		Current: api.CurrentBundle{Version: device.BuiltinVersion, Manifest: from.Digest()}, Codecs: codecs}
	body, _ := json.Marshal(req)
	b, err := post(ctx, hc, s.URL+api.PathCheck, body)
	if err != nil {
		return nil, fmt.Errorf("bench: check: %w: %s", err, b)
	}
	return device.VerifyCheck(b, []ed25519.PublicKey{s.Pub}, req.Subject())
}

// WaitPatches waits until the store holds a mapping (a patch, or the
// record that it is useless) for every patch the pair wants, or timeout.
// It reports whether they all arrived.
func (s *Server) WaitPatches(ctx context.Context, from, to *manifest.Manifest, timeout time.Duration) (bool, error) {
	keys := patcher.WantedPatches(from, to)
	deadline := time.Now().Add(timeout)
	for {
		got, err := s.Store.LookupPatches(ctx, keys)
		if err != nil {
			return false, err
		}
		if len(got) >= len(keys) {
			return true, nil
		}
		if time.Now().After(deadline) {
			for _, k := range keys {
				if _, ok := got[k]; !ok {
					slog.Warn("bench: patch not made", "codec", k.Codec, "bundle", k.Bundle, "from", k.From.String()[:12], "to", k.To.String()[:12])
				}
			}
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DeviceRun is what the reference device did for one update.
type DeviceRun struct {
	Downloaded int64 // every response body byte, check answer included
	Answer     int64 // the signed check answer's body
	Step       int64 // the step object
	Planned    int64 // what the step said the download would be (step and objects)
	Reused     int
	Patched    int
	Fetched    int
	Fallbacks  int
	Duration   time.Duration
}

// DeviceUpdate seeds a fresh reference device with from (in work), runs
// one update against s and checks that the device now runs exactly to.
func (s *Server) DeviceUpdate(ctx context.Context, work string, from, to *Version) (DeviceRun, error) {
	build := filepath.Join(work, "build")
	state := filepath.Join(work, "state")
	defer os.RemoveAll(build)
	defer os.RemoveAll(state)
	if err := writeDir(build, from); err != nil {
		return DeviceRun{}, err
	}
	if _, err := device.Seed(ctx, state, build, device.SeedOptions{}); err != nil {
		return DeviceRun{}, err
	}
	res, err := device.Update(ctx, state, device.Config{
		Server: s.URL, App: benchApp, PublicKeys: []ed25519.PublicKey{s.Pub}, TLS: s.TLS,
		Transport: device.TransportTCP, NoStats: true,
	})
	if err != nil {
		return DeviceRun{}, fmt.Errorf("bench: device update %s→%s: %w", from.Name, to.Name, err)
	}
	if res.Outcome != device.OutcomeUpdated || res.To == nil || res.To.Manifest != to.Manifest.Digest() {
		return DeviceRun{}, fmt.Errorf("bench: device update %s→%s: outcome %s, to %+v", from.Name, to.Name, res.Outcome, res.To)
	}
	if res.Fallbacks != 0 {
		return DeviceRun{}, fmt.Errorf("bench: device update %s→%s: the step failed, %d files fetched whole", from.Name, to.Name, res.Fallbacks)
	}
	// What the device runs now, re-read from its disk.
	stat, err := device.ReadStatus(state)
	if err != nil {
		return DeviceRun{}, err
	}
	got, err := LoadVersion(ctx, to.Name, stat.Path)
	if err != nil {
		return DeviceRun{}, err
	}
	if got.Manifest.Digest() != to.Manifest.Digest() {
		return DeviceRun{}, fmt.Errorf("bench: device update %s→%s: the device's folder is not %s", from.Name, to.Name, to.Name)
	}
	return DeviceRun{Downloaded: res.DownloadedBytes, Answer: res.AnswerBytes, Step: res.StepBytes, Planned: res.PlannedBytes, Reused: res.Reused, Patched: res.Patched,
		Fetched: res.Fetched, Fallbacks: res.Fallbacks, Duration: res.Duration}, nil
}

// writeDir writes v's files under dir.
func writeDir(dir string, v *Version) error {
	for p, b := range v.Files {
		name := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
