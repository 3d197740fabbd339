package device

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchwire/patchwire/manifest"
)

// Names inside the state directory (slash-separated, relative to it).
const (
	lockFile     = "lock"
	deviceFile   = "device.json"
	pointerFile  = "current.json"
	trustFile    = "trust.json"
	historyFile  = "history.json"
	statsFile    = "stats.json"
	manifestsDir = "manifests"
	bundlesDir   = "bundles"
	tmpDir       = "tmp"
	// BuiltinVersion is the version name of the bundle shipped with the
	// app, registered by Seed; it lives in DIR/bundles/builtin/.
	BuiltinVersion = "builtin"
)

// Bounds on what the state files keep.
const (
	maxEvents = 100
	maxFailed = 50
	maxStats  = 200
)

// Bundle is a bundle installed on the device.
type Bundle struct {
	Version  string          `json:"version"`
	Manifest manifest.Digest `json:"manifest"`
	// Dir is the bundle's folder under DIR/bundles: the version, or the
	// version and a digest prefix when a folder of that name is taken.
	Dir string `json:"dir"`
}

// pointer is DIR/current.json.
type pointer struct {
	Current  Bundle  `json:"current"`
	Previous *Bundle `json:"previous,omitempty"`
	// Pending: Current was switched to and has not reported ready; at the
	// next start it is rolled back to Previous.
	Pending    bool      `json:"pending"`
	SwitchedAt time.Time `json:"switched_at"`
}

// identity is DIR/device.json: the device id and what the last command
// that knew them said about the app and server, for Start and stats.
type identity struct {
	DeviceID      string `json:"device_id"`
	App           string `json:"app_id,omitempty"`
	Channel       string `json:"channel,omitempty"`
	Platform      string `json:"platform,omitempty"`
	NativeVersion string `json:"native_version,omitempty"`
	StatsURL      string `json:"stats_url,omitempty"`
	IsEmulator    bool   `json:"is_emulator,omitempty"`
	IsDev         bool   `json:"is_dev,omitempty"`
}

// Floor is the highest sequence a device accepted for one (app, channel).
type Floor struct {
	App      string `json:"app_id"`
	Channel  string `json:"channel"`
	Sequence uint64 `json:"sequence"`
}

// trust is DIR/trust.json.
type trust struct {
	// Keys are the ids of the trusted keys the floors were accepted
	// under. When the configured keys change (a key rotation shipped with
	// a new app build), the floors are reset.
	Keys   []string `json:"keys"`
	Floors []Floor  `json:"floors"`
	// Release is the release key trust (release.go); nil when the app
	// trusts no release keys.
	Release *releaseTrust `json:"release,omitempty"`
}

func (t *trust) floor(app, channel string) uint64 {
	for _, f := range t.Floors {
		if f.App == app && f.Channel == channel {
			return f.Sequence
		}
	}
	return 0
}

// raise sets the floor of (app, channel) to seq if that is higher, and
// reports whether it changed.
func (t *trust) raise(app, channel string, seq uint64) bool {
	for i, f := range t.Floors {
		if f.App == app && f.Channel == channel {
			if seq <= f.Sequence {
				return false
			}
			t.Floors[i].Sequence = seq
			return true
		}
	}
	t.Floors = append(t.Floors, Floor{App: app, Channel: channel, Sequence: seq})
	return true
}

