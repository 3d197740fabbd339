package capgo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/servertest"
)

// httpsRate remembers the checks/s of the last https sub-benchmark of each
// case, so the http3 one can report the ratio between the two.
var httpsRate sync.Map

// BenchmarkUpdateCheck measures POST /updates against the live server on
// loopback: 4 goroutines per core over 4 keep-alive connections (HTTP/2 or
// HTTP/1.1 over TLS, or HTTP/3), 1000 distinct devices of an app with 10
// bundles and 3 channels. "up_to_date" devices already run the channel's
// bundle (the common case: every app start); "update" devices get the full
// answer with the manifest of a 30-file bundle. Reported: checks/s, p50 and
// p99 latency, and for http3 the ratio http3/https of checks/s. Client and
// server share the machine's cores.
//
//	go test ./server/capgo -run '^$' -bench UpdateCheck -benchtime 20000x
func BenchmarkUpdateCheck(b *testing.B) {
	env := servertest.Start(b)
	newApp(b, env, testApp)
	for i := 1; i <= 10; i++ {
		files := map[string][]byte{}
		for f := range 30 {
			files[fmt.Sprintf("assets/chunk-%02d.js", f)] = bytes.Repeat([]byte(fmt.Sprintf("export const v%d_%d = %d;\n", i*(f%3), f, f)), 400)
		}
		files["index.html"] = []byte("<!doctype html>")
		commitBundle(b, env, testApp, fmt.Sprintf("1.0.%d", i), files)
	}
	channel(b, env, testApp, "production", "1.0.10", nil)
	private := func(c *api.Channel) { c.Public, c.AllowSelfAssign = false, true }
	channel(b, env, testApp, "beta", "1.0.9", private)
	channel(b, env, testApp, "alpha", "1.0.8", private)

	for _, kind := range []string{"up_to_date", "update"} {
		bodies := make([][]byte, 1000)
		for i := range bodies {
			bodies[i], _ = json.Marshal(info(func(m map[string]any) {
				m["device_id"] = fmt.Sprintf("0f673663-459a-44c0-a7f5-%012d", i)
				if kind == "up_to_date" {
					m["version_name"] = "1.0.10"
				}
			}))
		}
		// Every device checks once and its record is written before the
		// measurement: devices that are new to the server are the rare case.
		warm := env.HTTP1Client()
		for _, body := range bodies {
			resp, err := warm.Post(env.URL+"/updates", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(1200 * time.Millisecond) // the writer flushes sightings every second
		for _, transport := range []string{"https", "https-h1", "http3"} {
			b.Run(kind+"/"+transport, func(b *testing.B) {
				const conns = 4
				var clients [conns]*http.Client
				for i := range clients {
					switch transport {
					case "https":
						clients[i] = env.HTTPSClient()
					case "https-h1":
						clients[i] = env.HTTP1Client()
					case "http3":
						clients[i] = env.HTTP3Client()
					}
				}
				url := env.URL + "/updates"
				var nextClient atomic.Int64
				check := func(c *http.Client, body []byte) {
					resp, err := c.Post(url, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
				for i, body := range bodies[:32] { // warm up the connections
					check(clients[i%conns], body)
				}
				var next atomic.Int64
				var mu sync.Mutex
				var lat []time.Duration
				b.SetParallelism(4)
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					c := clients[nextClient.Add(1)%conns]
					mine := make([]time.Duration, 0, 1024)
					for pb.Next() {
						body := bodies[next.Add(1)%int64(len(bodies))]
						t0 := time.Now()
						check(c, body)
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
				elapsed := time.Since(start)
				b.StopTimer()
				slices.Sort(lat)
				rate := float64(b.N) / elapsed.Seconds()
				b.ReportMetric(rate, "checks/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(0, "ns/op")
				if transport == "https" {
					httpsRate.Store(kind, rate)
				} else if r, ok := httpsRate.Load(kind); ok && transport == "http3" {
					b.ReportMetric(rate/r.(float64), "http3/https")
				}
			})
		}
	}
}
