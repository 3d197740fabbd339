package device_test

// A lying repository simulator in the style of go-tuf's
// internal/testutils/simulator: an HTTPS server that speaks the native
// protocol with hand-made signed answers and objects, and that a test can
// make lie (corrupt, truncate, cut, stall, replay, expire, sign with another
// key, ...).

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
)

const (
	testApp     = "com.example.app"
	testChannel = "production"
)

// bundle is a fixture held in memory: its manifest and files.
type bundle struct {
	version string
	m       *manifest.Manifest
	files   map[string][]byte
}

// loadBundle reads a folder into memory.
func loadBundle(t testing.TB, version, dir string) *bundle {
	t.Helper()
	src, err := manifest.OpenDir(context.Background(), dir, manifest.DefaultLimits())
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	defer src.Close()
	b := &bundle{version: version, m: src.Manifest(), files: map[string][]byte{}}
	for _, e := range b.m.Entries() {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
		if err != nil {
			t.Fatal(err)
		}
		b.files[e.Path] = data
	}
	return b
}

// newBundle makes a bundle from files.
func newBundle(t testing.TB, version string, files map[string][]byte) *bundle {
	t.Helper()
	var es []manifest.Entry
	for p, data := range files {
		es = append(es, manifest.Entry{Path: p, Digest: manifest.Sum(data), Size: int64(len(data))})
	}
	m, err := manifest.New(es, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{version: version, m: m, files: files}
}

// writeDir writes a bundle to a folder.
func (b *bundle) writeDir(t testing.TB, dir string) string {
	t.Helper()
	for p, data := range b.files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// liar is the lying server.
type liar struct {
	t    testing.TB
	srv  *httptest.Server
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey

	mu       sync.Mutex
	bundles  map[manifest.Digest]*bundle
	target   *bundle // what the channel serves; nil: no update
	builtin  bool    // send devices back to the built-in bundle
	sequence uint64
	ttl      time.Duration
	objects  map[string][]byte // URL path -> bytes (/o/..., /d/...)
	// Lies. Each is consulted under mu and may be nil.
	mutate     func(a *api.CheckAnswer)  // edit the answer before signing
	resign     func(sc *api.SignedCheck) // edit the signed envelope
	rawAnswer  func() []byte             // replace the whole answer body
	planHook   func(p *api.Plan)         // edit the plan (before mutate)
	objectLie  func(w http.ResponseWriter, r *http.Request, body []byte) bool
	checkLie   func(w http.ResponseWriter, r *http.Request) bool
	lastSigned []byte // the last answer body sent
	requests   []string
	ranges     []string
	stats      [][]byte
	checks     int
}

func newLiar(t testing.TB) *liar {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	l := &liar{t: t, priv: priv, pub: pub, bundles: map[manifest.Digest]*bundle{}, objects: map[string][]byte{}, sequence: 1, ttl: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathCheck, l.handleCheck)
	mux.HandleFunc("GET /o/{sha256}", l.handleObject)
	mux.HandleFunc("GET /d/{codec}/{from}/{to}", l.handleObject)
	mux.HandleFunc("POST /stats", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		l.mu.Lock()
		l.stats = append(l.stats, b)
		l.mu.Unlock()
		w.Write([]byte(`{"status":"ok"}`))
	})
	l.srv = httptest.NewUnstartedServer(mux)
	l.srv.EnableHTTP2 = true
	l.srv.StartTLS()
	t.Cleanup(l.srv.Close)
	return l
}

// add registers bundles the liar knows (and serves their objects).
func (l *liar) add(bs ...*bundle) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range bs {
		l.bundles[b.m.Digest()] = b
		for _, data := range b.files {
			l.objects["/o/"+manifest.Sum(data).String()] = data
		}
	}
}

// serve makes the channel serve b with a new sequence.
func (l *liar) serve(b *bundle) {
	l.add(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.target, l.builtin = b, false
	l.sequence++
}

// lie runs f under the lock (to set or clear lies).
func (l *liar) lie(f func(l *liar)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l)
}

