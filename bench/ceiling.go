package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// CeilingListening starts the line a ceiling prints once it serves:
// "ceiling listening 127.0.0.1:PORT".
const CeilingListening = "ceiling listening"

// Ceiling files in the folder a ceiling serves (also nginx's root).
const (
	ceilingCapgo  = "updates.json" // answered to POST /updates
	ceilingNative = "check.bin"    // answered to POST /v1/check
)

// RunCeiling is `patchwire bench ceiling`: the bare handler a load phase
// is compared with, in a process of its own. It serves, from memory, the
// answers and objects of dir (updates.json to POST /updates, check.bin to
// POST /v1/check, o/SHA256 to GET /o/SHA256) on 127.0.0.1 with certFile
// and keyFile: over HTTPS (HTTP/2) with net/http when proto is "h2", over
// HTTP/3 with a bare quic-go http3.Server when "h3". It prints
// CeilingListening and the address on out, then serves until ctx ends.
func RunCeiling(ctx context.Context, proto, dir, certFile, keyFile string, out io.Writer) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	h, err := ceilingHandler(dir)
	if err != nil {
		return err
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	errc := make(chan error, 1)
	var stop func(context.Context) error
	switch proto {
	case "h2":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		conf.NextProtos = []string{"h2", "http/1.1"}
		srv := &http.Server{Handler: h, TLSConfig: conf, ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintln(out, CeilingListening, l.Addr())
		go func() { errc <- srv.ServeTLS(l, "", "") }()
		stop = srv.Shutdown
	case "h3":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http3.Server{Handler: h, TLSConfig: http3.ConfigureTLSConfig(conf)}
		fmt.Fprintln(out, CeilingListening, pc.LocalAddr())
		go func() { errc <- srv.Serve(pc) }()
		stop = srv.Shutdown
	default:
		return fmt.Errorf("bench ceiling: --proto %q: want h2 or h3", proto)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = stop(sctx)
	return nil
}

// ceilingHandler answers from dir's files, all read into memory first.
func ceilingHandler(dir string) (http.Handler, error) {
	capgo, err := os.ReadFile(filepath.Join(dir, ceilingCapgo))
	if err != nil {
		return nil, err
	}
	native, err := os.ReadFile(filepath.Join(dir, ceilingNative))
	if err != nil {
		return nil, err
	}
	objects := map[string][]byte{}
	ents, err := os.ReadDir(filepath.Join(dir, "o"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "o", e.Name()))
		if err != nil {
			return nil, err
		}
		objects[e.Name()] = b
	}
	answer := func(body []byte, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", ctype)
			w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /updates", answer(capgo, "application/json"))
	mux.Handle("POST /v1/check", answer(native, "application/octet-stream"))
	mux.HandleFunc("GET /o/{sha}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := objects[r.PathValue("sha")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b)
	})
	return mux, nil
}

// writeCeilingDir writes the answers and objects a ceiling (and nginx)
// serves into dir.
func writeCeilingDir(dir string, capgo, native []byte, files map[string][]byte) error {
	if err := os.MkdirAll(filepath.Join(dir, "o"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ceilingCapgo), capgo, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ceilingNative), native, 0o644); err != nil {
		return err
	}
	for d, b := range files {
		if err := os.WriteFile(filepath.Join(dir, "o", d), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeSelfSigned writes an ECDSA P-256 certificate for 127.0.0.1 and
// localhost (as the server makes its own) and returns a pool trusting it.
func writeSelfSigned(certFile, keyFile string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "patchwire bench ceiling"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o644); err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool, nil
}

// startCeiling starts `exe bench ceiling --proto proto` serving dir.
func startCeiling(ctx context.Context, cpus cpuSplit, exe, proto, dir, certFile, keyFile string, stderr io.Writer) (*child, string, error) {
	c, err := startChild(ctx, cpus, exe, []string{"bench", "ceiling", "--proto", proto, "--dir", dir, "--cert", certFile, "--key", keyFile}, CeilingListening, stderr)
	if err != nil {
		return nil, "", err
	}
	return c, "https://" + strings.TrimSpace(c.addr), nil
}
