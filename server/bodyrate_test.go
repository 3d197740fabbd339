package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/servertest"
)

// rateLimits are test-sized body rate limits: 1 KiB/s over 1 s windows.
var rateLimits = server.Limits{MinBodyRate: 1 << 10, MinBodyRateWindow: time.Second}

// trickle is a request body sent chunk bytes every every, until stop.
type trickle struct {
	data  []byte
	chunk int
	every time.Duration
	stop  <-chan struct{}
}

func (b *trickle) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	select {
	case <-time.After(b.every):
	case <-b.stop:
		return 0, errors.New("trickle stopped")
	}
	n := copy(p[:min(len(p), b.chunk)], b.data)
	b.data = b.data[n:]
	return n, nil
}

// answer is what sendBody saw.
type answer struct {
	status int
	code   string // the JSON error code, if any
	closed bool   // http1: the server closed the connection after an error
	took   time.Duration
}

// bodySender sends request bodies over "http1" (a raw TLS connection, with
// a Content-Length), "http2" or "http3" (Go clients, streamed without one).
// It is safe for concurrent use.
type bodySender struct {
	env    *servertest.Env
	tls    *tls.Config
	h2, h3 *http.Client
}

func newBodySender(t *testing.T, env *servertest.Env) *bodySender {
	conf := env.TLSConfig()
	conf.NextProtos = []string{"http/1.1"}
	return &bodySender{env: env, tls: conf, h2: env.HTTPSClient(), h3: env.HTTP3Client()}
}

// send sends body (size bytes) with the admin key and reads the answer.
func (s *bodySender) send(proto, method, path string, body io.Reader, size int) (answer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	start := time.Now()
	var resp *http.Response
	var conn *tls.Conn
	var err error
	switch proto {
	case "http1":
		if conn, err = tls.Dial("tcp", s.env.Server.Addr(), s.tls); err != nil {
			return answer{}, err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(8 * time.Second))
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			method, path, s.env.Server.Addr(), s.env.AdminKey, size)
		go io.Copy(conn, body)
		resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	default:
		hc := s.h2
		if proto == "http3" {
			hc = s.h3
		}
		req, _ := http.NewRequestWithContext(ctx, method, s.env.URL+path, body)
		req.Header.Set("Authorization", "Bearer "+s.env.AdminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err = hc.Do(req)
	}
	if err != nil {
		return answer{}, fmt.Errorf("no answer after %v: %w", time.Since(start), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, took: time.Since(start)}
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	a.code = e.Error
	if conn != nil && resp.StatusCode >= 400 {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := conn.Read(make([]byte, 1))
		a.closed = err == io.EOF
	}
	return a, nil
}

// sendCase is one request of a concurrent batch.
type sendCase struct {
	name, proto, method, path string
	body                      io.Reader
	size                      int
	check                     func(t *testing.T, a answer)
}

// sendAll sends every case at once (the cases mostly wait, so they run
// concurrently rather than under -parallel) and checks each in a subtest.
func sendAll(t *testing.T, s *bodySender, cases []sendCase) {
	answers := make([]answer, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() { answers[i], errs[i] = s.send(c.proto, c.method, c.path, c.body, c.size) })
	}
	wg.Wait()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			c.check(t, answers[i])
		})
	}
}

// protos are the transports every body test runs on.
var protos = []string{"http1", "http2", "http3"}

