package bench

import (
	"crypto/tls"
	"net/http"
	"time"
)

// httpsClient is a net/http client over TCP (HTTP/2) trusting conf.
func httpsClient(conf *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = conf
	t.ForceAttemptHTTP2 = true
	t.DisableCompression = true
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}
