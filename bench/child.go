package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/patchwire/patchwire/server"
)

// child is a process of the same binary the load benchmark started: a
// `patchwire serve` or a `patchwire bench ceiling`. It prints the address
// it serves on a line of its standard output that starts with prefix.
type child struct {
	cmd  *exec.Cmd
	addr string // what followed prefix on that line
	done chan error
}

// startChild runs exe args and waits (up to a minute) for the line of its
// standard output that starts with prefix; the rest of its output goes to
// stderr (standard error) and is thrown away (standard output).
func startChild(ctx context.Context, cpus cpuSplit, exe string, args []string, prefix string, stderr io.Writer) (*child, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = stderr
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cpus.start(cmd); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), prefix); ok {
				select {
				case found <- strings.TrimSpace(v):
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
		c.done <- cmd.Wait()
	}()
	select {
	case c.addr = <-found:
		return c, nil
	case err := <-c.done:
		return nil, fmt.Errorf("bench: %s %s exited before it served: %v", filepath.Base(exe), args[0], err)
	case <-time.After(time.Minute):
		err = errors.New("did not start within a minute")
	case <-ctx.Done():
		err = ctx.Err()
	}
	c.Close()
	return nil, fmt.Errorf("bench: %s %s: %w", filepath.Base(exe), args[0], err)
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// Close stops the child with SIGTERM, then SIGKILL after 20 s.
func (c *child) Close() error {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		err := <-c.done
		c.done <- err
		return err
	}
}

// serverArgs are the flags the load benchmark starts `patchwire serve`
// with: its data in dir, free 127.0.0.1 ports, no device rate limits (the
// whole load comes from one address), no GC or scrub during the run.
func serverArgs(dir string) []string {
	return []string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--log-level", "warn",
		"--device-rate", "0", "--device-rate-per-device", "0", "--gc-interval", "0", "--scrub-interval", "0",
		"--max-quic-conns-per-ip", "0", "--max-quic-conns", "0"}
}

// childServer is `patchwire serve` in its own process.
type childServer struct {
	*child
	url, dir, adminKey, certFile, keyFile string
}

// startChildServer starts exe serve on a fresh data dir, on the target
// CPUs of cpus.
func startChildServer(ctx context.Context, cpus cpuSplit, exe, dir string, stderr io.Writer) (*childServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c, err := startChild(ctx, cpus, exe, serverArgs(dir), "HTTPS (HTTP/1.1, HTTP/2):", stderr)
	if err != nil {
		return nil, err
	}
	s := &childServer{child: c, url: c.addr, dir: dir,
		certFile: filepath.Join(dir, server.SelfSignedCertFile), keyFile: filepath.Join(dir, server.SelfSignedKeyFile)}
	b, err := os.ReadFile(filepath.Join(dir, server.AdminKeyFile))
	if err != nil {
		c.Close()
		return nil, err
	}
	s.adminKey = strings.TrimSpace(string(b))
	return s, nil
}
