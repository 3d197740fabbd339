package server

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/server/catalog"
	"github.com/patchwire/patchwire/server/patcher"
	"github.com/patchwire/patchwire/store"
)

// NativeConfig configures the native device protocol (POST /v1/check) and
// the patches behind it. Zero fields take the defaults.
type NativeConfig struct {
	// AnswerTTL is how long a signed check answer is valid (its Expires);
	// default 24h.
	AnswerTTL time.Duration
	// PatchBases is how many of an app's latest bundles, and of a
	// channel's most installed ones, patches are made from at publish time;
	// default 5. Other bases get patches on demand.
	PatchBases int
	// PatchWorkers bounds the background patch encoders; default half the
	// CPUs, 1 to 4.
	PatchWorkers int
	// SigningKey signs check answers; nil loads DataDir/signing.key,
	// creating it on first use (an ephemeral key when DataDir is empty).
	SigningKey ed25519.PrivateKey
	// ZstdCLI is the zstd command line tool that encodes zstd-dict patches
	// of 16 KiB and more (smaller patches than the Go encoder's, see
	// server/patcher/zstd.go): ZstdCLIAuto ("", the default) finds `zstd` on
	// PATH, ZstdCLIOff ("off") always uses the Go encoder, anything else
	// is the tool's path.
	ZstdCLI string
}

// The special values of NativeConfig.ZstdCLI (patcher.Options.ZstdCLI).
const (
	// ZstdCLIAuto uses `zstd` from PATH when there is one.
	ZstdCLIAuto = patcher.ZstdCLIAuto
	// ZstdCLIOff always uses the Go encoder.
	ZstdCLIOff = patcher.ZstdCLIOff
)

// NativeConfig's defaults.
const (
	// DefaultAnswerTTL is how long a signed check answer is valid.
	DefaultAnswerTTL = 24 * time.Hour
	// DefaultPatchBases is how many bases patches are made from at publish.
	DefaultPatchBases = patcher.DefaultBases
)

// NativePluginVersion is the plugin version native checks are decided as:
// a modern Capgo plugin, so every feature gate of the resolver is open and
// the decision and its code are those a current Capgo device would get.
const NativePluginVersion = "8.99.0"

// maxCheckBody bounds a check request's JSON body.
const maxCheckBody = 16 << 10

// native is the native protocol's state: signing key and patcher.
type native struct {
	cfg     NativeConfig
	st      *store.Store
	catalog *catalog.Catalog
	log     *slog.Logger
	signer  *checksig.Signer
	patcher *patcher.Patcher
	now     func() time.Time
}

// newNative loads (or makes) the signing key and starts the patcher.
func newNative(cfg Config, st *store.Store, cat *catalog.Catalog, log *slog.Logger) (*native, error) {
	nc := cfg.Native
	if nc.AnswerTTL <= 0 {
		nc.AnswerTTL = DefaultAnswerTTL
	}
	if nc.PatchBases <= 0 {
		nc.PatchBases = DefaultPatchBases
	}
	key := nc.SigningKey
	switch {
	case key != nil:
	case cfg.DataDir == "":
		var err error
		if _, key, err = ed25519.GenerateKey(nil); err != nil {
			return nil, err
		}
		log.Warn("no data directory: check answers are signed with a key that lasts until the server stops")
	default:
		var created bool
		var err error
		if key, created, err = LoadOrCreateSigningKey(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if created {
			log.Info("created the signing key for check answers", "file", SigningKeyFile,
				"public_key", checksig.PublicKeyBase64(key.Public().(ed25519.PublicKey)))
		}
	}
	signer, err := checksig.NewSigner(key)
	if err != nil {
		return nil, err
	}
	return &native{
		cfg: nc, st: st, catalog: cat, log: log, signer: signer,
		patcher: patcher.New(patcher.Options{
			Store: st, Log: log, Workers: nc.PatchWorkers, Bases: nc.PatchBases,
			ZstdCLI: nc.ZstdCLI, TmpDir: patchTmpDir(cfg.DataDir),
		}),
		now: time.Now,
	}, nil
}

// patchTmpDir is where the zstd tool's inputs go: DATA/tmp, or the
// system's temporary directory without a data directory.
func patchTmpDir(dataDir string) string {
	if dataDir == "" {
		return os.TempDir()
	}
	return filepath.Join(dataDir, "tmp")
}

// SigningPublicKey is the public half of the key check answers are signed
// with.
func (s *Server) SigningPublicKey() ed25519.PublicKey {
	return s.native.signer.Public()
}

func (s *Server) nativeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+api.PathCheck, s.handleCheck)
	mux.HandleFunc("GET "+api.PathDelta, s.handleDelta)
	mux.HandleFunc("HEAD "+api.PathDelta, s.handleDelta)
}

