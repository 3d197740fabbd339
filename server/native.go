package server

import (
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/native"
	"github.com/patchwire/patchwire/server/patcher"
	"github.com/prometheus/client_golang/prometheus"
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
	// PatchMemory bounds the memory, in bytes, of the patch jobs running at
	// once by their estimate (server/patcher/memory.go); a job larger than
	// it runs alone. Default patcher.DefaultMemory, 256 MiB.
	PatchMemory int64
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
	// DefaultPatchMemory is the patch jobs' memory budget.
	DefaultPatchMemory = patcher.DefaultMemory
	// DefaultAnswerTTL is how long a signed check answer is valid.
	DefaultAnswerTTL = native.DefaultAnswerTTL
	// DefaultPatchBases is how many bases patches are made from at publish.
	DefaultPatchBases = patcher.DefaultBases
)

// NativePluginVersion is the plugin version native checks are decided as
// (native.PluginVersion).
const NativePluginVersion = native.PluginVersion

// newNative loads (or makes) the signing key, starts the patcher and makes
// the native protocol's handler (server/native) over them.
func (s *Server) newNative(cfg Config) error {
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
			return err
		}
		s.log.Warn("no data directory: check answers are signed with a key that lasts until the server stops")
	default:
		var created bool
		var err error
		if key, created, err = LoadOrCreateSigningKey(cfg.DataDir); err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		if created {
			s.log.Info("created the signing key for check answers", "file", SigningKeyFile,
				"public_key", checksig.PublicKeyBase64(key.Public().(ed25519.PublicKey)))
		}
	}
	signer, err := checksig.NewSigner(key)
	if err != nil {
		return err
	}
	s.nativeCfg, s.signer = nc, signer
	s.patcher = patcher.New(patcher.Options{
		Store: s.store, Log: s.log, Workers: nc.PatchWorkers, Bases: nc.PatchBases, Memory: nc.PatchMemory,
		ZstdCLI: nc.ZstdCLI, TmpDir: patchTmpDir(cfg.DataDir),
	})
	s.native = native.New(native.Deps{
		Catalog: s.catalog, Patcher: s.patcher, Signer: signer, AnswerTTL: nc.AnswerTTL, Log: s.log,
		Decode:     decodeJSON,
		WriteError: func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, s.log, err) },
		Admit: func(w http.ResponseWriter, r *http.Request, id string) bool {
			return s.devLimits.admitNative(w, r, id) // made with the routes
		},
	})
	return nil
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
	return s.signer.Public()
}

// watchNative adds patchwire_native_answers_total{signature}: native check
// answers by how they were signed (native.Signatures), read from the
// handler's counters when scraped.
func (m *metrics) watchNative(h *native.Handler) {
	for _, c := range []struct {
		label string
		count func(native.Signatures) uint64
	}{
		{"device", func(s native.Signatures) uint64 { return s.Device }},
		{"fleet", func(s native.Signatures) uint64 { return s.Fleet }},
		{"fleet_cached", func(s native.Signatures) uint64 { return s.FleetCached }},
	} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "patchwire_native_answers_total",
			Help:        "Native check answers (POST /v1/check) by signature: device (signed for the device), fleet (signed for every device sending the same request), fleet_cached (a fleet answer of the same second sent again).",
			ConstLabels: prometheus.Labels{"signature": c.label},
		}, func() float64 { return float64(c.count(h.Signatures())) }))
	}
}

func (s *Server) nativeRoutes(mux *http.ServeMux) {
	s.native.Register(mux)
	mux.HandleFunc("GET "+api.PathDelta, s.handleDelta)
	mux.HandleFunc("HEAD "+api.PathDelta, s.handleDelta)
}

// DeltaPath is the path of the patch with codec from one digest to another
// (api.PathDelta).
func DeltaPath(codec string, from, to manifest.Digest) string {
	return strings.NewReplacer("{codec}", url.PathEscape(codec), "{from}", from.String(), "{to}", to.String()).Replace(api.PathDelta)
}
