package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/patchwire/patchwire/server/console"
)

// TestHandler: the console's files come from the binary with their security
// headers; /console redirects to /console/.
func TestHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET "+console.Prefix, console.Handler())
	mux.HandleFunc("GET /console", console.Redirect)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path, want, typ string
		status          int
	}{
		{"/console/", "<title>patchwire console</title>", "text/html", 200},
		{"/console/app.js", "Authorization", "text/javascript", 200},
		{"/console/vendor/uplot/uPlot.iife.min.js", "uPlot", "text/javascript", 200},
		{"/console/app.css", "--accent", "text/css", 200},
		{"/console/nope.js", "", "", 404},
		{"/console", "", "", 301},
	}
	for _, tt := range tests {
		resp, err := noRedirect.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
			continue
		}
		if tt.status == 301 {
			if loc := resp.Header.Get("Location"); loc != console.Prefix {
				t.Errorf("%s: Location %q", tt.path, loc)
			}
			continue
		}
		if !strings.Contains(string(body), tt.want) || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.typ) {
			t.Errorf("%s: type %q, body has %q: %v", tt.path, resp.Header.Get("Content-Type"), tt.want, strings.Contains(string(body), tt.want))
		}
		for h, v := range map[string]string{"Content-Security-Policy": console.ContentSecurityPolicy, "X-Frame-Options": "DENY",
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := resp.Header.Get(h); got != v {
				t.Errorf("%s: %s = %q, want %q", tt.path, h, got, v)
			}
		}
	}
}

// TestNoInlineScript: the page must work under its CSP, which forbids
// inline script and style, and the scripts must not parse data as HTML.
func TestNoInlineScript(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	get := func(p string) string {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	page := get("/console/")
	for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload="} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html has %q", bad)
		}
	}
	for _, js := range []string{"/console/app.js", "/console/dom.js", "/console/charts.js"} {
		src := get(js)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", js, bad)
			}
		}
	}
}