// handleCheck answers POST /v1/check: the same decision as the Capgo
// endpoint (resolver.Decide on the device as Capgo's plugin would report
// it), then for an update the device's plan, all signed.
func (s *Server) handleCheck(w http.ResponseWriter, r *http.Request) {
	var req api.CheckRequest
	if err := decodeJSON(w, r, maxCheckBody, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if err := checkRequestBounds(req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if !s.devLimits.admitNative(w, r, req.DeviceID) {
		return
	}
	ans, err := s.native.answer(r.Context(), req)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	sc, err := s.native.signer.Sign(ans)
	if err == nil {
		var body []byte
		if body, err = sc.MarshalBinary(); err == nil {
			w.Header().Set("Content-Type", api.CheckContentType)
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
			return
		}
	}
	writeError(w, r, s.log, err)
}

// checkRequestBounds refuses oversized fields before any work.
func checkRequestBounds(req api.CheckRequest) error {
	for name, v := range map[string]string{
		"app_id": req.App, "device_id": req.DeviceID, "platform": req.Platform,
		"native_version": req.NativeVersion, "channel": req.Channel, "current.version": req.Current.Version,
	} {
		if len(v) > 256 {
			return badRequest(fmt.Sprintf("%s is %d bytes, at most 256", name, len(v)))
		}
	}
	if len(req.Codecs) > 16 {
		return badRequest(fmt.Sprintf("%d codecs, at most 16", len(req.Codecs)))
	}
	// The Capgo endpoints' device id rule; "" is the decision's missing_info.
	if req.DeviceID != "" && !resolver.ValidDeviceID(req.DeviceID) {
		return errorf(http.StatusBadRequest, api.CodeInvalidDeviceID, "device_id must be a UUID: 36 characters, hex digits and dashes")
	}
	return nil
}

// answer decides and plans one check.
func (n *native) answer(ctx context.Context, req api.CheckRequest) (api.CheckAnswer, error) {
	now := n.now().UTC().Truncate(time.Second)
	ans := api.CheckAnswer{
		Type: api.CheckAnswerType, App: req.App, Channel: req.Channel, Platform: req.Platform,
		DeviceID: req.DeviceID, IssuedAt: now, Expires: now.Add(n.cfg.AnswerTTL),
	}
	deviceID := strings.ToLower(req.DeviceID)
	app, snap, err := n.catalog.ForDevice(ctx, req.App, deviceID)
	if err != nil {
		return ans, err
	}
	dec := resolver.Decide(snap, resolver.Device{
		AppID:          req.App,
		DeviceID:       deviceID,
		Platform:       resolver.Platform(req.Platform),
		VersionBuild:   req.NativeVersion,
		VersionName:    req.Current.Version,
		PluginVersion:  NativePluginVersion,
		IsEmulator:     req.IsEmulator,
		IsProd:         !req.IsDev,
		DefaultChannel: req.Channel,
	})
	channel := ""
	if dec.Update != nil {
		channel = dec.Update.Channel
	} else {
		channel = dec.NoUpdate.Channel
	}
	if channel != "" {
		ans.Channel = channel
		ans.Sequence = app.Sequence(channel)
	}
	if dec.NoUpdate != nil {
		ans.NoUpdate = &api.NoUpdate{Code: string(dec.NoUpdate.Code), Message: dec.NoUpdate.Message}
		return ans, nil
	}
	b := dec.Update.Bundle
	if b.Version == resolver.Builtin {
		ans.Update = &api.Update{Target: api.TargetBundle{Version: resolver.Builtin}}
		return ans, nil
	}
	// The device's bundle is known when the app has it (a registered
	// builtin included, for a device on "builtin" that reports none).
	from, known := snap.RunningManifest(req.Current.Version, req.NativeVersion, req.Current.Manifest)
	ref, ready, err := n.patcher.Step(ctx, from, known, b.Manifest)
	if err != nil {
		return ans, err
	}
	if !ready && known {
		n.patcher.Schedule(from, b.Manifest)
	}
	ans.Update = &api.Update{
		Target: api.TargetBundle{Version: b.Version, Manifest: b.Manifest, Files: b.Files, Size: b.Size},
		Step:   &ref,
	}
	return ans, nil
}

// deviceCodecs keeps the codecs the server knows, in the device's order,
// each once.
func deviceCodecs(names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := delta.Lookup(n); ok && !contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// DeltaPath is the path of the patch with codec from one digest to another
// (api.PathDelta).
func DeltaPath(codec string, from, to manifest.Digest) string {
	return strings.NewReplacer("{codec}", url.PathEscape(codec), "{from}", from.String(), "{to}", to.String()).Replace(api.PathDelta)
}
