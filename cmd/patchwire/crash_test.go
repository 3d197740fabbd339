package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchwire/patchwire/client"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/store"
)

// buildBinary compiles patchwire once for the tests that run it as a process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "patchwire")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serverProcess is `patchwire serve` running as a child process.
type serverProcess struct {
	cmd *exec.Cmd
	url string
}

var urlLine = regexp.MustCompile(`HTTPS \(HTTP/1\.1, HTTP/2\): (https://\S+)`)

func startServer(t *testing.T, bin, data string, extra ...string) *serverProcess {
	t.Helper()
	return startServerWith(t, bin, data, nil, extra...)
}

// startServerWith is startServer with more environment (KEY=VALUE) and
// flags.
func startServerWith(t *testing.T, bin, data string, env []string, args ...string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return &serverProcess{cmd: cmd, url: u}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not print its URL")
	}
	return nil
}

// stop stops the server as SIGTERM does, waiting for a clean close.
func (p *serverProcess) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}

func (p *serverProcess) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// TestKilledDuringUploadRestartsClean SIGKILLs the server at random moments
// of uploads and checks after each restart that no partial bundle is
// visible, every acknowledged bundle is there, and every object of every
// bundle is present and hash-correct.
func TestKilledDuringUploadRestartsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	acked := map[string]bool{}
	const rounds = 6
	// Round 0 runs to completion and measures how long an upload takes;
	// later rounds kill the server at a random moment of that span.
	var uploadTime time.Duration
	for round := 0; round < rounds; round++ {
		srv := startServer(t, bin, data)
		key, err := os.ReadFile(filepath.Join(data, "admin.key"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(client.Config{Server: srv.url, Key: strings.TrimSpace(string(key)), CAFile: filepath.Join(data, "tls-cert.pem")})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if round == 0 {
			if _, err := c.CreateApp(ctx, "com.example.app"); err != nil {
				t.Fatal(err)
			}
		}
		version := fmt.Sprintf("1.0.%d", round)
		dir := writeBundle(t, crashBundle(rng, round))
		src, err := manifest.OpenDir(ctx, dir, manifest.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.Upload(ctx, src, client.UploadOptions{App: "com.example.app", Version: version, Concurrency: 2})
			done <- err
		}()
		delay := time.Hour
		if round > 0 {
			delay = time.Duration(rng.Int63n(int64(uploadTime)*5/4 + 1))
		}
		started := time.Now()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("upload %s: %v", version, err)
			}
			acked[version] = true
			if round == 0 {
				uploadTime = time.Since(started)
			}
			srv.kill()
		case <-time.After(delay):
			srv.kill()
			if err := <-done; err == nil {
				acked[version] = true
			}
		}
		src.Close()
		c.Close()
		verifyStore(t, filepath.Join(data, "db"), acked)
	}
	t.Logf("%d of %d uploads were acknowledged before the kill", len(acked), rounds)
}

// crashBundle makes a bundle big enough that a kill often lands mid-upload.
func crashBundle(rng *rand.Rand, round int) map[string][]byte {
	files := map[string][]byte{"index.html": []byte(fmt.Sprintf("<h1>%d</h1>", round))}
	for i := 0; i < 60; i++ {
		b := make([]byte, 8_000+rng.Intn(40_000))
		rng.Read(b)
		files[fmt.Sprintf("assets/%d.bin", i)] = b
	}
	return files
}

// verifyStore opens the store the killed server left and checks it.
func verifyStore(t *testing.T, dir string, acked map[string]bool) {
	t.Helper()
	st, err := store.Open(store.Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer st.Close()
	ctx := context.Background()
	rep, err := st.Verify(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("store after SIGKILL: %v", fmt.Errorf("%+v", rep.Problems))
	}
	bundles, err := st.ListBundles(ctx, "com.example.app")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, b := range bundles {
		have[b.Version] = true
		m, err := st.LoadManifest(ctx, b.Manifest)
		if err != nil {
			t.Fatalf("bundle %s: manifest: %v", b.Version, err)
		}
		for _, e := range m.Entries() {
			if _, err := st.GetObject(ctx, e.Digest); err != nil {
				t.Fatalf("bundle %s: object %s (%s): %v", b.Version, e.Path, e.Digest, err)
			}
		}
	}
	for v := range acked {
		if !have[v] {
			t.Fatalf("acknowledged bundle %s lost after SIGKILL", v)
		}
	}
}
