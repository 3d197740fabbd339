package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runNginxPhases starts nginx on 127.0.0.1 with a temporary configuration
// (TLS with the server's certificate, HTTP/2), serving the same objects
// as static files under /o/ and the Capgo answer as a static JSON answer
// at POST /updates, and runs the same HTTPS phases against it.
func runNginxPhases(ctx context.Context, opt LoadOptions, rep *LoadReport, tg loadTarget, files map[string][]byte, answer []byte, work string,
	measure func(target string, pids func() []int, fn func(ctx context.Context, i int64, rnd *rand.Rand) (int64, bool, error), name, proto string)) error {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return errors.New("nginx not installed (Debian: nginx-light)")
	}
	if tg.certFile == "" || tg.keyFile == "" {
		return errors.New("no certificate to serve")
	}
	if strings.ContainsAny(string(answer), "'$\\") {
		return errors.New("the Capgo answer cannot be inlined in nginx.conf")
	}
	root := filepath.Join(work, "nginx")
	// nginx's workers run as an unprivileged user when started as root.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "www", "o"), 0o755); err != nil {
		return err
	}
	for _, b := range files {
		d := fmt.Sprintf("%x", sha256Sum(b))
		if err := os.WriteFile(filepath.Join(root, "www", "o", d), b, 0o644); err != nil {
			return err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	sendfile on;
	keepalive_requests 1000000;
	server {
		listen %[2]s ssl http2;
		ssl_certificate %[3]s;
		ssl_certificate_key %[4]s;
		location /o/ { root %[1]s/www; default_type application/octet-stream; etag on; }
		location = /updates { default_type application/json; return 200 '%[5]s'; }
	}
}
`, root, addr, tg.certFile, tg.keyFile, answer)
	cfg := filepath.Join(root, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(bin, "-e", filepath.Join(root, "error.log"), "-p", root, "-c", cfg)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	base := "https://" + addr
	hc := httpsClient(tg.tls)
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = opt.Concurrency
	defer hc.CloseIdleConnections()
	var up bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := post(ctx, hc, base+"/updates", []byte("{}")); err == nil {
			up = true
			break
		}
	}
	if !up {
		b, _ := os.ReadFile(filepath.Join(root, "error.log"))
		return fmt.Errorf("nginx did not answer: %s", b)
	}
	if v := toolVersion(bin, "-v"); v != "" {
		rep.Notes = append(rep.Notes, "ceiling: "+v)
	}
	pids := func() []int { return withChildren(cmd.Process.Pid) }
	ntg := tg
	ntg.base = base
	measure("nginx", pids, func(ctx context.Context, i int64, _ *rand.Rand) (int64, bool, error) {
		b, err := post(ctx, hc, base+"/updates", capgoBody(ntg, int(i%int64(opt.Devices))))
		return int64(len(b)), false, err
	}, "static json", "HTTP/2")
	measure("nginx", pids, func(ctx context.Context, i int64, _ *rand.Rand) (int64, bool, error) {
		n, err := get(ctx, hc, base+tg.objects[i%int64(len(tg.objects))])
		return n, true, err
	}, "object", "HTTP/2")
	return nil
}
