package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/patchwire/patchwire/checksig"
	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/store/s3test"
)

// TestServeObjectsInS3 runs `patchwire serve --objects s3://...` against a
// real S3-compatible server (versitygw): a bundle uploaded with the CLI
// lands in the bucket, a Capgo device check gets its zip, objects are
// streamed (HEAD, Range, ETag, immutable) and then redirected (presigned,
// public base URL), and a byte changed in the bucket is never served.
func TestServeObjectsInS3(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs server processes")
	}
	s3 := s3test.Start(t)
	bin := buildBinary(t)
	data := t.TempDir()
	objects := s3.URL("pw/objects")

	// Bad starts name the problem.
	for _, tc := range []struct {
		name, url string
		env       []string
		want      string
	}{
		{"not s3://", "https://bucket/x", s3.Env(), "must start with s3://"},
		{"no endpoint", "s3://" + s3.Bucket + "/x", s3.Env(), "needs ?endpoint=URL"},
		{"no credentials", objects, nil, "no credentials"},
		{"missing bucket", strings.Replace(objects, s3.Bucket, "no-such-bucket", 1), s3.Env(), `bucket "no-such-bucket" does not exist`},
		{"bad credentials", objects, []string{"AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=wrong"}, "refused the credentials"},
	} {
		env := map[string]string{}
		for _, kv := range tc.env {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		c := &cli{t: t, env: env}
		_, errOut, err := c.run("serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--objects", tc.url)
		if err == nil || !strings.Contains(err.Error()+errOut, tc.want) {
			t.Errorf("%s: serve = %v %s; want an error saying %q", tc.name, err, errOut, tc.want)
		}
	}

	srv := startServerWith(t, bin, data, s3.Env(), "--objects", objects)
	defer func() { srv.kill() }() // whichever is running last
	key, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, env: map[string]string{
		"PATCHWIRE_CONFIG": filepath.Join(t.TempDir(), "config.json"), "PATCHWIRE_SERVER": srv.url,
		"PATCHWIRE_API_KEY": strings.TrimSpace(string(key)), "PATCHWIRE_CA": filepath.Join(data, "tls-cert.pem"),
	}}
	const app = "com.example.s3"
	files := fixtureFiles(12)
	files["assets/big.bin"] = bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: several chunks
	c.must("app", "add", app)
	c.must("bundle", "upload", writeBundle(t, files), "--app", app, "--version", "1.2.0")
	c.must("channel", "create", "production", "--app", app, "--public", "--policy", "none", "--platforms", "ios,android")
	c.must("channel", "set", "production", "--app", app, "--bundle", "1.2.0")

	// Every file is a raw S3 object named by its SHA-256.
	ctx := context.Background()
	inBucket := map[string]int64{}
	for o := range s3.Client.ListObjects(ctx, s3.Bucket, minio.ListObjectsOptions{Prefix: "pw/objects/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		inBucket[strings.TrimPrefix(o.Key, "pw/objects/")] = o.Size
	}
	for name, b := range files {
		if n, ok := inBucket[manifest.Sum(b).String()]; !ok || n != int64(len(b)) {
			t.Errorf("%s: not in the bucket as its raw bytes (%d, %v)", name, n, ok)
		}
	}

	hc := httpsClient(t, filepath.Join(data, "tls-cert.pem"))
	// A Capgo device check: the answer's zip is a derived object, in S3 too.
	body, _ := json.Marshal(map[string]any{"platform": "android", "device_id": "44f128a5-ac7a-4c9a-be4c-224b6bf81b20",
		"app_id": app, "version_build": "1.0.0", "version_os": "14", "version_name": "builtin", "plugin_version": "7.0.0",
		"is_emulator": false, "is_prod": true})
	resp, err := hc.Post(srv.url+"/updates", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ans struct{ Version, URL, Checksum string }
	json.Unmarshal(raw, &ans)
	if ans.Version != "1.2.0" || !strings.Contains(ans.URL, "/o/"+ans.Checksum) {
		t.Fatalf("/updates = %s", raw)
	}
	zip := get(t, hc, ans.URL, nil, http.StatusOK)
	if sum := sha256.Sum256(zip.body); hex.EncodeToString(sum[:]) != ans.Checksum {
		t.Errorf("zip hashes to %x, answer says %s", sum, ans.Checksum)
	}
	if _, err := s3.Client.StatObject(ctx, s3.Bucket, "pw/objects/"+ans.Checksum, minio.StatObjectOptions{}); err != nil {
		t.Errorf("the zip is not in the bucket: %v", err)
	}

	// Proxied: whole, HEAD, Range, conditional, with the immutable headers.
	big := files["assets/big.bin"]
	d := manifest.Sum(big).String()
	u := srv.url + "/o/" + d
	r := get(t, hc, u, nil, http.StatusOK)
	if !bytes.Equal(r.body, big) || r.h.Get("ETag") != `"`+d+`"` || !strings.Contains(r.h.Get("Cache-Control"), "immutable") {
		t.Errorf("GET: %d bytes, headers %v", len(r.body), r.h)
	}
	if r := get(t, hc, u, map[string]string{"Range": "bytes=1048570-1048585"}, http.StatusPartialContent); !bytes.Equal(r.body, big[1048570:1048586]) {
		t.Errorf("Range: %q", r.body)
	}
	if r := head(t, hc, u); r.StatusCode != http.StatusOK || r.ContentLength != int64(len(big)) {
		t.Errorf("HEAD: %d, %d bytes", r.StatusCode, r.ContentLength)
	}
	get(t, hc, u, map[string]string{"If-None-Match": `"` + d + `"`}, http.StatusNotModified)

	// A byte flipped in the bucket: never served as the object.
	damaged := append([]byte{}, files["assets/img-3.png"]...)
	dd := manifest.Sum(damaged).String()
	damaged[100] ^= 0xff
	if _, err := s3.Client.PutObject(ctx, s3.Bucket, "pw/objects/"+dd, bytes.NewReader(damaged), int64(len(damaged)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := get(t, hc, srv.url+"/o/"+dd, nil, http.StatusInternalServerError); bytes.Equal(r.body, damaged) {
		t.Error("damaged bytes served")
	}
	srv.stop()
	// The scrub re-hashes the bucket's bytes and reports the object.
	for _, kv := range s3.Env() {
		k, v, _ := strings.Cut(kv, "=")
		c.env[k] = v
	}
	out, _, err := c.run("store", "verify", "--data", data, "--objects", objects)
	if err == nil || !strings.Contains(out, "corrupt_object o/"+dd) || strings.Count(out, "corrupt_object") != 1 {
		t.Errorf("store verify = %v:\n%s\nwant one corrupt_object, %s", err, out, dd)
	}
	// Started without --objects, the store is refused, not served half.
	if _, _, err := c.run("serve", "--data", data, "--addr", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "start it with the --objects") {
		t.Errorf("serve without --objects = %v", err)
	}

	// Redirected: presigned URLs the device can fetch, or the public base.
	srv = startServerWith(t, bin, data, s3.Env(), "--objects", objects, "--objects-redirect", "presign")
	u = srv.url + "/o/" + d
	r = get(t, hc, u, nil, http.StatusFound)
	loc := r.h.Get("Location")
	if !strings.HasPrefix(loc, s3.Endpoint+"/"+s3.Bucket+"/pw/objects/"+d+"?") || !strings.Contains(loc, "X-Amz-Signature=") || strings.Contains(r.h.Get("Cache-Control"), "immutable") {
		t.Errorf("presign redirect: Location %q, Cache-Control %q", loc, r.h.Get("Cache-Control"))
	}
	if r := get(t, http.DefaultClient, loc, nil, http.StatusOK); !bytes.Equal(r.body, big) || r.h.Get("Content-Encoding") != "" || !strings.Contains(r.h.Get("Cache-Control"), "immutable") {
		t.Errorf("the presigned URL gave %d bytes (headers %v), not the immutable object", len(r.body), r.h)
	}
	if r := head(t, hc, u); r.StatusCode != http.StatusFound {
		t.Errorf("HEAD with presign: %d", r.StatusCode)
	}
	// The reference device updates through the redirects: its step and any
	// whole files come from the bucket.
	c.env["PATCHWIRE_SERVER"] = srv.url
	next := map[string][]byte{}
	for name, b := range files {
		next[name] = b
	}
	next["assets/chunk-2.js"] = append(append([]byte{}, files["assets/chunk-2.js"]...), "\nexport const more = 1;\n"...)
	next["assets/new.txt"] = []byte("a file the device does not have")
	c.must("bundle", "upload", writeBundle(t, next), "--app", app, "--version", "1.3.0")
	c.must("channel", "set", "production", "--app", app, "--bundle", "1.3.0")
	priv, err := server.LoadSigningKey(data)
	if err != nil {
		t.Fatal(err)
	}
	c.env["PATCHWIRE_PUBLIC_KEY"] = checksig.PublicKeyBase64(priv.Public().(ed25519.PublicKey))
	c.env["PATCHWIRE_APP"] = app
	state := filepath.Join(t.TempDir(), "device")
	c.must("device", "seed", "--state", state, "--from", writeBundle(t, files))
	if out := c.must("device", "update", "--state", state); !strings.Contains(out, "-> 1.3.0") {
		t.Errorf("device update through redirects: %s", out)
	}
	srv.kill()
	srv = startServerWith(t, bin, data, s3.Env(), "--objects", objects, "--objects-redirect", "https://cdn.example.com/objects/")
	u = srv.url + "/o/" + d
	r = get(t, hc, u, nil, http.StatusFound)
	if loc := r.h.Get("Location"); loc != "https://cdn.example.com/objects/pw/objects/"+d || r.h.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("base URL redirect: Location %q, Cache-Control %q", loc, r.h.Get("Cache-Control"))
	}
}

// response is what get read.
type response struct {
	h    http.Header
	body []byte
}

// get GETs u (without following redirects) and checks the status.
func get(t *testing.T, c *http.Client, u string, h map[string]string, status int) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, status, b)
	}
	return response{resp.Header, b}
}

func head(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// httpsClient trusts the server's self-signed certificate and follows no
// redirects.
func httpsClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
