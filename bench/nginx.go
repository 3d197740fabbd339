package bench

import (
	"context"
	"crypto/tls"
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

// measureFunc runs one phase of scenario against target over proto and
// records it.
type measureFunc func(scenario, target, proto string, pr probe, fn reqFunc)

// runCeilings writes the answers and objects into work/ceiling, then runs
// the ceiling phases, each against a process of its own: nginx (HTTPS,
// HTTP/2; static files and the Capgo answer inlined) unless NoNginx or it
// is not installed, a bare net/http handler (HTTPS, HTTP/2) and a bare
// quic-go http3.Server (HTTP/3), both answering from memory
// (`patchwire bench ceiling`).
func runCeilings(ctx context.Context, opt LoadOptions, rep *LoadReport, tg loadTarget, files map[string][]byte, capgoAnswer, nativeAnswer []byte,
	work string, measure measureFunc) error {
	dir := filepath.Join(work, "ceiling")
	if err := writeCeilingDir(dir, capgoAnswer, nativeAnswer, files); err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(work, "ceiling-cert.pem"), filepath.Join(work, "ceiling-key.pem")
	pool, err := writeSelfSigned(certFile, keyFile)
	if err != nil {
		return err
	}
	conf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	phases := func(target, proto, base string, hc *http.Client, pr probe, native bool) {
		measure(ScenarioCapgoJSON, target, proto, pr, func(ctx context.Context, i int64, _ *rand.Rand) shot {
			b, err := post(ctx, hc, base+"/updates", capgoBody(tg, int(i%int64(opt.Devices)), tg.old))
			return shot{n: int64(len(b)), err: err}
		})
		if native {
			measure(ScenarioNativeAnswer, target, proto, pr, func(ctx context.Context, i int64, _ *rand.Rand) shot {
				b, err := post(ctx, hc, base+"/v1/check", nativeBody(tg, int(i%int64(opt.Devices)), tg.old))
				return shot{n: int64(len(b)), err: err}
			})
		}
		if len(tg.objects) > 0 {
			measureObjects(measure, target, proto, base, hc, pr, tg)
		}
	}

	// objects is the HTTP/1.1 and h2load object phases against a ceiling.
	objects := otherObjectPhases(ctx, opt, rep, measure, tg, conf, work)
	if !opt.NoNginx {
		if err := runNginx(ctx, opt, rep, dir, certFile, keyFile, capgoAnswer, conf, phases, objects); err != nil {
			rep.Notes = append(rep.Notes, "nginx ceiling skipped: "+err.Error())
			opt.Logf("load: nginx ceiling skipped: %v", err)
		}
	}
	for _, c := range []struct{ proto, target, name string }{{"h2", TargetNetHTTP, ProtoH2}, {"h3", TargetQUICGo, ProtoH3}} {
		ch, base, err := startCeiling(ctx, opt.cpus, opt.Exe, c.proto, dir, certFile, keyFile, opt.Stderr)
		if err != nil {
			return err
		}
		pid := ch.pid()
		pr := probe{pids: func() []int { return []int{pid} }}
		hc, closeClient := loadClient(c.name, conf, opt.Concurrency)
		phases(c.target, c.name, base, hc, pr, true)
		if c.proto == "h2" && objects != nil {
			objects(c.target, base, pr) // the same net/http server, over HTTP/1.1 and to h2load
		}
		closeClient()
		ch.Close()
	}
	rep.Notes = append(rep.Notes, "ceilings: net/http and quic-go are `patchwire bench ceiling` processes of the same binary answering the server's own "+
		"Capgo and /v1/check answers and the bundle's objects from memory; nginx serves the objects as static files and the Capgo answer inlined (`return 200`)")
	return nil
}

// runNginx starts nginx on 127.0.0.1 with a temporary configuration (TLS,
// HTTP/2 and HTTP/1.1) serving dir's objects as static files under /o/ and
// the Capgo answer at POST /updates, and runs the ceiling phases against
// it, then objects (when not nil: over HTTP/1.1 and to h2load).
func runNginx(ctx context.Context, opt LoadOptions, rep *LoadReport, dir, certFile, keyFile string, answer []byte, conf *tls.Config,
	phases func(target, proto, base string, hc *http.Client, pr probe, native bool), objects func(target, base string, pr probe)) error {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return errors.New("nginx not installed (Debian: nginx-light)")
	}
	if strings.ContainsAny(string(answer), "'$\\") {
		return errors.New("the Capgo answer cannot be inlined in nginx.conf")
	}
	root := filepath.Join(filepath.Dir(dir), "nginx")
	// nginx's workers run as an unprivileged user when started as root.
	for _, d := range []string{filepath.Dir(dir), dir, filepath.Join(dir, "o")} {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`worker_processes auto;
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
		location /o/ { root %[6]s; default_type application/octet-stream; etag on; }
		location = /updates { default_type application/json; return 200 '%[5]s'; }
	}
}
`, root, addr, certFile, keyFile, answer, dir)
	cfgFile := filepath.Join(root, "nginx.conf")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(bin, "-e", filepath.Join(root, "error.log"), "-p", root, "-c", cfgFile)
	cmd.Stderr = opt.Stderr
	dieWithParent(cmd)
	if err := opt.cpus.start(cmd); err != nil {
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
	hc, closeClient := loadClient(ProtoH2, conf, opt.Concurrency)
	defer closeClient()
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
	pid := cmd.Process.Pid
	pr := probe{pids: func() []int { return withChildren(pid) }}
	phases(TargetNginx, ProtoH2, base, hc, pr, false)
	if objects != nil {
		objects(TargetNginx, base, pr)
	}
	return nil
}
