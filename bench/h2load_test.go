package bench

import (
	"strings"
	"testing"
)

// h2loadSample is what h2load 1.52 printed for a 1 s run against nginx.
const h2loadSample = `starting benchmark...
spawning thread #0: 1 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
TLS Protocol: TLSv1.2
Cipher: ECDHE-ECDSA-AES128-GCM-SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
Stopped all clients for thread #0

finished in 1.00s, 9682.00 req/s, 726.21MB/s
requests: 9682 total, 9686 started, 9682 done, 9682 succeeded, 0 failed, 2 errored, 1 timeout
status codes: 9683 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 726.21MB (761484148) total, 1.10MB (1151796) headers (space savings 39.00%), 724.19MB (759364974) data
                     min         max         mean         sd        +/- sd
time for request:       43us      3.23ms       389us       255us    66.84%
`

func TestParseH2load(t *testing.T) {
	log := "1796615658207590\t200\t723\n1796615658207591\t200\t1614\n1796615658207592\t404\t2329\nnot a line\n"
	for _, tc := range []struct {
		name, out, log string
		wantErr        string
	}{
		{"summary and log", h2loadSample, log, ""},
		{"finished in ms", strings.Replace(h2loadSample, "finished in 1.00s", "finished in 1000.00ms", 1), log, ""},
		{"no summary", "starting benchmark...\nconnect failed\n", "", "no summary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseH2load([]byte(tc.out), []byte(tc.log))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.seconds != 1 || r.requests != 9682 || r.errors != 3 || r.dataBytes != 759364974 || len(r.lats) != 3 || r.non200 != 1 ||
				r.tls != "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256" {
				t.Errorf("parsed %+v", r)
			}
		})
	}
}

// FuzzParseH2load: any output and log parse or fail without a panic.
func FuzzParseH2load(f *testing.F) {
	f.Add([]byte(h2loadSample), []byte("1\t200\t723\n"))
	f.Fuzz(func(t *testing.T, out, log []byte) {
		_, _ = parseH2load(out, log)
	})
}
