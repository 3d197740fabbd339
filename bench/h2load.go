package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProtoH2Load is the object phase over HTTP/2 with nghttp2's h2load as the
// client instead of the Go load generator: the same objects, one
// connection with Concurrency streams, as the Go client opens. h2load, in
// C, takes a fraction of the Go client's CPU per request, so on a machine
// whose cores the client and the target share the target's own cost per
// byte weighs more in its bytes/s.
const ProtoH2Load = "HTTP/2 h2load"

// h2loadResult is what one h2load run printed and logged.
type h2loadResult struct {
	seconds   float64
	requests  int64 // done
	errors    int64 // failed, errored or timed out
	dataBytes int64
	lats      []time.Duration // per request, from --log-file
	non200    int64
	tls       string // protocol and cipher negotiated
}

var (
	h2loadFinished = regexp.MustCompile(`(?m)^finished in ([0-9.]+)(ms|s),`)
	h2loadRequests = regexp.MustCompile(`(?m)^requests: (\d+) total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2loadTraffic  = regexp.MustCompile(`(?m)^traffic: .*\((\d+)\) data`)
	h2loadTLS      = regexp.MustCompile(`(?m)^TLS Protocol: (\S+)\s*\nCipher: (\S+)`)
)

// parseH2load reads h2load's summary (out) and its per-request log (tab
// separated: start µs, status, µs to the end of the response).
func parseH2load(out, log []byte) (h2loadResult, error) {
	var r h2loadResult
	m := h2loadFinished.FindSubmatch(out)
	q := h2loadRequests.FindSubmatch(out)
	tr := h2loadTraffic.FindSubmatch(out)
	if m == nil || q == nil || tr == nil {
		return r, fmt.Errorf("h2load printed no summary: %.300s", out)
	}
	r.seconds, _ = strconv.ParseFloat(string(m[1]), 64)
	if string(m[2]) == "ms" {
		r.seconds /= 1000
	}
	r.requests, _ = strconv.ParseInt(string(q[2]), 10, 64)
	for _, f := range q[3:] {
		n, _ := strconv.ParseInt(string(f), 10, 64)
		r.errors += n
	}
	r.dataBytes, _ = strconv.ParseInt(string(tr[1]), 10, 64)
	if t := h2loadTLS.FindSubmatch(out); t != nil {
		r.tls = string(t[1]) + " " + string(t[2])
	}
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			continue
		}
		r.lats = append(r.lats, time.Duration(us)*time.Microsecond)
		if f[1] != "200" {
			r.non200++
		}
	}
	if r.seconds <= 0 {
		return r, fmt.Errorf("h2load ran for %v s", r.seconds)
	}
	return r, nil
}

// measureObjectsH2load runs the h2load object phase against target at base
// and adds it to rep (its LoadCPU is h2load's); without h2load on PATH it
// adds a note instead.
func measureObjectsH2load(ctx context.Context, opt LoadOptions, rep *LoadReport, target, base string, pr probe, tg loadTarget, work string) {
	bin, err := exec.LookPath("h2load")
	if err != nil {
		const note = "h2load object phases skipped: h2load not installed (Debian: nghttp2-client)"
		if !slices.Contains(rep.Notes, note) {
			rep.Notes = append(rep.Notes, note)
			opt.Logf("load: %s", note)
		}
		return
	}
	opt.Logf("load: %s %s over %s for %s", target, ScenarioObject, ProtoH2Load, opt.Duration)
	name := strings.NewReplacer("/", "-", " ", "-").Replace(target)
	urls, logFile := filepath.Join(work, "h2load-"+name+".urls"), filepath.Join(work, "h2load-"+name+".log")
	var list strings.Builder
	for _, o := range tg.objects {
		list.WriteString(base + o + "\n")
	}
	if err := os.WriteFile(urls, []byte(list.String()), 0o600); err != nil {
		opt.Logf("load: h2load: %v", err)
		return
	}
	secs := max(1, int(opt.Duration.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, bin, "-D", strconv.Itoa(secs), "-c", "1", "-m", strconv.Itoa(opt.Concurrency),
		"--log-file", logFile, "-i", urls)
	s0 := pr.read(ctx)
	out, runErr := cmd.CombinedOutput()
	s1 := pr.read(ctx)
	logged, _ := os.ReadFile(logFile)
	res, err := parseH2load(out, logged)
	if err == nil {
		err = runErr
	}
	p := Phase{Scenario: ScenarioObject, Target: target, Proto: ProtoH2Load}
	if err != nil {
		p.Errors, p.FirstError = 1, "h2load: "+err.Error()
	} else {
		p.Requests, p.Errors, p.Downloads, p.Seconds = res.requests, res.errors+res.non200, res.requests-res.non200, res.seconds
		p.PerSecond, p.Bytes, p.BytesPerSec = float64(res.requests)/res.seconds, res.dataBytes, float64(res.dataBytes)/res.seconds
		p.P50ms, p.P95ms, p.P99ms = percentiles(res.lats)
		if res.tls != "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("h2load to %s: %s", target, res.tls))
		}
		if res.non200 > 0 {
			p.FirstError = fmt.Sprintf("%d answers not 200", res.non200)
		}
	}
	if cmd.ProcessState != nil {
		p.LoadCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	addPhase(opt, rep, p, s0, s1)
}
