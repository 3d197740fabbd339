package device_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/step"
)

// withBlob returns b plus a random (incompressible) file of n bytes.
func withBlob(t testing.TB, b *bundle, version string, n int, seed uint64) *bundle {
	files := map[string][]byte{}
	for p, d := range b.files {
		files[p] = d
	}
	blob := make([]byte, n)
	r := mrand.New(mrand.NewPCG(seed, seed))
	for i := range blob {
		blob[i] = byte(r.Uint32())
	}
	files["media/blob.bin"] = blob
	return newBundle(t, version, files)
}

// TestLiarWrongStep: steps that do not get the device to the signed
// target (a patch rebuilding other bytes, a corrupt patch stream, an
// unknown codec, missing, other bytes at its URL, starting from another
// bundle, removing too little) are discarded: the device fetches the
// target manifest from /m/{sha256} and the files it lacks whole from
// /o/{sha256} (case 31), and installs the target all the same.
func TestLiarWrongStep(t *testing.T) {
	v1, v2, v3 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1"), fixture(t, "v3", "1.0.2")
	// why is in the device's warning that the step is unusable.
	cases := []struct {
		name, why string
		lie       func(l *liar)
	}{
		{"patch output hash wrong", "it rebuilds manifest", func(l *liar) {
			l.stepHook = func(s *step.Step) {
				s.Patch = encodePatch(l.t, v1, s, func(p string) []byte {
					b := bytes.Clone(v2.files[p])
					if p == "assets/app.js" {
						b[len(b)/2] ^= 1 // same size, other bytes
					}
					return b
				})
			}
		}},
		{"corrupt patch stream", "", func(l *liar) {
			l.stepHook = func(s *step.Step) {
				s.Patch = bytes.Clone(s.Patch)
				s.Patch[len(s.Patch)/2] ^= 0xff
			}
		}},
		{"truncated patch stream", "", func(l *liar) {
			l.stepHook = func(s *step.Step) { s.Patch = s.Patch[:len(s.Patch)/2] }
		}},
		{"unknown codec", "unknown codec", func(l *liar) {
			l.stepBytes = func(b []byte) []byte { return withCodec(l.t, b, "xdelta3") }
		}},
		{"step missing", "404", func(l *liar) {
			l.stepServe = func(b []byte) ([]byte, bool) { return nil, false }
		}},
		{"step bytes substituted", "do not match their digest", func(l *liar) {
			l.stepServe = func(b []byte) ([]byte, bool) { return bytes.Repeat([]byte{'x'}, len(b)), true }
		}},
		{"step from another bundle", "does not start from", func(l *liar) {
			l.stepBytes = func(b []byte) []byte {
				from, s := l.makeStep(v3.m.Digest(), v2)
				b, err := step.Encode(from.m, s)
				if err != nil {
					l.t.Error(err)
				}
				return b
			}
		}},
		{"step does not remove old files", "it rebuilds manifest", func(l *liar) {
			l.stepHook = func(s *step.Step) { s.Removed = nil }
		}},
		{"step copies the wrong file", "it rebuilds manifest", func(l *liar) {
			l.stepHook = func(s *step.Step) {
				for i, w := range s.Writes {
					if w.Kind == step.Copy {
						s.Writes[i].Source = 0 // assets/app.js, not img/logo.png
					}
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, _ := updateThroughFallback(t, v1, v2, v3, c.lie, c.why)
			reqs := l.objectRequests()
			if !contains(reqs, l.stepURL()) && c.name != "step missing" {
				t.Errorf("the step was not tried: %v", reqs)
			}
			if m := "/m/" + v2.m.Digest().String(); !contains(reqs, m) {
				t.Errorf("did not fetch the target manifest %s: %v", m, reqs)
			}
			app, _ := v2.m.Lookup("assets/app.js")
			if want := "/o/" + app.Digest.String(); !contains(reqs, want) {
				t.Errorf("did not fetch assets/app.js whole (%s): %v", want, reqs)
			}
			// Bytes the device has are still reused, not fetched.
			if vendor, _ := v2.m.Lookup("assets/vendor.js"); contains(reqs, "/o/"+vendor.Digest.String()) {
				t.Errorf("fetched the unchanged assets/vendor.js: %v", reqs)
			}
		})
	}
}

// updateThroughFallback runs an update v1 → v2 against a liar that also
// knows v3 and lies with lie: the device must install v2 through the
// fallback (the target manifest and whole files), patching nothing, and
// warn that the step is unusable, naming why.
func updateThroughFallback(t *testing.T, v1, v2, v3 *bundle, lie func(*liar), why string) (*liar, string) {
	t.Helper()
	l := newLiar(t)
	l.add(v1, v3)
	dir := seeded(t, v1)
	l.serve(v2)
	l.lie(lie)
	cfg, logs := withLog(l.config())
	res := mustUpdate(t, dir, cfg, v2)
	if res.Fallbacks == 0 || res.Patched != 0 {
		t.Errorf("no fallback: %+v", res)
	}
	if w := logs.String(); !strings.Contains(w, "step unusable") || !strings.Contains(w, why) {
		t.Errorf("want a warning that the step is unusable (%q):\n%s", why, w)
	}
	return l, dir
}

// TestLiarFallbackLies: when the step is unusable and the target manifest
// at /m/ lies too (other bytes, another bundle's manifest, missing), the
// update fails and the current bundle is untouched; the honest server gets
// through afterwards.
func TestLiarFallbackLies(t *testing.T) {
	v1, v2, v3 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1"), fixture(t, "v3", "1.0.2")
	mPath := "/m/" + v2.m.Digest().String()
	cases := []struct {
		name  string
		serve func(w http.ResponseWriter, r *http.Request)
		want  error
	}{
		{"other bytes", func(w http.ResponseWriter, r *http.Request) {
			w.Write(append(v2.m.Encode(), "0000000000000000000000000000000000000000000000000000000000000000 1 evil.js\n"...))
		}, device.ErrDigest},
		{"another bundle's manifest", func(w http.ResponseWriter, r *http.Request) { w.Write(v3.m.Encode()) }, device.ErrDigest},
		{"missing", http.NotFound, device.ErrBadPlan},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLiar(t)
			l.add(v1, v3)
			dir := seeded(t, v1)
			cfg := l.config()
			l.serve(v2)
			l.lie(func(l *liar) {
				l.stepServe = func(b []byte) ([]byte, bool) { return nil, false }
				l.objectLie = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
					if r.URL.Path != mPath {
						return false
					}
					c.serve(w, r)
					return true
				}
			})
			res, err := update(t, dir, cfg)
			if !errors.Is(err, c.want) || res.Outcome != device.OutcomeFailed {
				t.Fatalf("got %v (%s), want %v", err, res.Outcome, c.want)
			}
			assertRunning(t, dir, v1)
			if got := bundleDirs(t, dir); len(got) != 1 {
				t.Errorf("bundles: %v", got)
			}
			for _, e := range v2.m.Entries() {
				if contains(l.objectRequests(), "/o/"+e.Digest.String()) {
					t.Errorf("fetched %s without a verified target manifest", e.Path)
				}
			}
			l.lie(func(l *liar) { l.stepServe, l.objectLie = nil, nil })
			res = mustUpdate(t, dir, cfg, v2)
			if res.Fallbacks != 0 || res.Patched == 0 {
				t.Errorf("honest update: %+v", res)
			}
		})
	}
}

