package device_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
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

// TestLiarWrongPatch: patches that download fine but do not produce the
// target (wrong output, corrupt stream, unknown codec, missing) are
// discarded and the files fetched whole from /o/{sha256} (case 31).
func TestLiarWrongPatch(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	cases := []struct {
		name string
		hook func(l *liar, p *api.Plan)
	}{
		{"output hash wrong", func(l *liar, p *api.Plan) {
			fp := &p.FilePatches[0]
			other, err := delta.ZstdDict.Encode(v1.files[fp.Base], []byte("not the file you want"))
			if err != nil {
				t.Fatal(err)
			}
			l.objects[fp.Patch.URL] = other
			fp.Patch.Digest, fp.Patch.Size = manifest.Sum(other), int64(len(other))
		}},
		{"corrupt patch stream", func(l *liar, p *api.Plan) {
			fp := &p.FilePatches[0]
			bad := append([]byte(nil), l.objects[fp.Patch.URL]...)
			bad[len(bad)/2] ^= 0xff
			l.objects[fp.Patch.URL] = bad
			fp.Patch.Digest = manifest.Sum(bad)
		}},
		{"unknown codec", func(l *liar, p *api.Plan) { p.FilePatches[0].Patch.Codec = "xdelta3" }},
		{"patch missing", func(l *liar, p *api.Plan) { p.FilePatches[0].Patch.URL = "/d/zstd-dict/nothing/here" }},
		{"patch bytes substituted", func(l *liar, p *api.Plan) {
			l.objects[p.FilePatches[0].Patch.URL] = []byte("substituted")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLiar(t)
			l.add(v1)
			dir := seeded(t, v1)
			l.serve(v2)
			l.lie(func(l *liar) { l.planHook = func(p *api.Plan) { c.hook(l, p) } })
			res := mustUpdate(t, dir, l.config(), v2)
			if res.Fallbacks == 0 {
				t.Errorf("no fallback: %+v", res)
			}
			want := "/o/" + v2.m.Entries()[0].Digest.String()
			for _, e := range v2.m.Entries() {
				if e.Path == "assets/app.js" {
					want = "/o/" + e.Digest.String()
				}
			}
			if !contains(l.objectRequests(), want) {
				t.Errorf("did not fetch %s whole: %v", want, l.objectRequests())
			}
		})
	}
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

// TestLiarBuiltinAndUnknown: a plan back to the built-in bundle switches
// to it without downloading; a device whose bundle the server does not
// know gets a plan from the empty manifest and still reuses its own bytes.
func TestLiarBuiltinAndUnknown(t *testing.T) {
	v1, v2 := fixture(t, "v1", "1.0.0"), fixture(t, "v2", "1.0.1")
	l := newLiar(t) // knows nothing of v1
	dir := seeded(t, v1)
	cfg := l.config()
	l.serve(v2)
	res := mustUpdate(t, dir, cfg, v2)
	if res.Reused == 0 || res.Fetched >= v2.m.Len() {
		t.Errorf("plan from nothing: reused %d, fetched %d", res.Reused, res.Fetched)
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
