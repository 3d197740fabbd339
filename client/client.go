package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/patchwire/patchwire/api"
)

// Config says which server to talk to and how.
type Config struct {
	Server   string // base URL, https://host:port or http://host:port
	Key      string // API key (Bearer)
	CAFile   string // PEM file of the CA (or self-signed certificate) to trust
	Insecure bool   // skip certificate verification (development only)
	HTTP3    bool   // use HTTP/3 (QUIC) instead of TCP
	Timeout  time.Duration
}

// Client calls one server. It is safe for concurrent use.
type Client struct {
	base *url.URL
	key  string
	http *http.Client
}

// APIError is a non-2xx answer from the server.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Message)
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Server == "" {
		return nil, errors.New("no server: run `patchwire login --server URL --key KEY` or set PATCHWIRE_SERVER")
	}
	base, err := url.Parse(strings.TrimRight(cfg.Server, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("server %q: want https://host[:port] or http://host[:port]", cfg.Server)
	}
	tlsConf, err := TLSConfig(cfg.CAFile, cfg.Insecure)
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper
	if cfg.HTTP3 {
		rt = &http3.Transport{TLSClientConfig: tlsConf}
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = tlsConf
		t.ForceAttemptHTTP2 = true
		t.MaxIdleConnsPerHost = 16
		rt = t
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	return &Client{base: base, key: cfg.Key, http: &http.Client{Transport: rt, Timeout: timeout}}, nil
}

// TLSConfig trusts the system roots plus caFile, or nothing when insecure.
func TLSConfig(caFile string, insecure bool) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		conf.InsecureSkipVerify = true
		return conf, nil
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// Close releases idle connections (and the QUIC transport).
func (c *Client) Close() {
	if t, ok := c.http.Transport.(io.Closer); ok {
		t.Close()
	}
	c.http.CloseIdleConnections()
}

// URL resolves a path against the server's base URL.
func (c *Client) URL(path string) string {
	return c.base.JoinPath(path).String()
}

// path fills {name} placeholders of an api.Path* constant with escaped values.
func path(pattern string, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		pattern = strings.Replace(pattern, "{"+kv[i]+"}", url.PathEscape(kv[i+1]), 1)
	}
	return pattern
}

// query is a URL query of the key-value pairs kv whose values are not
// empty: "" when none is, else "?k=v&...".
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// positive is n in decimal, or "" (no query parameter) when n <= 0.
func positive(n int64) string {
	if n <= 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// do sends a request and decodes a JSON answer into out (when non-nil).
func (c *Client) do(ctx context.Context, method, p string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+p, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

// send adds authentication, sends req and decodes the answer.
func (c *Client) send(req *http.Request, out any) error {
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	e := &APIError{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body api.Error
	if json.Unmarshal(b, &body) == nil && body.Code != "" {
		e.Code, e.Message = body.Code, body.Message
	} else {
		e.Code, e.Message = http.StatusText(resp.StatusCode), strings.TrimSpace(string(b))
	}
	return e
}

// CreateApp registers an app.
func (c *Client) CreateApp(ctx context.Context, id string) (api.App, error) {
	var app api.App
	err := c.do(ctx, http.MethodPost, api.PathApps, api.CreateAppRequest{ID: id}, &app)
	return app, err
}

// ListApps lists the apps the key may see.
func (c *Client) ListApps(ctx context.Context) ([]api.App, error) {
	var apps []api.App
	err := c.do(ctx, http.MethodGet, api.PathApps, nil, &apps)
	return apps, err
}

// ListBundles lists an app's bundles, oldest version first.
func (c *Client) ListBundles(ctx context.Context, app string) ([]api.Bundle, error) {
	var bs []api.Bundle
	err := c.do(ctx, http.MethodGet, path(api.PathBundles, "app", app), nil, &bs)
	return bs, err
}

// DeleteBundle deletes one bundle version; its objects become collectable.
func (c *Client) DeleteBundle(ctx context.Context, app, version string) error {
	return c.do(ctx, http.MethodDelete, path(api.PathBundle, "app", app, "version", version), nil, nil)
}

// CreateKey makes a new API key and returns its secret (shown once).
func (c *Client) CreateKey(ctx context.Context, req api.CreateKeyRequest) (api.CreateKeyResponse, error) {
	var out api.CreateKeyResponse
	err := c.do(ctx, http.MethodPost, api.PathKeys, req, &out)
	return out, err
}

// ListKeys lists the keys (never their secrets).
func (c *Client) ListKeys(ctx context.Context) ([]api.Key, error) {
	var keys []api.Key
	err := c.do(ctx, http.MethodGet, api.PathKeys, nil, &keys)
	return keys, err
}

// DeleteKey revokes a key.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, path(api.PathKey, "id", id), nil, nil)
}