// Event is one line of a device's history.
type Event struct {
	At time.Time `json:"at"`
	// Kind is seed, update, no_update, failed, rollback, ready,
	// keys_changed, release_keys_rotated or rotation_refused.
	Kind   string `json:"kind"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// FailedBundle is a bundle that was rolled back because it never reported
// ready; a device does not install its manifest again.
type FailedBundle struct {
	Version  string          `json:"version"`
	Manifest manifest.Digest `json:"manifest"`
	At       time.Time       `json:"at"`
}

// history is DIR/history.json.
type history struct {
	LastUpdate *Result        `json:"last_update,omitempty"`
	Events     []Event        `json:"events"`
	Failed     []FailedBundle `json:"failed"`
}

func (h *history) add(e Event) {
	h.Events = append(h.Events, e)
	if n := len(h.Events) - maxEvents; n > 0 {
		h.Events = slices.Delete(h.Events, 0, n)
	}
}

func (h *history) failed(d manifest.Digest) bool {
	return slices.ContainsFunc(h.Failed, func(f FailedBundle) bool { return f.Manifest == d })
}

// state is an open, locked state directory.
type state struct {
	dir  string
	root *os.Root
	lock io.Closer
	id   identity
	ptr  *pointer // nil until seeded
	tr   trust
	hist history
	now  func() time.Time
}

// openState creates (if needed) and locks dir and reads its state files.
// A read-only state is neither created, nor locked, nor changed.
func openState(dir string, now func() time.Time, readOnly bool) (*state, error) {
	if dir == "" {
		return nil, errors.New("device: no state directory")
	}
	if now == nil {
		now = time.Now
	}
	if !readOnly {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("device: state directory: %w", err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("device: state directory: %w", err)
	}
	s := &state{dir: dir, root: root, now: now}
	if !readOnly {
		lk, err := lockDir(root)
		if err != nil {
			root.Close()
			return nil, err
		}
		s.lock = lk
	}
	if err := s.load(readOnly); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *state) close() {
	if s.lock != nil {
		s.lock.Close()
	}
	s.root.Close()
}

func (s *state) load(readOnly bool) error {
	if !readOnly {
		for _, d := range []string{manifestsDir, bundlesDir, tmpDir} {
			if err := s.root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("device: %w", err)
			}
		}
	}
	if err := s.readJSON(deviceFile, &s.id); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if s.id.DeviceID == "" && !readOnly {
		s.id.DeviceID = newUUID()
		if err := s.writeJSON(deviceFile, s.id); err != nil {
			return err
		}
	}
	var p pointer
	switch err := s.readJSON(pointerFile, &p); {
	case err == nil:
		if p.Current.Dir == "" || p.Current.Manifest.IsZero() {
			return fmt.Errorf("device: %s names no bundle", pointerFile)
		}
		s.ptr = &p
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := s.readJSON(trustFile, &s.tr); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.readJSON(historyFile, &s.hist); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// readJSON decodes a state file (at most 16 MiB).
func (s *state) readJSON(name string, v any) error {
	f, err := s.root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return fmt.Errorf("device: read %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("device: %s: %w", name, err)
	}
	return nil
}

// writeJSON replaces a state file atomically and durably.
func (s *state) writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return s.writeFile(name, append(b, '\n'))
}

// writeFile writes name atomically: a temporary file beside it, fsync,
// rename, fsync of the folder.
func (s *state) writeFile(name string, b []byte) error {
	tmp := name + ".new-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("device: write %s: %w", name, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.root.Rename(tmp, name)
	}
	if err != nil {
		s.root.Remove(tmp)
		return fmt.Errorf("device: write %s: %w", name, err)
	}
	return s.syncDir(path.Dir(name))
}

// syncDir fsyncs a folder so that renames in it are durable.
func (s *state) syncDir(name string) error {
	d, err := s.root.Open(name)
	if err != nil {
		return fmt.Errorf("device: sync %s: %w", name, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("device: sync %s: %w", name, err)
	}
	return nil
}

// saveManifest stores m's canonical encoding under DIR/manifests.
func (s *state) saveManifest(m *manifest.Manifest) error {
	name := path.Join(manifestsDir, m.Digest().String())
	if _, err := s.root.Stat(name); err == nil {
		return nil
	}
	return s.writeFile(name, m.Encode())
}

// loadManifest reads and verifies a stored manifest.
func (s *state) loadManifest(d manifest.Digest, lim manifest.Limits) (*manifest.Manifest, error) {
	b, err := s.root.ReadFile(path.Join(manifestsDir, d.String()))
	if err != nil {
		return nil, fmt.Errorf("device: manifest %s: %w", d, err)
	}
	if manifest.Sum(b) != d {
		return nil, fmt.Errorf("device: manifest %s: %w", d, ErrDigest)
	}
	m, err := manifest.Decode(b, lim)
	if err != nil {
		return nil, fmt.Errorf("device: manifest %s: %w", d, err)
	}
	return m, nil
}

// bundlePath is the slash path of a bundle folder relative to DIR.
func bundlePath(dir string) string { return path.Join(bundlesDir, dir) }

// gc removes bundle folders nobody points at (and *.tmp leftovers), and
// manifests of bundles no longer installed.
func (s *state) gc() {
	if s.ptr == nil {
		return
	}
	keep := map[string]bool{BuiltinVersion: true, s.ptr.Current.Dir: true}
	keepM := map[string]bool{s.ptr.Current.Manifest.String(): true}
	if s.ptr.Previous != nil {
		keep[s.ptr.Previous.Dir] = true
		keepM[s.ptr.Previous.Manifest.String()] = true
	}
	if b, err := s.builtin(); err == nil {
		keepM[b.Manifest.String()] = true
	}
	if ents, err := fs.ReadDir(s.root.FS(), bundlesDir); err == nil {
		for _, e := range ents {
			if !keep[e.Name()] {
				s.root.RemoveAll(path.Join(bundlesDir, e.Name()))
			}
		}
	}
	if ents, err := fs.ReadDir(s.root.FS(), manifestsDir); err == nil {
		for _, e := range ents {
			if !keepM[e.Name()] {
				s.root.Remove(path.Join(manifestsDir, e.Name()))
			}
		}
	}
}

// builtinFile records the built-in bundle's manifest digest.
const builtinFile = "builtin.json"

// builtin returns the registered built-in bundle.
func (s *state) builtin() (Bundle, error) {
	var b Bundle
	err := s.readJSON(builtinFile, &b)
	return b, err
}

// clearTmp removes everything under DIR/tmp.
func (s *state) clearTmp() {
	if ents, err := fs.ReadDir(s.root.FS(), tmpDir); err == nil {
		for _, e := range ents {
			s.root.RemoveAll(path.Join(tmpDir, e.Name()))
		}
	}
}

// versionName is what a version must look like to name a folder: semver
// characters only, starting with a letter or digit.
var versionName = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,127}$`)

// bundleDirFor picks the folder name for a new bundle: the version,
// unless a kept bundle already uses that name.
func (s *state) bundleDirFor(version string, d manifest.Digest) (string, error) {
	if !versionName.MatchString(version) || version == BuiltinVersion || strings.HasSuffix(version, ".tmp") {
		return "", fmt.Errorf("%w: target version %q cannot name a folder", ErrBadPlan, version)
	}
	taken := func(n string) bool {
		if n == BuiltinVersion || n == s.ptr.Current.Dir {
			return true
		}
		return s.ptr.Previous != nil && n == s.ptr.Previous.Dir
	}
	if !taken(version) {
		return version, nil
	}
	return version + "_" + d.String()[:12], nil
}

// newUUID returns a random lowercase UUID v4, as Capgo device ids are.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
