package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/patchwire/patchwire/server/servertest"
)

// BenchmarkObjectHandler measures the server's own work for one GET
// /o/{sha256} (the handler called directly: no network, no TLS), per
// object size: small objects live in Badger's LSM tree, larger ones in its
// value log. It is the server's share of BenchmarkObjectGET's time.
//
//	go test -run '^$' -bench ObjectHandler -benchmem ./server/
func BenchmarkObjectHandler(b *testing.B) {
	for _, n := range []int{4 << 10, 56 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			env := servertest.Start(b)
			url := "https://127.0.0.1/o/" + putObjects(b, env, randomBytes(n, 3))[0].String()
			h := env.Server.Handler()
			w := &discardWriter{h: http.Header{}}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				req, _ := http.NewRequest("GET", url, nil)
				req.RemoteAddr = "127.0.0.1:1"
				w.reset()
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
