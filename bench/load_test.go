package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunLoad runs every load phase briefly against an in-process server
// (and nginx when installed).
func TestRunLoad(t *testing.T) {
	rep, err := RunLoad(context.Background(), LoadOptions{Devices: 20, Concurrency: 4, Duration: 400 * time.Millisecond, DownloadShare: 0.2, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) < 6 {
		t.Fatalf("%d phases: %+v", len(rep.Phases), rep.Phases)
	}
	for _, p := range rep.Phases {
		if p.Requests == 0 || p.Errors != 0 || p.Bytes == 0 {
			t.Errorf("%s %s %s: %+v", p.Target, p.Name, p.Proto, p)
		}
		if p.Target == "patchwire" && strings.Contains(p.Name, "check") && p.Downloads == 0 {
			t.Errorf("%s %s: no downloads", p.Name, p.Proto)
		}
	}
	var b strings.Builder
	rep.Markdown(&b)
	t.Logf("\n%s", b.String())
}

func TestLoadRefusesRemote(t *testing.T) {
	if _, err := RunLoad(context.Background(), LoadOptions{Server: "https://example.com", App: "a.b"}); err == nil {
		t.Fatal("a remote server was accepted")
	}
}
