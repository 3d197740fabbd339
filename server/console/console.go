// Package console is patchwire's web console: a static single-page app
// (HTML, CSS and plain JavaScript, with uPlot for charts) embedded in the
// binary and served under /console/. It holds no data and no logic of its
// own: it signs in with an API key kept in the browser session and calls
// the admin API with it, so it can do exactly what the key can. It is its
// own package so that the embedded files and their security headers stay
// in one place, apart from the handlers of the API it calls.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// ContentSecurityPolicy is sent with every console file: scripts, styles
// and connections only from the server itself, no inline script, no
// framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console's files under Prefix, with headers that keep
// the page from being framed, sniffed or given a referrer, and revalidated
// on every load (so an upgraded server serves its own console).
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(Prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// Redirect sends /console to /console/.
func Redirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
}
