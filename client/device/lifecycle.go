package device

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// SeedOptions adjust Seed.
type SeedOptions struct {
	// Force replaces an existing built-in bundle and makes it current again
	// (as after a native app update); downloaded bundles are dropped.
	Force bool
	// Limits bound the build folder; default manifest.DefaultLimits().
	Limits manifest.Limits
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Seed registers the bundle shipped with the app: the build folder
// buildDir is read with manifest.OpenDir (the same rules as an upload:
// safe paths, regular files only, limits), copied to DIR/bundles/builtin/
// with every file re-hashed, and made current. A seeded directory is
// refused unless opt.Force.
func Seed(ctx context.Context, dir, buildDir string, opt SeedOptions) (Bundle, error) {
	if opt.Limits == (manifest.Limits{}) {
		opt.Limits = manifest.DefaultLimits()
	}
	st, err := openState(dir, opt.Now, false)
	if err != nil {
		return Bundle{}, err
	}
	defer st.close()
	if st.ptr != nil && !opt.Force {
		return Bundle{}, fmt.Errorf("device: %s is already seeded (running %s); reseed with force", dir, st.ptr.Current.Version)
	}
	src, err := manifest.OpenDir(ctx, buildDir, opt.Limits)
	if err != nil {
		return Bundle{}, err
	}
	defer src.Close()
	m := src.Manifest()
	tmp := bundlePath(BuiltinVersion + ".tmp")
	if err := st.root.RemoveAll(tmp); err != nil {
		return Bundle{}, err
	}
	if err := st.root.Mkdir(tmp, 0o755); err != nil {
		return Bundle{}, err
	}
	dirs := map[string]bool{tmp: true}
	for _, e := range m.Entries() {
		if err := ctx.Err(); err != nil {
			return Bundle{}, err
		}
		dst := tmp + "/" + e.Path
		if d := path.Dir(dst); !dirs[d] {
			if err := st.root.MkdirAll(d, 0o755); err != nil {
				return Bundle{}, err
			}
			for ; d != tmp && !dirs[d]; d = path.Dir(d) {
				dirs[d] = true
			}
		}
		r, err := src.Open(e.Path)
		if err != nil {
			return Bundle{}, err
		}
		err = st.copyInto(dst, r, e)
		r.Close()
		if err != nil {
			return Bundle{}, fmt.Errorf("device: seed %s: %w", e.Path, err)
		}
	}
	for d := range dirs {
		if err := st.syncDir(d); err != nil {
			return Bundle{}, err
		}
	}
	final := bundlePath(BuiltinVersion)
	if err := st.root.RemoveAll(final); err != nil {
		return Bundle{}, err
	}
	if err := st.root.Rename(tmp, final); err != nil {
		return Bundle{}, err
	}
	if err := st.syncDir(bundlesDir); err != nil {
		return Bundle{}, err
	}
	if err := st.saveManifest(m); err != nil {
		return Bundle{}, err
	}
	b := Bundle{Version: BuiltinVersion, Manifest: m.Digest(), Dir: BuiltinVersion}
	if err := st.writeJSON(builtinFile, b); err != nil {
		return Bundle{}, err
	}
	ptr := pointer{Current: b, SwitchedAt: st.now()}
	if err := st.writeJSON(pointerFile, ptr); err != nil {
		return Bundle{}, err
	}
	st.ptr = &ptr
	st.gc()
	st.hist.add(Event{At: st.now(), Kind: "seed", To: BuiltinVersion, Detail: fmt.Sprintf("%d files, %d bytes, manifest %s", m.Len(), m.TotalSize(), m.Digest())})
	return b, st.writeJSON(historyFile, st.hist)
}

// Ready marks the current bundle as good: it is no longer rolled back at
// the next start, and the previous bundle is deleted. Calling it when
// nothing is pending does nothing.
func Ready(dir string) (Bundle, error) {
	st, err := openState(dir, nil, false)
	if err != nil {
		return Bundle{}, err
	}
	defer st.close()
	if st.ptr == nil {
		return Bundle{}, ErrNotSeeded
	}
	if !st.ptr.Pending {
		return st.ptr.Current, nil
	}
	ptr := pointer{Current: st.ptr.Current, SwitchedAt: st.ptr.SwitchedAt}
	if err := st.writeJSON(pointerFile, ptr); err != nil {
		return Bundle{}, err
	}
	st.ptr = &ptr
	st.gc()
	st.hist.add(Event{At: st.now(), Kind: "ready", To: ptr.Current.Version})
	return ptr.Current, st.writeJSON(historyFile, st.hist)
}

// StartResult is what Start decided.
type StartResult struct {
	// Current is the bundle to run now, and Path its folder.
	Current Bundle `json:"current"`
	Path    string `json:"path"`
	// Pending is false after a start: nothing is left awaiting ready.
	// RolledBack is the bundle that never reported ready, if any.
	RolledBack *Bundle `json:"rolled_back,omitempty"`
}

// Start is an app launch: a bundle still pending (switched to by Update
// and not marked Ready) never reported ready, so it is rolled back to the
// previous bundle, remembered as failed and reported as "update_fail".
// Leftovers of interrupted installs are removed, and queued stats are sent
// best effort to cfg's stats URL (or the last one Update used). cfg may
// be the zero Config.
func Start(ctx context.Context, dir string, cfg Config) (StartResult, error) {
	cfg = cfg.withDefaults()
	st, err := openState(dir, cfg.Now, false)
	if err != nil {
		return StartResult{}, err
	}
	defer st.close()
	if st.ptr == nil {
		return StartResult{}, ErrNotSeeded
	}
	st.remember(cfg)
	rolled := st.startCheck(cfg)
	if st.id.StatsURL != "" && !cfg.NoStats {
		nc := newNetClient(cfg)
		st.flushStats(ctx, cfg, nc.client)
		nc.close()
	}
	return StartResult{Current: st.ptr.Current, Path: filepath.Join(dir, filepath.FromSlash(bundlePath(st.ptr.Current.Dir))), RolledBack: rolled}, nil
}

// startCheck rolls back a pending bundle and removes leftovers. It
// returns the bundle rolled back, if any. Failures to record are logged:
// the device must keep starting.
func (st *state) startCheck(cfg Config) *Bundle {
	var rolled *Bundle
	if st.ptr.Pending {
		failed := st.ptr.Current
		if st.ptr.Previous == nil {
			st.ptr.Pending = false
		} else {
			prev := *st.ptr.Previous
			now := st.now()
			// Remember the failure first: a crash between the two writes
			// must not let the bundle be installed again.
			st.hist.Failed = append(st.hist.Failed, FailedBundle{Version: failed.Version, Manifest: failed.Manifest, At: now})
			if n := len(st.hist.Failed) - maxFailed; n > 0 {
				st.hist.Failed = st.hist.Failed[n:]
			}
			st.hist.add(Event{At: now, Kind: "rollback", From: failed.Version, To: prev.Version, Detail: "never reported ready"})
			if err := st.writeJSON(historyFile, st.hist); err != nil {
				cfg.Logger.Error("record rollback", "err", err)
			}
			ptr := pointer{Current: prev, SwitchedAt: now}
			if err := st.writeJSON(pointerFile, ptr); err != nil {
				cfg.Logger.Error("roll back", "err", err)
				return nil
			}
			st.ptr = &ptr
			rolled = &failed
			cfg.Logger.Warn("rolled back a bundle that never reported ready", "failed", failed.Version, "now", prev.Version)
			st.queueStat(cfg, "update_fail", failed.Version, prev.Version, map[string]string{"reason": "not ready before next start"})
		}
	}
	st.gc()
	return rolled
}

// remember records the identity fields cfg sets, for later Start calls
// and stats.
func (st *state) remember(cfg Config) {
	id := st.id
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&id.App, cfg.App)
	set(&id.Channel, cfg.Channel)
	if cfg.Server != "" {
		set(&id.Platform, cfg.Platform)
		set(&id.NativeVersion, cfg.NativeVersion)
		id.IsEmulator, id.IsDev = cfg.IsEmulator, cfg.IsDev
	}
	if cfg.NoStats {
		id.StatsURL = ""
	} else {
		set(&id.StatsURL, cfg.StatsURL)
	}
	if id != st.id {
		st.id = id
		if err := st.writeJSON(deviceFile, id); err != nil {
			cfg.Logger.Warn("record device identity", "err", err)
		}
	}
}