func (l *liar) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(l.srv.Certificate())
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// config is a device configuration pointing at the liar.
func (l *liar) config() device.Config {
	return device.Config{
		Server: l.srv.URL, App: testApp, Channel: testChannel, Platform: "android",
		PublicKeys: []ed25519.PublicKey{l.pub}, TLS: l.tlsConfig(), Transport: device.TransportTCP,
		RetryDelay: 10 * time.Millisecond, IdleTimeout: 5 * time.Second,
	}
}

func (l *liar) handleCheck(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	if l.checkLie != nil && l.checkLie(w, r) {
		return
	}
	var req api.CheckRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	now := time.Now()
	ans := api.CheckAnswer{
		Type: api.CheckAnswerType, App: req.App, Channel: testChannel, Platform: req.Platform,
		DeviceID: req.DeviceID, Sequence: l.sequence, IssuedAt: now, Expires: now.Add(l.ttl),
	}
	switch {
	case l.builtin:
		ans.Plan = &api.Plan{From: req.Current.Manifest, Target: api.TargetBundle{Version: "builtin"}}
	case l.target == nil || l.target.m.Digest() == req.Current.Manifest:
		ans.NoUpdate = &api.NoUpdate{Code: "no_new_version_available", Message: "up to date"}
	default:
		ans.Plan = l.plan(req.Current.Manifest, l.target)
		if l.planHook != nil {
			l.planHook(ans.Plan)
		}
	}
	if l.mutate != nil {
		l.mutate(&ans)
	}
	var body []byte
	if l.rawAnswer != nil {
		body = l.rawAnswer()
	} else {
		sc := sign(l.t, l.priv, ans)
		if l.resign != nil {
			l.resign(&sc)
		}
		body, _ = json.Marshal(sc)
	}
	l.lastSigned = body
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// sign signs an answer the way the server does.
func sign(t testing.TB, priv ed25519.PrivateKey, a api.CheckAnswer) api.SignedCheck {
	payload, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return api.SignedCheck{
		Payload:   payload,
		Signature: ed25519.Sign(priv, append([]byte(api.SignatureContext), payload...)),
		KeyID:     device.KeyID(priv.Public().(ed25519.PublicKey)),
	}
}

// plan is a simple planner: same-path changes become file patches,
// renamed text files one bundle patch against the removed ones, bytes the
// device has become copies, the rest fetches. Unknown starting bundles get
// a plan from the empty manifest.
func (l *liar) plan(fromDigest manifest.Digest, to *bundle) *api.Plan {
	p := &api.Plan{From: fromDigest, Target: api.TargetBundle{Version: to.version, Manifest: to.m.Digest(), Files: to.m.Len(), Size: to.m.TotalSize()}}
	from, ok := l.bundles[fromDigest]
	if !ok {
		p.From, _ = manifest.ParseDigest(api.EmptyManifest)
		for _, e := range to.m.Entries() {
			p.Fetches = append(p.Fetches, api.Fetch{Entry: e, URL: "/o/" + e.Digest.String()})
			p.DownloadBytes += e.Size
		}
		return p
	}
	d := manifest.Compare(from.m, to.m)
	have := map[manifest.Digest]string{}
	for _, e := range from.m.Entries() {
		have[e.Digest] = e.Path
	}
	for _, e := range d.Removed {
		p.Removed = append(p.Removed, e.Path)
	}
	var renamed []manifest.Entry
	for _, c := range d.Changed {
		e := c.New
		if src, ok := have[e.Digest]; ok {
			p.Copies = append(p.Copies, api.Copy{Entry: e, Source: src})
			continue
		}
		po := l.patch(delta.ZstdDict, [][]byte{from.files[c.Old.Path]}, [][]byte{to.files[e.Path]}, c.Old.Digest, e.Digest)
		p.FilePatches = append(p.FilePatches, api.FilePatch{Entry: e, Base: c.Old.Path, Patch: po})
		p.DownloadBytes += po.Size
	}
	for _, e := range d.Added {
		if src, ok := have[e.Digest]; ok {
			p.Copies = append(p.Copies, api.Copy{Entry: e, Source: src})
			continue
		}
		if ext := path.Ext(e.Path); (ext == ".js" || ext == ".css") && len(d.Removed) > 0 {
			renamed = append(renamed, e)
			continue
		}
		p.Fetches = append(p.Fetches, api.Fetch{Entry: e, URL: "/o/" + e.Digest.String()})
		p.DownloadBytes += e.Size
	}
	if len(renamed) > 0 {
		var bases []string
		var dict, outs [][]byte
		for _, e := range d.Removed {
			if ext := path.Ext(e.Path); ext == ".js" || ext == ".css" {
				bases = append(bases, e.Path)
			}
		}
		layout, err := manifest.DictionaryOrder(from.m, bases)
		if err != nil {
			panic(err)
		}
		for _, e := range layout {
			dict = append(dict, from.files[e.Path])
		}
		for _, e := range renamed {
			outs = append(outs, to.files[e.Path])
		}
		if len(bases) == 0 {
			for _, e := range renamed {
				p.Fetches = append(p.Fetches, api.Fetch{Entry: e, URL: "/o/" + e.Digest.String()})
				p.DownloadBytes += e.Size
			}
		} else {
			po := l.patch(delta.ZstdDict, dict, outs, fromDigest, to.m.Digest())
			p.BundlePatch = &api.BundlePatch{Bases: bases, Entries: renamed, Patch: po}
			p.DownloadBytes += po.Size
		}
	}
	sort.Slice(p.Removed, func(i, j int) bool { return p.Removed[i] < p.Removed[j] })
	return p
}

// patchCache keeps encoded patches across tests (encoding dominates).
var patchCache sync.Map // url -> []byte

// patch encodes and stores a patch, returning its description.
func (l *liar) patch(c delta.Codec, dict, outs [][]byte, from, to manifest.Digest) api.PatchObject {
	url := fmt.Sprintf("/d/%s/%s/%s", c.Name(), from, to)
	var b []byte
	if v, ok := patchCache.Load(url); ok {
		b = v.([]byte)
	} else {
		var err error
		if b, err = delta.EncodeBundle(c, dict, outs); err != nil {
			l.t.Fatal(err)
		}
		patchCache.Store(url, b)
	}
	l.objects[url] = b
	return api.PatchObject{Codec: c.Name(), URL: url, Digest: manifest.Sum(b), Size: int64(len(b))}
}

func (l *liar) handleObject(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	body, ok := l.objects[r.URL.Path]
	lie := l.objectLie
	l.requests = append(l.requests, r.URL.Path)
	if rg := r.Header.Get("Range"); rg != "" {
		l.ranges = append(l.ranges, rg)
	}
	l.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if lie != nil && lie(w, r, body) {
		return
	}
	w.Header().Set("ETag", `"`+manifest.Sum(body).String()+`"`)
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(body)))
}

// setObject replaces what a URL path serves.
func (l *liar) setObject(urlPath string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.objects[urlPath] = b
}

func (l *liar) objectRequests() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.requests...)
}

// cutAfter is an object lie: send the headers and n bytes of the body,
// then abort the connection.
func cutAfter(n int) func(w http.ResponseWriter, r *http.Request, body []byte) bool {
	return func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		start := 0
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &start)
			if start >= len(body) {
				return false
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(body)-1, len(body)))
			w.Header().Set("ETag", `"`+manifest.Sum(body).String()+`"`)
			w.Header().Set("Content-Length", fmt.Sprint(len(body)-start))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("ETag", `"`+manifest.Sum(body).String()+`"`)
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		rest := body[start:]
		w.Write(rest[:min(n, len(rest))])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
}
