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
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
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

// sendBody sends body to path over proto ("http1" on a raw TLS connection
// with a Content-Length, "http2" and "http3" with Go clients, streamed
// without one) and returns the status and the error code of the answer.
// For http1 it also reports whether the server closed the connection.
func sendBody(t *testing.T, env *servertest.Env, proto, method, path string, body *trickle, size int) (status int, code string, closed bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var resp *http.Response
	var conn *tls.Conn
	switch proto {
	case "http1":
		conf := env.TLSConfig()
		conf.NextProtos = []string{"http/1.1"}
		var err error
		if conn, err = tls.Dial("tcp", env.Server.Addr(), conf); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(8 * time.Second))
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			method, path, env.Server.Addr(), env.AdminKey, size)
		go io.Copy(conn, body)
		if resp, err = http.ReadResponse(bufio.NewReader(conn), nil); err != nil {
			t.Fatalf("no answer: %v", err)
		}
	default:
		hc := env.HTTPSClient()
		if proto == "http3" {
			hc = env.HTTP3Client()
		}
		req, _ := http.NewRequestWithContext(ctx, method, env.URL+path, body)
		req.Header.Set("Authorization", "Bearer "+env.AdminKey)
		req.Header.Set("Content-Type", "application/json")
		var err error
		if resp, err = hc.Do(req); err != nil {
			t.Fatalf("no answer: %v", err)
		}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	if conn != nil && resp.StatusCode >= 400 {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := conn.Read(make([]byte, 1))
		closed = err == io.EOF
	}
	return resp.StatusCode, e.Error, closed
}

// TestTrickledBodyIsCut (issue 14 item 3): a body trickled at 1 byte/s,
// with a valid admin key, is cut within the window (plus slack) on every
// route that reads a body and every transport; an upload's temporary file
// is removed and an HTTP/1.1 connection is closed. On the code before the
// minimum body rate it ran until ReadTimeout (10 minutes).
func TestTrickledBodyIsCut(t *testing.T) {
	env := servertest.Start(t, servertest.WithLimits(rateLimits))
	newApp(t, env)
	routes := []struct {
		name, method, path string
		prefix             string
		status             int
		code               string
	}{
		{"zip upload", "PUT", "/api/v1/apps/" + app + "/bundles/", "PK\x03\x04", 408, api.CodeRequestTimeout},
		{"native check", "POST", api.PathCheck, `{"app":"` + app + `",`, 408, api.CodeRequestTimeout},
		{"capgo updates", "POST", "/updates", `{"app_id":"` + app + `",`, 400, ""},
		{"app create", "POST", api.PathApps, `{"app_id":"`, 408, api.CodeRequestTimeout},
	}
	stop := make(chan struct{})
	defer close(stop)
	t.Run("group", func(t *testing.T) {
		for i, rt := range routes {
			for _, proto := range []string{"http1", "http2", "http3"} {
				t.Run(rt.name+"/"+proto, func(t *testing.T) {
					t.Parallel()
					path := rt.path
					if strings.HasSuffix(path, "/") {
						path += fmt.Sprintf("1.0.%d-%s", i, proto)
					}
					const size = 8 << 10 // under every route's body limit
					data := append([]byte(rt.prefix), bytes.Repeat([]byte(" "), size-len(rt.prefix))...)
					start := time.Now()
					status, code, closed := sendBody(t, env, proto, rt.method, path, &trickle{data: data, chunk: 1, every: time.Second, stop: stop}, size)
					if took := time.Since(start); took > 4*time.Second {
						t.Errorf("cut after %v, want within the 1 s window and slack", took)
					}
					if status != rt.status || (rt.code != "" && code != rt.code) {
						t.Errorf("answer %d %q, want %d %q", status, code, rt.status, rt.code)
					}
					if proto == "http1" && !closed {
						t.Error("the HTTP/1.1 connection stayed open after the cut")
					}
				})
			}
		}
	})
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
	t.Run("group", func(t *testing.T) {
		for _, proto := range []string{"http1", "http2", "http3"} {
			t.Run(proto, func(t *testing.T) {
				t.Parallel()
				body := &trickle{data: zipBody, chunk: 256, every: 100 * time.Millisecond, stop: stop}
				status, code, _ := sendBody(t, env, proto, "PUT", "/api/v1/apps/"+app+"/bundles/2.0.0-"+proto, body, len(zipBody))
				if status != 201 {
					t.Errorf("steady %d-byte upload at 2.5 KiB/s: %d %s", len(zipBody), status, code)
				}
			})
		}
	})
	if status, e := call(t, env, "PUT", "/api/v1/apps/"+app+"/bundles/3.0.0", env.AdminKey, "", zipBody); status != 201 {
		t.Errorf("fast upload: %d %s", status, e.Message)
	}
	if status, e := call(t, env, "POST", api.PathApps, env.AdminKey, "application/json", []byte(`{"app_id":"com.example.small"}`)); status != 201 {
		t.Errorf("small JSON body: %d %s", status, e.Message)
	}
	waitNoTempFiles(t, env)
}
