package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/manifest"
	"github.com/patchwire/patchwire/server/servertest"
)

// TestMetrics: update checks by outcome and reason, bytes served and
// latency by route, on the server's own registry.
func TestMetrics(t *testing.T) {
	env := servertest.Start(t)
	c := env.HTTPSClient()
	post := func(body string) {
		resp, err := c.Post(env.URL+"/updates", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post(`{"platform":"android","device_id":"44f128a5-ac7a-4c9a-be4c-224b6bf81b20","app_id":"com.example.nope","version_build":"1.0.0","version_name":"builtin","plugin_version":"8.51.14","is_emulator":false,"is_prod":true}`)
	post(`{`)
	resp, err := c.Get(env.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	obj := []byte(strings.Repeat("served bytes ", 100))
	d := manifest.Sum(obj)
	if _, err := env.Store.PutObject(context.Background(), d, obj); err != nil {
		t.Fatal(err)
	}
	if resp, err = c.Get(env.URL + "/o/" + d.String()); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	resp, err = c.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	text := string(b)
	for _, want := range []string{
		`patchwire_update_checks_total{outcome="rejected",reason="on_premise_app"} 1`,
		`patchwire_update_checks_total{outcome="rejected",reason="invalid_json_parse_body"} 1`,
		`patchwire_http_request_duration_seconds_count{route="POST /updates"} 2`,
		`patchwire_http_response_bytes_total{route="GET /healthz"} 16`,
		`patchwire_http_response_bytes_total{route="GET /o/{sha256}"} 1300`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Another server has its own registry.
	other := servertest.Start(t)
	resp, err = other.HTTPSClient().Get(other.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), `route="POST /updates"`) {
		t.Error("a second server shares the first one's metrics")
	}
}