// logBuffer collects a device's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withLog returns cfg logging its warnings to the buffer returned.
func withLog(cfg device.Config) (device.Config, *logBuffer) {
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg, logs
}

// withCodec returns step bytes b naming codec instead of zstd-dict for
// its patch (step.Encode refuses unknown codecs): the codec's name is
// written as a uvarint length and the name, after the listing.
func withCodec(t testing.TB, b []byte, codec string) []byte {
	old := append(binary.AppendUvarint(nil, uint64(len(delta.NameZstdDict))), delta.NameZstdDict...)
	i := bytes.Index(b, old)
	if i < 0 {
		t.Error("no zstd-dict codec in the step")
		return b
	}
	out := append([]byte(nil), b[:i]...)
	out = binary.AppendUvarint(out, uint64(len(codec)))
	out = append(out, codec...)
	return append(out, b[i+len(old):]...)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestLiarResume: a download cut mid-body keeps its partial file; the next
// Update (a restart) resumes it with Range + If-Range instead of starting
// over.
func TestLiarResume(t *testing.T) {
	v1 := fixture(t, "v1", "1.0.0")
	v2 := withBlob(t, fixture(t, "v2", "1.0.1"), "1.0.1", 400_000, 1)
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	cfg.Retries = 1
	cfg.NoCompression = true
	l.serve(v2)
	blob := v2.files["media/blob.bin"]
	blobURL := "/o/" + manifest.Sum(blob).String()
	cut := func(n int) func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		return func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			if r.URL.Path != blobURL {
				return false
			}
			return cutAfter(n)(w, r, body)
		}
	}
	var total int64
	for i, n := range []int{150_000, 100_000} {
		l.lie(func(l *liar) { l.objectLie = cut(n) })
		res, err := update(t, dir, cfg)
		if err == nil {
			t.Fatalf("try %d: cut update succeeded", i)
		}
		total += res.DownloadedBytes
		assertRunning(t, dir, v1)
		part := filepath.Join(dir, "tmp", manifest.Sum(blob).String()+".part")
		if fi, err := os.Stat(part); err != nil || fi.Size() == 0 {
			t.Fatalf("try %d: no partial kept: %v", i, err)
		}
	}
	l.lie(func(l *liar) { l.objectLie = nil })
	res := mustUpdate(t, dir, cfg, v2)
	total += res.DownloadedBytes
	if res.ResumedBytes < 250_000 {
		t.Errorf("resumed %d bytes, want the 250000 received before", res.ResumedBytes)
	}
	l.mu.Lock()
	ranges := strings.Join(l.ranges, " ")
	l.mu.Unlock()
	if !strings.Contains(ranges, "bytes=150000-") || !strings.Contains(ranges, "bytes=250000-") {
		t.Errorf("ranges asked: %s", ranges)
	}
	if limit := int64(float64(len(blob))*1.1) + 3*64<<10; total > limit {
		t.Errorf("downloaded %d bytes in all for a %d-byte object (limit %d)", total, len(blob), limit)
	}
}

