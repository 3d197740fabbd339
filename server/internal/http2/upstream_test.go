package http2

// This file is the fork's own, the one file here that is not upstream's.
// TestForkIsUpstreamPlusPatches holds every other file to golang.org/x/net
// at the version go.mod requires with the changes in forkPatches applied;
// with -update it writes them:
//
//	go test ./server/internal/http2 -run TestForkIsUpstreamPlusPatches -update
//
// which is how the fork follows x/net (after `go get golang.org/x/net@V`):
// a bumped x/net fails this test until the fork is regenerated, and a patch
// that no longer applies fails it with the patch's name.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fork from golang.org/x/net in the module cache")

// forkedDirs maps each folder of golang.org/x/net that the fork copies to
// its folder here.
var forkedDirs = map[string]string{
	"http2":               ".",
	"internal/httpcommon": "httpcommon",
	"internal/httpsfv":    "httpsfv",
}

// forkedRootFiles are copied from the module's root as they are.
var forkedRootFiles = []string{"LICENSE", "PATENTS"}

// skippedFile reports the upstream files of the copied folders the fork leaves
// out: tests, and the Go 1.27 files that wrap net/http's own HTTP/2 (the
// fork is the implementation those files replace).
func skippedFile(name string) bool {
	return strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, "_wrap.go") || !strings.HasSuffix(name, ".go")
}

// ownFiles are the files here that are not upstream's.
var ownFiles = []string{"upstream_test.go", "windowupdates_test.go"}

// forkPatch is one exact replacement in the fork: in File ("*" for every
// Go file), Old is replaced by New; in a named file, Old must occur exactly
// once.
type forkPatch struct {
	Name, File, Old, New string
}

