package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server"
	"github.com/patchwire/patchwire/server/capgo"
	"github.com/patchwire/patchwire/server/servertest"
)

// clientFrom is an HTTPS client of env whose connections come from the
// loopback address ip (Linux routes all of 127.0.0.0/8 to lo), so the
// server sees a different client address.
func clientFrom(t *testing.T, env *servertest.Env, ip string) *http.Client {
	t.Helper()
	tr := env.HTTPSClient().Transport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type limitedReply struct {
	status     int
	retryAfter string
	reset      string
	body       []byte
}

func postJSON(t *testing.T, c *http.Client, url string, v any) limitedReply {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return limitedReply{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-RateLimit-Reset"), body}
}

// limited reports whether r is a rate limiter's answer (on_premise_app is
// a 429 too).
func (r limitedReply) limited() bool {
	return r.status == http.StatusTooManyRequests && bytes.Contains(r.body, []byte(`"too_many_requests"`))
}

func capgoCheck(device string) map[string]any {
	return map[string]any{
		"app_id": app, "device_id": device, "platform": "android", "version_build": "1.0",
		"version_name": "builtin", "plugin_version": "8.51.14", "is_emulator": false, "is_prod": true,
	}
}

// TestDeviceEndpointTokenBuckets covers issue 14 item 9 (token buckets): a
// flood of /updates from one address got no 429. Now past the address's
// burst it gets Capgo's too_many_requests with Retry-After (and the native
// check the API error shape), while another address and other devices are
// not affected; a device past its own burst is limited on every address;
// objects are never limited.
func TestDeviceEndpointTokenBuckets(t *testing.T) {
	const addrBurst, devBurst = 8, 3
	lim := server.DefaultLimits()
	// Refill so slowly (one token per 1000 s) that timing cannot matter.
	lim.DeviceRate, lim.DeviceBurst = 0.001, addrBurst
	lim.DeviceRatePerDevice, lim.DeviceBurstPerDevice = 0.001, devBurst
	env := servertest.Start(t, servertest.WithLimits(lim))
	if _, err := env.Store.CreateApp(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	a, b, c := clientFrom(t, env, "127.0.0.1"), clientFrom(t, env, "127.0.0.2"), clientFrom(t, env, "127.0.0.3")
	updates, check := env.URL+capgo.PathUpdates, env.URL+api.PathCheck

	// A flood from one address, one device per request: the burst passes
	// (on_premise_app: nothing is published), then 429.
	for i := 0; i < addrBurst; i++ {
		if r := postJSON(t, a, updates, capgoCheck(deviceN(i))); r.limited() {
			t.Fatalf("request %d of the burst limited: %s", i, r.body)
		}
	}
	wantCapgo429 := func(what string, r limitedReply) {
		t.Helper()
		secs, err := strconv.Atoi(r.retryAfter)
		if r.status != http.StatusTooManyRequests || err != nil || secs < 1 || r.reset == "" ||
			string(r.body) != `{"error":"too_many_requests","message":"You are being rate limited"}` {
			t.Errorf("%s: %d Retry-After %q X-RateLimit-Reset %q %s", what, r.status, r.retryAfter, r.reset, r.body)
		}
	}
	wantCapgo429("flood /updates", postJSON(t, a, updates, capgoCheck(deviceN(100))))
	wantCapgo429("flood /stats", postJSON(t, a, env.URL+capgo.PathStats, map[string]any{"app_id": app}))
	r := postJSON(t, a, check, map[string]any{"app_id": app, "device_id": deviceN(101)})
	var e api.Error
	if r.status != http.StatusTooManyRequests || r.retryAfter == "" || json.Unmarshal(r.body, &e) != nil ||
		e.Code != api.CodeTooManyRequests || e.Message == "" {
		t.Errorf("flood /v1/check: %d %q %s", r.status, r.retryAfter, r.body)
	}
	// Objects are not device endpoints.
	resp, err := a.Get(env.URL + "/o/" + string(bytes.Repeat([]byte("0"), 64)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		t.Errorf("/o/ limited: %d", resp.StatusCode)
	}

	// Another address with another device is not affected.
	if r := postJSON(t, b, updates, capgoCheck(deviceN(200))); r.limited() {
		t.Errorf("other address limited: %s", r.body)
	}
	// One device past its burst is limited, from any address; the Capgo
	// endpoints and the native check share its bucket.
	dev := deviceN(300)
	for i := 0; i < devBurst-1; i++ {
		if r := postJSON(t, b, updates, capgoCheck(dev)); r.limited() {
			t.Fatalf("device request %d limited: %s", i, r.body)
		}
	}
	req := checkRequest("builtin", [32]byte{})
	req.DeviceID = dev
	if r := postJSON(t, c, check, req); r.status != http.StatusOK {
		t.Fatalf("native check within the device's burst: %d %s", r.status, r.body)
	}
	wantCapgo429("device past its burst", postJSON(t, c, updates, capgoCheck(dev)))
	if r := postJSON(t, c, check, req); r.status != http.StatusTooManyRequests || r.retryAfter == "" {
		t.Errorf("native check past the device's burst: %d %s", r.status, r.body)
	}
	// ...while other devices on those addresses still pass.
	if r := postJSON(t, c, updates, capgoCheck(deviceN(301))); r.limited() {
		t.Errorf("other device limited: %s", r.body)
	}
	// Every 429 is counted by the bucket that ran out.
	_, text := get(t, c, "GET", env.URL+server.PathMetrics, nil)
	for _, limit := range []string{"address", "device"} {
		if !strings.Contains(string(text), `patchwire_rate_limited_total{limit="`+limit+`"}`) {
			t.Errorf("/metrics lacks the %s 429s:\n%s", limit, text)
		}
	}
}

// TestDeviceRateLimitsOff: with the rates 0 (the library default) nothing
// is limited.
func TestDeviceRateLimitsOff(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	for i := 0; i < 300; i++ {
		if r := postJSON(t, c, env.URL+capgo.PathUpdates, capgoCheck(deviceN(1))); r.limited() {
			t.Fatalf("request %d limited: %s", i, r.body)
		}
	}
}

func TestCheckDeviceRates(t *testing.T) {
	nan := 0.0
	nan /= nan
	for _, tc := range []struct {
		l  server.Limits
		ok bool
	}{
		{server.Limits{}, true},
		{server.Limits{DeviceRate: 50, DeviceBurst: 200, DeviceRatePerDevice: 1, DeviceBurstPerDevice: 10}, true},
		{server.Limits{DeviceRate: -1}, false},
		{server.Limits{DeviceRatePerDevice: nan}, false},
		{server.Limits{DeviceBurst: -1}, false},
	} {
		if err := server.CheckDeviceRates(tc.l); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.l, err)
		}
	}
}