// TestLiarStall: a server that sends headers and a few bytes and then
// nothing is given up on after IdleTimeout (case 32); the partial is kept.
func TestLiarStall(t *testing.T) {
	v1 := fixture(t, "v1", "1.0.0")
	v2 := withBlob(t, fixture(t, "v2", "1.0.1"), "1.0.1", 100_000, 2)
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	cfg.IdleTimeout = 300 * time.Millisecond
	cfg.Retries = 2
	cfg.NoCompression = true
	l.serve(v2)
	release := make(chan struct{})
	defer close(release)
	blobURL := "/o/" + manifest.Sum(v2.files["media/blob.bin"]).String()
	l.lie(func(l *liar) {
		l.objectLie = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			if r.URL.Path != blobURL {
				return false
			}
			w.Write(body[:1000])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
	})
	start := time.Now()
	_, err := update(t, dir, cfg)
	if err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("stalled download: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
	assertRunning(t, dir, v1)
}

// TestLiarRollback: a bundle not marked ready before the next start is
// rolled back, reported as update_fail to /stats in the plugin's format,
// and never installed again.
func TestLiarRollback(t *testing.T) {
	v1, v2, v3 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1"), fixture(t, "v3", "1.0.2")
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	l.serve(v2)
	res, err := update(t, dir, cfg)
	if err != nil || res.Outcome != device.OutcomeUpdated {
		t.Fatal(res, err)
	}
	if s := status(t, dir); !s.Pending || s.Previous == nil || s.Previous.Version != "builtin" {
		t.Fatalf("after switch: %+v", s)
	}
	// The app starts again without having called ready.
	sr, err := device.Start(context.Background(), dir, device.Config{TLS: l.tlsConfig(), Transport: device.TransportTCP})
	if err != nil {
		t.Fatal(err)
	}
	if sr.RolledBack == nil || sr.RolledBack.Version != "1.0.1" || sr.Current.Version != "builtin" {
		t.Fatalf("start: %+v", sr)
	}
	assertRunning(t, dir, v1)
	if got := bundleDirs(t, dir); strings.Join(got, ",") != "builtin" {
		t.Errorf("bundles: %v", got)
	}
	var events []device.StatEvent
	l.mu.Lock()
	for _, b := range l.stats {
		var batch []device.StatEvent
		if err := json.Unmarshal(b, &batch); err != nil {
			t.Fatalf("stats body %s: %v", b, err)
		}
		events = append(events, batch...)
	}
	l.mu.Unlock()
	var fail *device.StatEvent
	for i, e := range events {
		if e.Action == "update_fail" {
			fail = &events[i]
		}
	}
	if fail == nil || fail.VersionName != "1.0.1" || fail.OldVersionName != "builtin" || fail.AppID != testApp ||
		fail.DeviceID != status(t, dir).DeviceID || fail.Platform != "android" || fail.Timestamp == 0 {
		t.Fatalf("update_fail event: %+v (all: %+v)", fail, events)
	}
	if s := status(t, dir); s.QueuedStats != 0 {
		t.Errorf("%d stats still queued", s.QueuedStats)
	}
	// The same bundle again: refused.
	if _, err := update(t, dir, cfg); !errors.Is(err, device.ErrPreviouslyFailed) {
		t.Fatalf("reinstalling a failed bundle: %v", err)
	}
	assertRunning(t, dir, v1)
	// A new one: fine; and Update itself is a start that rolls back.
	l.serve(v3)
	if res, err := update(t, dir, cfg); err != nil || res.Outcome != device.OutcomeUpdated {
		t.Fatal(res, err)
	}
	l.serve(v1)
	res, err = update(t, dir, cfg)
	if err != nil || res.RolledBack == nil || res.RolledBack.Version != "1.0.2" {
		t.Fatalf("update after a never-ready switch: %+v, %v", res, err)
	}
	assertRunning(t, dir, v1)
}

// TestLiarStatsBestEffort: a stats endpoint that is down neither blocks
// nor fails anything; events stay queued and go out later.
func TestLiarStatsBestEffort(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	cfg.StatsURL = "https://127.0.0.1:1/stats" // nothing listens
	l.serve(v2)
	if _, err := update(t, dir, cfg); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sr, err := device.Start(context.Background(), dir, cfg)
	if err != nil || sr.RolledBack == nil {
		t.Fatal(sr, err)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("start took %v with stats down", time.Since(start))
	}
	if s := status(t, dir); s.QueuedStats < 2 {
		t.Errorf("queued %d events, want set and update_fail", s.QueuedStats)
	}
	cfg.StatsURL = ""
	if _, err := device.Start(context.Background(), dir, cfg); err != nil {
		t.Fatal(err)
	}
	if s := status(t, dir); s.QueuedStats != 0 {
		t.Errorf("still %d queued", s.QueuedStats)
	}
}

// TestLiarFastForward: an attacker with a trusted key signs an absurd
// sequence; the device then refuses honest answers (rollback) until a new
// build ships another key, which resets the floors (case 28).
func TestLiarFastForward(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	l.lie(func(l *liar) { l.mutate = func(a *api.CheckAnswer) { a.Sequence = math.MaxInt64 } })
	if res, err := update(t, dir, cfg); err != nil || res.Outcome != device.OutcomeNoUpdate {
		t.Fatal(res, err)
	}
	l.lie(func(l *liar) { l.mutate = nil })
	l.serve(v2)
	if _, err := update(t, dir, cfg); !errors.Is(err, device.ErrRollback) {
		t.Fatalf("after fast-forward: %v", err)
	}
	// Key rotation: the app ships a new key; the server signs with it.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	l.lie(func(l *liar) { l.priv, l.pub = priv, pub })
	cfg.PublicKeys = []ed25519.PublicKey{pub}
	mustUpdate(t, dir, cfg, v2)
}

// TestLiarBuiltinAndUnknown: an update back to the built-in bundle
// switches to it without downloading; a device whose bundle the server
// does not know gets a step from the empty manifest (every file an object)
// and still reuses its own bytes instead of fetching them.
func TestLiarBuiltinAndUnknown(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	l := newLiar(t) // knows nothing of v1
	dir := seeded(t, v1)
	cfg := l.config()
	l.serve(v2)
	res := mustUpdate(t, dir, cfg, v2)
	if res.Reused == 0 || res.Fetched >= v2.m.Len() {
		t.Errorf("step from nothing: reused %d, fetched %d", res.Reused, res.Fetched)
	}
	if reqs := l.objectRequests(); contains(reqs, "/m/"+v2.m.Digest().String()) || res.Fallbacks != 0 || res.Patched != 0 {
		t.Errorf("step from nothing: fell back (%d) or patched (%d): %v", res.Fallbacks, res.Patched, reqs)
	}
	l.lie(func(l *liar) { l.builtin = true; l.sequence++ })
	res, err := update(t, dir, cfg)
	if err != nil || res.Outcome != device.OutcomeUpdated || res.To.Version != "builtin" {
		t.Fatal(res, err)
	}
	assertRunning(t, dir, v1)
	if s := status(t, dir); s.Pending {
		t.Error("back to builtin is pending")
	}
	if res, err := update(t, dir, cfg); err != nil || res.Outcome != device.OutcomeNoUpdate {
		t.Fatal(res, err)
	}
}

// TestLiarZstd: objects sent zstd-compressed are decoded under their size
// bound and verified; a cut compressed download resumes too.
func TestLiarZstd(t *testing.T) {
	v1 := fixture(t, "v1", "1.0.0")
	files := map[string][]byte{"index.html": []byte("<html>new</html>"), "big.txt": bytes.Repeat([]byte("compressible text "), 50_000)}
	v2 := newBundle(t, "2.0.0", files)
	l := newLiar(t)
	l.add(v1)
	dir := seeded(t, v1)
	cfg := l.config()
	cfg.Retries = 1
	l.serve(v2)
	enc, _ := zstd.NewWriter(nil)
	z := enc.EncodeAll(files["big.txt"], nil)
	zstdLie := func(cutAt int) func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		return func(w http.ResponseWriter, r *http.Request, body []byte) bool {
			if !bytes.Equal(body, files["big.txt"]) || r.Header.Get("Accept-Encoding") != "zstd" {
				return false
			}
			w.Header().Set("Content-Encoding", "zstd")
			w.Header().Set("ETag", `"`+manifest.Sum(body).String()+`.zst"`)
			if cutAt > 0 {
				w.Header().Set("Content-Length", fmt.Sprint(len(z)))
				w.Write(z[:cutAt])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(z))
			return true
		}
	}
	l.lie(func(l *liar) { l.objectLie = zstdLie(len(z) / 2) })
	if _, err := update(t, dir, cfg); err == nil {
		t.Fatal("cut update succeeded")
	}
	l.lie(func(l *liar) { l.objectLie = zstdLie(0) })
	res := mustUpdate(t, dir, cfg, v2)
	if res.ResumedBytes != int64(len(z)/2) {
		t.Errorf("resumed %d, want %d", res.ResumedBytes, len(z)/2)
	}
	if res.DownloadedBytes > int64(len(z))+8<<10 {
		t.Errorf("downloaded %d bytes; the compressed object is %d, raw %d", res.DownloadedBytes, len(z), len(files["big.txt"]))
	}
}