// forkPatches are every change the fork makes to upstream's bytes.
var forkPatches = []forkPatch{
	{
		Name: "build tag",
		File: "*",
		Old:  "//go:build !(go1.27 && !http2legacy)\n\n",
		New:  "",
	},
	{
		Name: "import comment",
		File: "http2.go",
		Old:  "package http2 // import \"golang.org/x/net/http2\"",
		New:  "package http2",
	},
	{
		Name: "internal imports",
		File: "*",
		Old:  "\"golang.org/x/net/internal/",
		New:  "\"github.com/patchwire/patchwire/server/internal/http2/",
	},
	{
		Name: "package doc",
		File: "http2.go",
		Old: `// Package http2 implements the HTTP/2 protocol.
//
// Almost no users should need to import this package directly.
// The net/http package supports HTTP/2 natively.
//
// To enable or disable HTTP/2 support in net/http clients and servers, see
// [http.Transport.Protocols] and [http.Server.Protocols].
//
// To configure HTTP/2 parameters, see
// [http.Transport.HTTP2] and [http.Server.HTTP2].
//
// To create HTTP/1 or HTTP/2 connections, see
// [http.Transport.NewClientConn].
`,
		New: `// Package http2 is golang.org/x/net/http2, at the version go.mod requires,
// forked for two changes to the server's hand-offs between goroutines.
// patchwire's HTTPS server speaks HTTP/2 through it
// (http2.ConfigureServer); nothing else imports it.
//
// Writes: the buffer a connection's frames are written into is 64 KiB
// instead of 4 KiB. The server writes a frame in its serve loop only when
// it fits the space left in that buffer; any other frame is written by a
// goroutine started for it. A DATA frame is up to 16 KiB, so with 4 KiB
// every DATA frame of an object body costs a goroutine and two hand-offs
// between goroutines, the bulk of what made an HTTP/2 download over one
// connection cost ~1.4x nginx's CPU per byte. With 64 KiB three of four
// frames are copied into the buffer in the serve loop, and the fourth's
// goroutine writes the four at once (measured: README, "Load").
//
// Reads: frames are read through a 512-byte buffer, and the WINDOW_UPDATE
// frames already in it behind one go to the serve loop with it
// (bufferedWindowUpdates) instead of one hand-off each way per frame. Go's
// own client credits every read of a body: 13 window updates per 55 KB
// object, which cost the server a third more CPU per byte than a client
// that credits once (nghttp2's).
//
// How it follows upstream: upstream_test.go holds every file here to x/net
// plus the patches listed there, and regenerates them.
`,
	},
	{
		Name: "write buffer",
		File: "http2.go",
		Old: `// TODO: pick a less arbitrary value? this is a bit under
// (3 x typical 1500 byte MTU) at least. Other than that,
// not much thought went into it.
const bufWriterPoolBufferSize = 4 << 10
`,
		New: `// patchwire: 64 KiB, four DATA frames of 16 KiB, so that most frames are
// written in the serve loop instead of in a goroutine each (upstream: 4
// KiB). A connection holds the buffer only while it has frames to flush.
const bufWriterPoolBufferSize = 64 << 10
`,
	},
	{
		Name: "read buffer",
		File: "server.go",
		Old:  "\tfr := NewFramer(sc.bw, c)\n",
		New: `	// patchwire: frames are read through a small buffer, so that
	// readFrames sees the window updates that came with the one it read.
	sc.br = bufio.NewReaderSize(c, readBufferSize)
	fr := NewFramer(sc.bw, sc.br)
`,
	},
	{
		Name: "read buffer field",
		File: "server.go",
		Old:  "\tframer           *Framer\n",
		New: `	framer           *Framer
	br               *bufio.Reader // patchwire: what framer reads from
`,
	},
	{
		Name: "window updates together: result",
		File: "server.go",
		Old: `	readMore func()
}
`,
		New: `	readMore func()

	// patchwire: the WINDOW_UPDATE frames read right after f (each
	// with its own read error), processed after it in order.
	more []readFrameResult
}

// patchwire: readBufferSize is the buffer frames are read through: more
// than a TLS record of window updates, little per connection. Reads of a
// larger payload bypass it.
const readBufferSize = 512

// patchwire: maxWindowUpdatesTogether bounds the window updates handed to
// the serve loop with one frame.
const maxWindowUpdatesTogether = 16

// bufferedWindowUpdates (patchwire) reads the WINDOW_UPDATE frames whose
// bytes are already buffered behind f when f is one, up to
// maxWindowUpdatesTogether, into more[:0]. A client that credits the
// window on every read of a response body (Go's transport does once 4 KiB
// are unread, for the stream and the connection) otherwise costs the
// serve loop two hand-offs per 13-byte frame: 13 frames per 55 KB object,
// a third of the server's CPU per byte. A WINDOW_UPDATE frame holds none
// of the framer's read buffer, so it stays valid after the next
// ReadFrame; a read error ends the run and is handled in its place.
func (sc *serverConn) bufferedWindowUpdates(f Frame, err error, more []readFrameResult) []readFrameResult {
	more = more[:0]
	if _, ok := f.(*WindowUpdateFrame); !ok || err != nil {
		return more
	}
	for len(more) < maxWindowUpdatesTogether && sc.br.Buffered() >= frameHeaderLen+4 {
		h, _ := sc.br.Peek(frameHeaderLen)
		if h[0] != 0 || h[1] != 0 || h[2] != 4 || FrameType(h[3]) != FrameWindowUpdate {
			break
		}
		f, err := sc.framer.ReadFrame()
		more = append(more, readFrameResult{f: f, err: err})
		if err != nil {
			break
		}
	}
	return more
}
`,
	},
	{
		Name: "window updates together: read",
		File: "server.go",
		Old: `	for {
		f, err := sc.framer.ReadFrame()
		select {
		case sc.readFrameCh <- readFrameResult{f, err, gateDone}:
		case <-sc.doneServing:
			return
		}
		select {
		case <-gate:
		case <-sc.doneServing:
			return
		}
		if terminalReadFrameError(err) {
			return
		}
`,
		New: `	var more []readFrameResult // patchwire
	for {
		f, err := sc.framer.ReadFrame()
		more = sc.bufferedWindowUpdates(f, err, more)
		select {
		case sc.readFrameCh <- readFrameResult{f, err, gateDone, more}:
		case <-sc.doneServing:
			return
		}
		select {
		case <-gate:
		case <-sc.doneServing:
			return
		}
		if terminalReadFrameError(err) {
			return
		}
		if n := len(more); n > 0 && terminalReadFrameError(more[n-1].err) { // patchwire
			return
		}
`,
	},
	{
		Name: "window updates together: process",
		File: "server.go",
		Old: `			if !sc.processFrameFromReader(res) {
				return
			}
			res.readMore()
`,
		New: `			if !sc.processFrameFromReader(res) {
				return
			}
			for _, m := range res.more { // patchwire
				if !sc.processFrameFromReader(m) {
					return
				}
			}
			res.readMore()
`,
	},
}

