package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ProcStats is what the load benchmark knows of one process at one
// moment. A figure that is not known is -1.
type ProcStats struct {
	CPU        float64 `json:"cpu_s"`      // user+system CPU seconds since the process started
	RSS        int64   `json:"rss"`        // resident bytes now
	PeakRSS    int64   `json:"peak_rss"`   // peak resident bytes (VmHWM), -1 when only RSS is known
	FDs        int     `json:"fds"`        // open file descriptors
	Goroutines int     `json:"goroutines"` // from the server's /metrics go_goroutines
}

// unknownStats is a ProcStats with nothing known.
var unknownStats = ProcStats{CPU: -1, RSS: -1, PeakRSS: -1, FDs: -1, Goroutines: -1}

// probe reads a target process's figures: from /proc when it runs on this
// machine (pids set), else from its Prometheus /metrics (process_* and
// go_goroutines) when metrics is set, else nothing.
type probe struct {
	pids    func() []int // the processes on this machine, or nil
	metrics string       // https://HOST/metrics, or ""
	hc      *http.Client
}

// source says where the figures come from: "proc", "metrics" or "unknown".
func (p probe) source() string {
	switch {
	case p.pids != nil:
		return "proc"
	case p.metrics != "":
		return "metrics"
	}
	return "unknown"
}

func (p probe) read(ctx context.Context) ProcStats {
	s := unknownStats
	var m map[string]float64
	if p.metrics != "" && p.hc != nil {
		m = scrapeMetrics(ctx, p.hc, p.metrics)
	}
	if v, ok := m["go_goroutines"]; ok {
		s.Goroutines = int(v)
	}
	if p.pids != nil {
		s.CPU, s.RSS, s.PeakRSS, s.FDs = 0, 0, 0, 0
		for _, pid := range p.pids() {
			cpu, _ := procCPU(pid)
			rss, peak := procMem(pid)
			s.CPU, s.RSS, s.PeakRSS = s.CPU+cpu, s.RSS+max(rss, 0), s.PeakRSS+max(peak, 0)
			if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
				s.FDs += len(fds)
			}
		}
		return s
	}
	if v, ok := m["process_cpu_seconds_total"]; ok {
		s.CPU = v
	}
	if v, ok := m["process_resident_memory_bytes"]; ok {
		s.RSS = int64(v)
	}
	if v, ok := m["process_open_fds"]; ok {
		s.FDs = int(v)
	}
	return s
}

// scrapeMetrics reads the unlabelled samples of a Prometheus text page.
func scrapeMetrics(ctx context.Context, hc *http.Client, u string) map[string]float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.Fields(val)[0], 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// procCPU is utime+stime of pid from /proc/PID/stat.
func procCPU(pid int) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) <= 12 {
		return 0, false
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / clockTicks, true
}

// procMem is VmRSS and VmHWM of pid in bytes, -1 when unreadable.
func procMem(pid int) (rss, peak int64) {
	rss, peak = -1, -1
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, f := range []struct {
			key string
			to  *int64
		}{{"VmRSS:", &rss}, {"VmHWM:", &peak}} {
			if v, ok := strings.CutPrefix(line, f.key); ok {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
				*f.to = kb * 1024
			}
		}
	}
	return
}

// selfCPU is this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// withChildren is pid and its children, from /proc.
func withChildren(pid int) []int {
	out := []int{pid}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

// localPID finds the process listening on TCP port (for an external local
// server), 0 when unknown.
func localPID(port string) int {
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	var inode string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		hexPort := fmt.Sprintf(":%04X", p)
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 9 && strings.HasSuffix(f[1], hexPort) && f[3] == "0A" {
				inode = f[9]
			}
		}
	}
	if inode == "" {
		return 0
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == "socket:["+inode+"]" {
				return pid
			}
		}
	}
	return 0
}
