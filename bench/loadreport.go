package bench

import (
	"fmt"
	"io"
)

// fmtCPU is CPU seconds, "?" when unknown (negative).
func fmtCPU(s float64) string {
	if s < 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f", s)
}

// fmtInt is n, "?" when unknown (negative).
func fmtInt(n int) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

// cpus is where the processes ran; reports from before the split shared
// the CPUs.
func (r *LoadReport) cpus() string {
	if r.CPUs == "" {
		return cpuSplit{}.String()
	}
	return r.CPUs
}

// Markdown writes the load tables.
func (r *LoadReport) Markdown(w io.Writer) {
	if r.Mode == "long" && r.Long != nil {
		r.markdownLong(w)
		return
	}
	fmt.Fprintf(w, "## Load: checks and downloads per second\n\n")
	fmt.Fprintf(w, "Server: %s (server figures from %s). %d simulated devices, %d requests in flight, %.1f s per phase (each target warmed for %.1f s unmeasured before its first phase over each protocol), %.0f%% of update checks followed by "+
		"their download (not in the check's latency); bundle %s MB in %d objects. All traffic on 127.0.0.1; the load generator, the server and each ceiling "+
		"are separate processes: %s. Server CPU s and peak RSS are the target process's alone, load-gen CPU s the generator's: where either nears the phase's seconds times its CPUs, that process bounds req/s, and a ratio near 1 says only that.\n\n",
		r.Server, r.ServerStats, r.Devices, r.Concurrency, r.Duration, r.Warmup, 100*r.DownloadShare, mb(r.BundleBytes), r.Objects, r.cpus())
	fmt.Fprintf(w, "| scenario | target | proto | req/s | p50 ms | p99 ms | errors | MB/s | server CPU s | load-gen CPU s | server peak RSS MiB |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "| %s | %s | %s | %.0f | %.2f | %.2f | %d | %.1f | %s | %.2f | %s |\n", p.Scenario, p.Target, p.Proto, p.PerSecond,
			p.P50ms, p.P99ms, p.Errors, p.BytesPerSec/1e6, fmtCPU(p.ServerCPU), p.LoadCPU, fmtMiB(p.ServerPeakRSS))
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintf(w, "\n| patchwire vs ceiling | proto | ceiling | patchwire | ceiling value | ratio | target |\n|---|---|---|---|---|---|---|\n")
		for _, x := range r.Ratios {
			scale, unit := 1.0, x.Unit
			if unit == "bytes/s" {
				scale, unit = 1e6, "MB/s"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.0f %s | %.0f %s | **%.2f** | ≥ %.1f |\n", x.Scenario, x.Proto, x.Ceiling,
				x.Patchwire/scale, unit, x.Value/scale, unit, x.Ratio, x.Target)
		}
	}
	fmt.Fprintf(w, "\nServer before seeding: RSS %s MiB, %s goroutines, %s FDs; after seeding: RSS %s MiB, %s goroutines, %s FDs; at the end of its phases: RSS %s MiB (peak %s MiB), %s goroutines, %s FDs. "+
		"Load generator peak RSS %s MiB.\n", fmtMiB(r.ServerIdle.RSS), fmtInt(r.ServerIdle.Goroutines), fmtInt(r.ServerIdle.FDs), fmtMiB(r.ServerStart.RSS), fmtInt(r.ServerStart.Goroutines), fmtInt(r.ServerStart.FDs),
		fmtMiB(r.ServerEnd.RSS), fmtMiB(r.ServerEnd.PeakRSS), fmtInt(r.ServerEnd.Goroutines), fmtInt(r.ServerEnd.FDs), fmtMiB(r.LoadPeakRSS))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	fmt.Fprintln(w)
}

// markdownLong writes the long run's tables.
func (r *LoadReport) markdownLong(w io.Writer) {
	l := r.Long
	fmt.Fprintf(w, "## Load: long run\n\n")
	fmt.Fprintf(w, "Server: %s (server figures from %s). %d simulated devices, each checking every %g s at its own offset (Capgo and native, "+
		"HTTP/2 and HTTP/3 in turn), %.1f%% of them on the old bundle downloading the update once; %d workers; %.0f s; %s.\n\n",
		r.Server, r.ServerStats, r.Devices, l.Interval, 100*r.DownloadShare, r.Concurrency, l.Seconds, r.cpus())
	fmt.Fprintf(w, "| checks | checks/s | p50 ms | p95 ms | p99 ms | errors | late | updates | downloads | MB |\n|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(w, "| %d | %.0f | %.2f | %.2f | %.2f | %d | %d | %d | %d | %.1f |\n\n", l.Checks, l.PerSecond, l.P50ms, l.P95ms, l.P99ms, l.Errors, l.Late,
		l.Updates, l.Downloads, float64(l.Bytes)/1e6)
	fmt.Fprintf(w, "| server | RSS MiB | peak RSS MiB | goroutines | FDs | CPU s |\n|---|---|---|---|---|---|\n")
	for _, s := range []struct {
		name string
		ProcStats
	}{{"before seeding", r.ServerIdle}, {"start", l.Start}, {"end", l.End}} {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", s.name, fmtMiB(s.RSS), fmtMiB(s.PeakRSS), fmtInt(s.Goroutines), fmtInt(s.FDs), fmtCPU(s.CPU))
	}
	if l.FirstError != "" {
		fmt.Fprintf(w, "\nFirst error: `%s`\n", l.FirstError)
	}
	fmt.Fprintf(w, "\nLoad generator peak RSS %s MiB.\n", fmtMiB(r.LoadPeakRSS))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	fmt.Fprintln(w)
}
