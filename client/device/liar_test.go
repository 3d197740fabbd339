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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/client/device"
	"github.com/patchwire/patchwire/delta"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/step"
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
	objects  map[string][]byte // URL path -> bytes (/o/..., /m/...)
	// Lies. Each is consulted under mu and may be nil.
	mutate     func(a *api.CheckAnswer)  // edit the answer before signing
	resign     func(sc *api.SignedCheck) // edit the signed envelope
	payloadLie func(p []byte) []byte     // replace the payload, then sign it properly
	rawAnswer  func() []byte             // replace the whole answer body
	stepHook   func(s *step.Step)        // edit the step before it is encoded
	stepBytes  func(b []byte) []byte     // edit the encoded step (the signed reference follows)
	stepServe  func(b []byte) ([]byte, bool)
	updateHook func(u *api.Update) // edit the signed update (before mutate)
	objectLie  func(w http.ResponseWriter, r *http.Request, body []byte) bool
	checkLie   func(w http.ResponseWriter, r *http.Request) bool
	// Release keys: the statement sent with an update to a manifest (as
	// the server stores what CI uploaded), and the rotation chain served.
	releases   map[manifest.Digest]*api.SignedStatement
	chain      []api.SignedStatement
	chainGets  int
	lastSigned []byte      // the last answer body sent
	lastStep   api.StepRef // the step of the last update answered
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
	l := &liar{t: t, priv: priv, pub: pub, bundles: map[manifest.Digest]*bundle{}, objects: map[string][]byte{},
		releases: map[manifest.Digest]*api.SignedStatement{}, sequence: 1, ttl: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathCheck, l.handleCheck)
	mux.HandleFunc("GET /o/{sha256}", l.handleObject)
	mux.HandleFunc("GET /m/{sha256}", l.handleObject)
	mux.HandleFunc("GET "+api.PathReleaseKeys, func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.chainGets++
		json.NewEncoder(w).Encode(api.ReleaseKeyChain{App: r.PathValue("app"), Rotations: append([]api.SignedStatement{}, l.chain...)})
	})
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

// add registers bundles the liar knows (and serves their objects and
// manifests).
func (l *liar) add(bs ...*bundle) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range bs {
		l.bundles[b.m.Digest()] = b
		l.objects["/m/"+b.m.Digest().String()] = b.m.Encode()
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
		DeviceID: req.DeviceID, Base: req.Subject().Base, Sequence: l.sequence, IssuedAt: now, Expires: now.Add(l.ttl),
	}
	switch {
	case l.builtin:
		ans.Update = &api.Update{Target: api.TargetBundle{Version: "builtin"}}
	case l.target == nil || l.target.m.Digest() == req.Current.Manifest:
		ans.NoUpdate = &api.NoUpdate{Code: "no_new_version_available", Message: "up to date"}
	default:
		ref, ok := l.serveStep(req.Current.Manifest, l.target)
		if !ok {
			http.Error(w, "cannot make the step", 500)
			return
		}
		to := l.target.m
		ans.Update = &api.Update{
			Target:  api.TargetBundle{Version: l.target.version, Manifest: to.Digest(), Files: to.Len(), Size: to.TotalSize()},
			Step:    &ref,
			Release: l.releases[to.Digest()],
		}
	}
	if ans.Update != nil && l.updateHook != nil {
		l.updateHook(ans.Update)
	}
	if l.mutate != nil {
		l.mutate(&ans)
	}
	var body []byte
	if l.rawAnswer != nil {
		body = l.rawAnswer()
	} else {
		sc := sign(l.t, l.priv, ans)
		if l.payloadLie != nil {
			sc = signPayload(l.priv, subject(ans), l.payloadLie(sc.Payload))
		}
		if l.resign != nil {
			l.resign(&sc)
		}
		var err error
		if body, err = sc.MarshalBinary(); err != nil {
			l.t.Errorf("liar: encode answer: %v", err)
		}
	}
	l.lastSigned = body
	w.Header().Set("Content-Type", api.CheckContentType)
	w.Write(body)
}

// sign signs an answer the way the server does, for the subject the
// answer names (app, platform, and its device id or, for a fleet answer,
// its base).
func sign(t testing.TB, priv ed25519.PrivateKey, a api.CheckAnswer) api.SignedCheck {
	payload, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return signPayload(priv, subject(a), payload)
}

// subject is whom a names as the device asking.
func subject(a api.CheckAnswer) api.Subject {
	return api.Subject{App: a.App, Platform: a.Platform, DeviceID: a.DeviceID, Base: a.Base}
}

// signPayload signs payload bytes as is for sub.
func signPayload(priv ed25519.PrivateKey, sub api.Subject, payload []byte) api.SignedCheck {
	return api.SignedCheck{
		Payload:   payload,
		Signature: ed25519.Sign(priv, api.SignedMessage(sub, payload)),
		KeyID:     checksig.KeyID(priv.Public().(ed25519.PublicKey)),
	}
}

