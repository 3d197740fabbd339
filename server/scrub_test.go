package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchwire/patchwire/server/servertest"
	"github.com/patchwire/patchwire/store"
)

// metricsText fetches /metrics.
func metricsText(t *testing.T, env *servertest.Env) string {
	t.Helper()
	resp, err := env.HTTPSClient().Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(b)
}

func wantMetrics(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("/metrics lacks %q", w)
		}
	}
}

// TestScrubCountsCorruptObjects (issue 14 item 9): the scheduled scrub
// (Server.Scrub, run by RunScrub every --scrub-interval) finds an object a
// failing disk damaged in the value log and reports it in the metrics.
func TestScrubCountsCorruptObjects(t *testing.T) {
	env := servertest.Start(t)
	newApp(t, env)
	big := randomBytes(256<<10, 1) // incompressible, above the value threshold: in the value log
	z := zipOf(t, map[string]string{"index.html": "<h1>scrub</h1>", "big.bin": string(big)})
	if status, e := putBundle(t, env, "1.0.0", z); status != http.StatusCreated {
		t.Fatalf("upload: %d %+v", status, e)
	}

	ctx := context.Background()
	rep, err := env.Server.Scrub(ctx)
	if err != nil || !rep.OK() || rep.Objects != 2 {
		t.Fatalf("first scrub: %+v, %v", rep, err)
	}
	wantMetrics(t, metricsText(t, env),
		`patchwire_scrub_runs_total{result="ok"} 1`,
		`patchwire_scrub_corrupt_objects 0`,
		`patchwire_scrub_objects_checked 2`,
	)

	// Flip one byte of the big file inside its value-log file.
	env.Stop()
	vlogs, _ := filepath.Glob(filepath.Join(env.Dir, "db", "*.vlog"))
	damaged := false
	for _, p := range vlogs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, big[1000:1064]); i >= 0 {
			b[i+10] ^= 0xff
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			damaged = true
		}
	}
	if !damaged {
		t.Fatalf("the object's bytes are in none of %v", vlogs)
	}
	env.Restart()

	before := time.Now()
	rep, err = env.Server.Scrub(ctx)
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != store.ProblemCorruptObject {
		t.Fatalf("scrub after damage: %+v, %v; want one corrupt object", rep, err)
	}
	text := metricsText(t, env)
	wantMetrics(t, text,
		`patchwire_scrub_runs_total{result="problems"} 1`,
		`patchwire_scrub_corrupt_objects 1`,
		`patchwire_scrub_problems{kind="corrupt_object"} 1`,
		`patchwire_scrub_problems{kind="missing_object"} 0`,
		`patchwire_scrub_objects_checked 1`,
		`patchwire_store_read_only 0`,
	)
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "patchwire_scrub_last_success_timestamp_seconds "); ok {
			var ts float64
			if _, err := fmt.Sscan(v, &ts); err != nil || ts < float64(before.Unix()) {
				t.Errorf("last success %q, want at least %d", v, before.Unix())
			}
		}
	}

	// The loop runs the same scrub on its schedule.
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { env.Server.RunScrub(sctx, 10*time.Millisecond); close(done) }()
	// Stopped before the store closes, also when the test fails.
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// At least one more run (it may have run several times already).
		if scrubRuns(metricsText(t, env)) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunScrub did not scrub")
		}
	}
}

// scrubRuns reads patchwire_scrub_runs_total{result="problems"} from a
// metrics text, 0 when absent.
func scrubRuns(text string) int {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, `patchwire_scrub_runs_total{result="problems"} `); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}