// xnetDir is golang.org/x/net's folder in the module cache, at the version
// go.mod requires (downloaded if missing).
func xnetDir(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "mod", "download", "-json", "golang.org/x/net")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download golang.org/x/net: %v\n%s", err, out)
	}
	var m struct{ Dir, Version, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("go mod download golang.org/x/net: %v %s %s", err, m.Error, out)
	}
	return m.Dir
}

// forkFiles is what every file here, but ownFiles, must hold: upstream's
// bytes with forkPatches applied and gofmt run, keyed by slash path.
func forkFiles(upstream string) (want map[string][]byte, err error) {
	want = map[string][]byte{}
	for _, name := range forkedRootFiles {
		b, err := os.ReadFile(filepath.Join(upstream, name))
		if err != nil {
			return nil, err
		}
		want[name] = b
	}
	for from, to := range forkedDirs {
		ents, err := os.ReadDir(filepath.Join(upstream, filepath.FromSlash(from)))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() || skippedFile(e.Name()) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(upstream, filepath.FromSlash(from), e.Name()))
			if err != nil {
				return nil, err
			}
			want[filepath.ToSlash(filepath.Join(to, e.Name()))] = b
		}
	}
	for _, p := range forkPatches {
		if p.File == "*" {
			for name, b := range want {
				if strings.HasSuffix(name, ".go") {
					want[name] = bytes.ReplaceAll(b, []byte(p.Old), []byte(p.New))
				}
			}
			continue
		}
		b, ok := want[p.File]
		if !ok {
			return nil, fmt.Errorf("patch %q: upstream has no %s", p.Name, p.File)
		}
		if n := bytes.Count(b, []byte(p.Old)); n != 1 {
			return nil, fmt.Errorf("patch %q: %s holds its old text %d times, not once: upstream changed; redo the patch", p.Name, p.File, n)
		}
		want[p.File] = bytes.Replace(b, []byte(p.Old), []byte(p.New), 1)
	}
	// gofmt: the rewritten imports sort differently.
	for name, b := range want {
		if strings.HasSuffix(name, ".go") {
			if want[name], err = format.Source(b); err != nil {
				return nil, fmt.Errorf("gofmt %s: %w", name, err)
			}
		}
	}
	return want, nil
}

// localFiles lists every file under this folder (slash paths).
func localFiles(t *testing.T) []string {
	t.Helper()
	var have []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			have = append(have, filepath.ToSlash(path))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return have
}

func TestForkIsUpstreamPlusPatches(t *testing.T) {
	want, err := forkFiles(xnetDir(t))
	if err != nil {
		t.Fatal(err)
	}
	have := localFiles(t)
	if *update {
		for _, name := range have {
			if _, ok := want[name]; !ok && !slices.Contains(ownFiles, name) {
				if err := os.Remove(filepath.FromSlash(name)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for name, b := range want {
			if err := os.MkdirAll(filepath.Dir(filepath.FromSlash(name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.FromSlash(name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	const redo = "; regenerate: go test ./server/internal/http2 -run TestForkIsUpstreamPlusPatches -update"
	for _, name := range have {
		if _, ok := want[name]; !ok && !slices.Contains(ownFiles, name) {
			t.Errorf("%s is neither upstream's nor the fork's own%s", name, redo)
		}
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Errorf("%v%s", err, redo)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from upstream plus the fork's patches%s", name, redo)
		}
	}
}
