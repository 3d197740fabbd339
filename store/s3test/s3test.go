// Package s3test starts a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw, `go install
// github.com/versity/versitygw/cmd/versitygw@v1.8.0`) on a free 127.0.0.1
// port, serving a temp directory, with one bucket made: one server per test
// (Start) or one per test binary with a bucket per test (Shared). A test skips, with a
// message saying how to install it, only when the binary is missing.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/patchwire/patchwire/store/internal/testserver"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string // made at start
	Dir       string // the directory versitygw serves (one folder per bucket)
	Client    *minio.Client
}

// Binary finds versitygw in PATH or in $(go env GOPATH)/bin; "" when absent.
func Binary() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Start starts versitygw for the test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip(missing)
	}
	s, stop, err := launch(bin, t.TempDir(), testserver.RandomHex(t, 20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	s.Bucket = "patchwire-" + testserver.RandomHex(t, 4)
	if err := s.makeBucket(); err != nil {
		t.Fatal(err)
	}
	return s
}

const missing = "versitygw not installed (in PATH or $(go env GOPATH)/bin): go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

var (
	sharedMu   sync.Mutex
	shared     *Server
	sharedStop func()
	sharedDir  string
)

// Shared is one versitygw for the whole test binary (started by the first
// call, stopped by Stop, which the package's TestMain calls after the
// tests), with a fresh bucket for each call: for suites that open many
// stores, where a server per test would cost its start each time.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip(missing)
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		dir, err := os.MkdirTemp("", "s3test-")
		if err != nil {
			t.Fatal(err)
		}
		s, stop, err := launch(bin, dir, testserver.RandomHex(t, 20))
		if err != nil {
			os.RemoveAll(dir)
			t.Fatal(err)
		}
		shared, sharedStop, sharedDir = s, stop, dir
	}
	s := *shared
	s.Bucket = "patchwire-" + testserver.RandomHex(t, 6)
	if err := s.makeBucket(); err != nil {
		t.Fatal(err)
	}
	return &s
}

// Stop stops the server Shared started, if any, and removes its files.
func Stop() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		sharedStop()
		os.RemoveAll(sharedDir)
		shared = nil
	}
}

// launch starts versitygw serving dir on a free port (three tries) and
// connects a client to it; stop kills it.
func launch(bin, dir, secret string) (s *Server, stop func(), err error) {
	s = &Server{Region: "us-east-1", AccessKey: "patchwire-test", SecretKey: secret, Dir: filepath.Join(dir, "data")}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		port, err := testserver.FreePort()
		if err != nil {
			return nil, nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "--port", addr, "posix", s.Dir)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
		cmd.SysProcAttr = procAttr()
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("versitygw-%d.log", attempt)))
		if err != nil {
			cancel()
			return nil, nil, err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			cancel()
			logf.Close()
			return nil, nil, fmt.Errorf("start versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if waitListening(addr, exited) {
			stop = func() { cancel(); <-exited; logf.Close() }
			s.Endpoint = "http://" + addr
			break
		}
		cancel()
		<-exited
		logf.Close()
		if attempt == 2 {
			b, _ := os.ReadFile(logf.Name())
			return nil, nil, fmt.Errorf("versitygw did not start on %s: %s", addr, b)
		}
	}
	c, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: s.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		stop()
		return nil, nil, err
	}
	s.Client = c
	return s, stop, nil
}

func (s *Server) makeBucket() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		return fmt.Errorf("make bucket %s: %v", s.Bucket, err)
	}
	return nil
}

// URL is the --objects URL of the bucket under prefix.
func (s *Server) URL(prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s", s.Bucket, prefix, s.Endpoint, s.Region)
}

// Env is the credentials environment (AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=...).
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey}
}

func waitListening(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