// deviceID is the id the device presents.
func (st *state) deviceID(cfg Config) string {
	if cfg.DeviceID != "" {
		return cfg.DeviceID
	}
	return st.id.DeviceID
}

// Status is what `patchwire device status` shows.
type Status struct {
	StateDir string `json:"state_dir"`
	DeviceID string `json:"device_id"`
	// App and Channel are what the last command that named them used.
	App     string `json:"app_id,omitempty"`
	Channel string `json:"channel,omitempty"`
	// Current is the bundle to run, in the folder Path.
	Current Bundle `json:"current"`
	Path    string `json:"path"`
	// Pending: Current has not been marked ready; the next start rolls it
	// back to Previous.
	Pending  bool    `json:"pending"`
	Previous *Bundle `json:"previous,omitempty"`
	Builtin  *Bundle `json:"builtin,omitempty"`
	// Sequences are the highest accepted sequence per (app, channel).
	Sequences []Floor `json:"sequences,omitempty"`
	// LastUpdate is the Result of the last Update (DownloadedBytes:
	// response-body bytes received).
	LastUpdate *Result `json:"last_update,omitempty"`
	// History is the newest 100 events, oldest first.
	History []Event `json:"history"`
	// Failed are bundles rolled back for never reporting ready.
	Failed []FailedBundle `json:"failed,omitempty"`
	// QueuedStats is how many stats events wait for delivery.
	QueuedStats int `json:"queued_stats"`
	// Release is the release keys the device trusts for App; nil when it
	// trusts none (no Config.ReleaseKeys).
	Release *ReleaseTrust `json:"release,omitempty"`
}

// ReadStatus reads a state directory without locking or changing it.
func ReadStatus(dir string) (Status, error) {
	st, err := openState(dir, nil, true)
	if err != nil {
		return Status{}, err
	}
	defer st.close()
	if st.ptr == nil {
		return Status{}, ErrNotSeeded
	}
	s := Status{
		StateDir: dir, DeviceID: st.id.DeviceID, App: st.id.App, Channel: st.id.Channel,
		Current: st.ptr.Current, Pending: st.ptr.Pending, Previous: st.ptr.Previous,
		Path:      filepath.Join(dir, filepath.FromSlash(bundlePath(st.ptr.Current.Dir))),
		Sequences: st.tr.Floors, LastUpdate: st.hist.LastUpdate, History: st.hist.Events, Failed: st.hist.Failed,
		Release: st.tr.releaseTrust(st.id.App),
	}
	if b, err := st.builtin(); err == nil {
		s.Builtin = &b
	}
	var q []StatEvent
	if err := st.readJSON(statsFile, &q); err == nil {
		s.QueuedStats = len(q)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	if s.History == nil {
		s.History = []Event{}
	}
	return s, nil
}