// TestTrickledBodyIsCut (issue 14 item 3): a body trickled at 1 byte/s,
// with a valid admin key, is cut within the window (plus slack) on every
// route that reads a body (zip and object uploads, JSON posts, Capgo
// /updates, native /v1/check) and every transport; an upload's temporary
// file is removed and an HTTP/1.1 connection is closed. On the code before
// the minimum body rate it ran until ReadTimeout (10 minutes).
func TestTrickledBodyIsCut(t *testing.T) {
	env := servertest.Start(t, servertest.WithLimits(rateLimits))
	newApp(t, env)
	s := newBodySender(t, env)
	const size = 8 << 10 // under every route's body limit
	blob := bytes.Repeat([]byte(" "), size)
	index := []byte("<html></html>")
	files := []manifest.Entry{{Path: "blob.bin", Digest: manifest.Sum(blob), Size: size}, {Path: "index.html", Digest: manifest.Sum(index), Size: int64(len(index))}}
	m, err := manifest.New(files, manifest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	up, err := env.Store.CreateUpload(context.Background(), app, "9.0.0", m, api.BundleMeta{})
	if err != nil {
		t.Fatal(err)
	}
	routes := []struct {
		name, method, path string
		prefix             string
		status             int
		code               string
	}{
		{"zip upload", "PUT", "/api/v1/apps/" + app + "/bundles/", "PK\x03\x04", 408, api.CodeRequestTimeout},
		{"object upload", "PUT", "/api/v1/uploads/" + up.ID + "/objects/" + manifest.Sum(blob).String(), "", 408, api.CodeRequestTimeout},
		{"native check", "POST", api.PathCheck, `{"app":"` + app + `",`, 408, api.CodeRequestTimeout},
		{"capgo updates", "POST", "/updates", `{"app_id":"` + app + `",`, 408, api.CodeRequestTimeout},
		{"app create", "POST", api.PathApps, `{"app_id":"`, 408, api.CodeRequestTimeout},
	}
	stop := make(chan struct{})
	defer close(stop)
	var cases []sendCase
	for i, rt := range routes {
		for _, proto := range protos {
			path := rt.path
			if strings.HasSuffix(path, "/") {
				path += fmt.Sprintf("1.0.%d-%s", i, proto)
			}
			data := append([]byte(rt.prefix), bytes.Repeat([]byte(" "), size-len(rt.prefix))...)
			cases = append(cases, sendCase{name: rt.name + "/" + proto, proto: proto, method: rt.method, path: path, size: size,
				body: &trickle{data: data, chunk: 1, every: time.Second, stop: stop},
				check: func(t *testing.T, a answer) {
					if a.took > 4*time.Second {
						t.Errorf("cut after %v, want within the 1 s window and slack", a.took)
					}
					if a.status != rt.status || (rt.code != "" && a.code != rt.code) {
						t.Errorf("answer %d %q, want %d %q", a.status, a.code, rt.status, rt.code)
					}
					if proto == "http1" && !a.closed {
						t.Error("the HTTP/1.1 connection stayed open after the cut")
					}
				}})
		}
	}
	sendAll(t, s, cases)
	waitNoTempFiles(t, env)
}

// waitNoTempFiles fails when a spooled upload's temporary file outlives
// its request by more than a second.
func waitNoTempFiles(t *testing.T, env *servertest.Env) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left, _ = filepath.Glob(filepath.Join(env.Dir, "tmp", "upload-*")); len(left) == 0 {
			return
		}
	}
	t.Errorf("temporary files left: %v", left)
}

// TestSlowButSteadyBodyPasses (issue 14 item 3): the rate guard cuts only
// what is below the minimum. A zip sent at 2.5× the minimum over several
// windows, with and without a Content-Length, is stored; so are a fast
// upload and a small JSON body.
func TestSlowButSteadyBodyPasses(t *testing.T) {
	env := servertest.Start(t, servertest.WithLimits(rateLimits))
	newApp(t, env)
	files := map[string]string{"index.html": "<script src=app.js></script>"}
	for i := range 3 {
		files[fmt.Sprintf("f%d.bin", i)] = string(randomBytes(2<<10, int64(i)))
	}
	zipBody := zipOf(t, files)
	stop := make(chan struct{})
	defer close(stop)
	var cases []sendCase
	for _, proto := range protos {
		cases = append(cases, sendCase{name: proto, proto: proto, method: "PUT", path: "/api/v1/apps/" + app + "/bundles/2.0.0-" + proto,
			body: &trickle{data: zipBody, chunk: 256, every: 100 * time.Millisecond, stop: stop}, size: len(zipBody),
			check: func(t *testing.T, a answer) {
				if a.status != 201 {
					t.Errorf("steady %d-byte upload at 2.5 KiB/s: %d %s", len(zipBody), a.status, a.code)
				}
			}})
	}
	sendAll(t, newBodySender(t, env), cases)
	if status, e := call(t, env, "PUT", "/api/v1/apps/"+app+"/bundles/3.0.0", env.AdminKey, "", zipBody); status != 201 {
		t.Errorf("fast upload: %d %s", status, e.Message)
	}
	if status, e := call(t, env, "POST", api.PathApps, env.AdminKey, "application/json", []byte(`{"app_id":"com.example.small"}`)); status != 201 {
		t.Errorf("small JSON body: %d %s", status, e.Message)
	}
	waitNoTempFiles(t, env)
}
