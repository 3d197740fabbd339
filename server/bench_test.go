package server_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchwire/patchwire/server/servertest"
)

// BenchmarkObjectDownload measures object throughput on loopback over
// HTTPS (HTTP/2) and HTTP/3, each against the same bytes read from a file
// on disk (page cache) in the same iterations. Reported: MB/s of the
// download, MB/s of the disk read, and their ratio.
//
//	go test -run '^$' -bench ObjectDownload ./server/
func BenchmarkObjectDownload(b *testing.B) {
	const size = 16 << 20
	env := servertest.Start(b)
	body := randomBytes(size, 42)
	d := putObjects(b, env, body)[0]
	file := filepath.Join(b.TempDir(), "object")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		b.Fatal(err)
	}
	url := env.URL + "/o/" + d.String()
	for _, tc := range []struct {
		name   string
		client *http.Client
	}{
		{"https", env.HTTPSClient()},
		{"http3", env.HTTP3Client()},
		{"http1", env.HTTP1Client()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var net, disk time.Duration
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, f)
				f.Close()
				if err != nil || n != size {
					b.Fatalf("disk read %d bytes: %v", n, err)
				}
				disk += time.Since(start)

				start = time.Now()
				resp, err := tc.client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				n, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != size {
					b.Fatalf("download %d bytes: %v", n, err)
				}
				net += time.Since(start)
			}
			mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
			b.ReportMetric(mbps(net), "net-MB/s")
			b.ReportMetric(mbps(disk), "disk-MB/s")
			b.ReportMetric(mbps(net)/mbps(disk), "ratio-vs-disk")
		})
	}
}