// patchable says whether the liar's planner rebuilds an added file with
// the step's bundle patch (web code, as a bundler renames its chunks)
// rather than sending it whole.
func patchable(p string) bool {
	switch path.Ext(p) {
	case ".js", ".mjs", ".css", ".html":
		return true
	}
	return false
}

// makeStep is a simple planner: removed paths, bytes the device has at
// another path become copies, changed files and added web code are
// rebuilt by one bundle patch (from the file at the same path, else from a
// removed file with the same extension, else from nothing), other added
// files are objects. An unknown starting bundle gets a step from the empty
// manifest with every file an object. It returns the manifest the step
// starts from.
func (l *liar) makeStep(fromDigest manifest.Digest, to *bundle) (*bundle, *step.Step) {
	from, ok := l.bundles[fromDigest]
	if !ok {
		from = &bundle{m: &manifest.Manifest{}, files: map[string][]byte{}}
		s := &step.Step{From: from.m.Digest()}
		for _, e := range to.m.Entries() {
			s.Writes = append(s.Writes, step.Write{Path: e.Path, Kind: step.Object, Size: e.Size, Digest: e.Digest, Base: step.NoBase})
		}
		return from, s
	}
	s := &step.Step{From: fromDigest}
	index := map[string]int{}
	have := map[manifest.Digest]int{}
	removedByExt := map[string]int{}
	for i, e := range from.m.Entries() {
		index[e.Path] = i
		if _, ok := have[e.Digest]; !ok {
			have[e.Digest] = i
		}
		if _, ok := to.m.Lookup(e.Path); !ok {
			s.Removed = append(s.Removed, i)
			if _, ok := removedByExt[path.Ext(e.Path)]; !ok && patchable(e.Path) {
				removedByExt[path.Ext(e.Path)] = i
			}
		}
	}
	var outs [][]byte
	for _, e := range to.m.Entries() {
		old, existed := from.m.Lookup(e.Path)
		if existed && old.Digest == e.Digest {
			continue
		}
		w := step.Write{Path: e.Path, Size: e.Size, Base: step.NoBase}
		if src, ok := have[e.Digest]; ok {
			w.Kind, w.Source, w.Size = step.Copy, src, 0
		} else if existed || patchable(e.Path) {
			w.Kind = step.Patched
			if existed {
				w.Base = index[e.Path]
			} else if i, ok := removedByExt[path.Ext(e.Path)]; ok {
				w.Base = i
			}
			outs = append(outs, to.files[e.Path])
		} else {
			w.Kind, w.Digest = step.Object, e.Digest
		}
		s.Writes = append(s.Writes, w)
	}
	if len(outs) > 0 {
		s.Codec = delta.NameZstdDict
		key := fromDigest.String() + "/" + to.m.Digest().String()
		if v, ok := patchCache.Load(key); ok {
			s.Patch = v.([]byte)
		} else {
			s.Patch = encodePatch(l.t, from, s, func(p string) []byte { return to.files[p] })
			patchCache.Store(key, s.Patch)
		}
	}
	return from, s
}

// patchCache keeps encoded bundle patches across tests (encoding
// dominates), by from and to manifest digests.
var patchCache sync.Map

// encodePatch encodes the bundle patch of s from from: its dictionary
// (Step.Dictionary) and the contents of its patched files, in path order,
// as content gives them. It runs in handlers: failures are t.Error.
func encodePatch(t testing.TB, from *bundle, s *step.Step, content func(path string) []byte) []byte {
	dict, err := s.Dictionary(from.m)
	if err != nil {
		t.Error(err)
		return nil
	}
	var parts, outs [][]byte
	for _, e := range dict {
		parts = append(parts, from.files[e.Path])
	}
	for _, w := range s.Writes {
		if w.Kind == step.Patched {
			outs = append(outs, content(w.Path))
		}
	}
	b, err := delta.EncodeBundle(delta.ZstdDict, parts, outs)
	if err != nil {
		t.Error(err)
	}
	return b
}

// serveStep makes, edits (stepHook, stepBytes), encodes and serves the
// step from the device's bundle to to, at /o/{sha256 of its bytes} (or
// what stepServe says), and returns its reference.
func (l *liar) serveStep(fromDigest manifest.Digest, to *bundle) (api.StepRef, bool) {
	from, s := l.makeStep(fromDigest, to)
	if l.stepHook != nil {
		l.stepHook(s)
	}
	b, err := step.Encode(from.m, s)
	if err != nil {
		l.t.Errorf("liar: encode step: %v", err)
		return api.StepRef{}, false
	}
	if l.stepBytes != nil {
		b = l.stepBytes(b)
	}
	ref := api.StepRef{Digest: manifest.Sum(b), Size: int64(len(b))}
	url := "/o/" + ref.Digest.String()
	served, ok := b, true
	if l.stepServe != nil {
		served, ok = l.stepServe(b)
	}
	if ok {
		l.objects[url] = served
	} else {
		delete(l.objects, url)
	}
	l.lastStep = ref
	return ref, true
}

// stepURL is the URL path of the last step answered.
func (l *liar) stepURL() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return "/o/" + l.lastStep.Digest.String()
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
