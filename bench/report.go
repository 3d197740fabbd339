package bench

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Report is one `patchwire bench` run: bandwidth series and, when run,
// the load benchmark.
type Report struct {
	Generated time.Time       `json:"generated"`
	Command   string          `json:"command"`
	Host      Host            `json:"host"`
	Series    []*SeriesResult `json:"series,omitempty"`
	Load      *LoadReport     `json:"load,omitempty"`
}

// Host describes the machine a report was made on.
type Host struct {
	OS     string `json:"os"`
	Arch   string `json:"arch"`
	CPUs   int    `json:"cpus"`
	Go     string `json:"go"`
	Zstd   string `json:"zstd,omitempty"`
	Bsdiff string `json:"bsdiff,omitempty"`
	Nginx  string `json:"nginx,omitempty"`
}

// ThisHost describes this machine and the tools found.
func ThisHost(t Tools) Host {
	h := Host{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if t.Zstd != "" {
		h.Zstd = toolVersion(t.Zstd, "--version")
	}
	if t.Bsdiff != "" {
		h.Bsdiff = t.Bsdiff
	}
	return h
}

// Write writes the report as name.md, name.json and name.svg in dir.
func (r *Report) Write(dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, name)
	var md strings.Builder
	r.Markdown(&md, name+".svg")
	if err := os.WriteFile(base+".md", []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	var svg strings.Builder
	r.SVG(&svg)
	return os.WriteFile(base+".svg", []byte(svg.String()), 0o644)
}

// kb formats bytes as kB (1 kB = 1000 B); 0 is "–" (not measured).
func kb(n int64) string {
	switch {
	case n == 0:
		return "–"
	case n < 10_000:
		return fmt.Sprintf("%.2f", float64(n)/1000)
	case n < 100_000:
		return fmt.Sprintf("%.1f", float64(n)/1000)
	}
	return commas(int64(math.Round(float64(n) / 1000)))
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func mb(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1e6) }

func secs(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", d.Seconds())
}

func mib(n int64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", float64(n)/(1<<20))
}

// Markdown writes the tables; chart is the SVG's file name, linked when
// not empty.
func (r *Report) Markdown(w io.Writer, chart string) {
	fmt.Fprintf(w, "# patchwire bench\n\n")
	fmt.Fprintf(w, "Made by `%s` on %s (%s/%s, %d CPUs, %s", r.Command, r.Generated.UTC().Format("2006-01-02 15:04 MST"), r.Host.OS, r.Host.Arch, r.Host.CPUs, r.Host.Go)
	if r.Host.Zstd != "" {
		fmt.Fprintf(w, ", %s", r.Host.Zstd)
	}
	if r.Host.Nginx != "" {
		fmt.Fprintf(w, ", %s", r.Host.Nginx)
	}
	fmt.Fprintf(w, ").\n\n")
	if len(r.Series) > 0 {
		fmt.Fprintf(w, "## Bytes a device downloads per update\n\n")
		fmt.Fprintf(w, "kB = 1000 B. **zip**: the whole bundle, deflate -9. **capgo br**: file-level partial update as Capgo does it (files whose bytes the device lacks, each Brotli q%d). "+
			"**patchwire**: bytes the reference device received from a real in-process server (signed check answer + step + any whole objects), the update verified. "+
			"**zstd tar** / **bsdiff tar**: `zstd -19 --long=27 --patch-from` / `bsdiff` on deterministic tars of the whole bundles. "+
			"**per-file best**: per lacking file, the smallest of Brotli, zstd and bsdiff from the same path. "+
			"**answer**: of patchwire, the signed check answer (constant size: it names the target and one step). "+
			"**step**: of patchwire, the step and the whole objects it names, without the answer (the references carry no manifest either). "+
			"**×best**: patchwire (device bytes) / smallest reference. Every reference patch was applied back and compared.\n\n", BrotliQuality)
		if chart != "" {
			fmt.Fprintf(w, "![bytes per update](%s)\n\n", chart)
		}
		fmt.Fprintf(w, "| series | median ×best (consecutive) | pairs |\n|---|---|---|\n")
		for _, s := range r.Series {
			fmt.Fprintf(w, "| %s | **%.2f** | %d |\n", s.Name, s.MedianRatio, len(s.Pairs))
		}
		fmt.Fprintln(w)
		for _, s := range r.Series {
			fmt.Fprintf(w, "### %s\n\n", s.Name)
			fmt.Fprintf(w, "| pair | bundle MB | files lacking/total | zip | capgo br | **patchwire** | answer | step | zstd tar | bsdiff tar | per-file best | ×best |\n")
			fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
			for _, p := range s.Pairs {
				name := p.From + "→" + p.To
				if p.Skip {
					name += " (skip)"
				}
				fmt.Fprintf(w, "| %s | %s | %d/%d | %s | %s | **%s** | %s | %s | %s | %s | %s | %.2f |\n", name, mb(p.BundleBytes), p.Changed, p.Files,
					kb(p.FullZip), kb(p.Capgo), kb(p.Patchwire), kb(p.Answer), kb(p.Planned), kb(p.ZstdTar), kb(p.BsdiffTar), kb(p.PerFile), p.Ratio)
			}
			fmt.Fprintf(w, "\nEncode time (s) and peak memory (MiB): patchwire = the server's background patch jobs after the publish (all bases), the whole process's peak RSS %s MiB.\n\n", mib(s.ServerMaxRSS))
			fmt.Fprintf(w, "| pair | patchwire s | patches ready | device: reused/patched/fetched | zstd tar s | zstd MiB | bsdiff tar s | bsdiff MiB |\n|---|---|---|---|---|---|---|---|\n")
			for _, p := range s.Pairs {
				fmt.Fprintf(w, "| %s→%s | %s | %v | %d/%d/%d | %s | %s | %s | %s |\n", p.From, p.To, secs(p.ServerPatchTime), p.PatchesReady,
					p.Device.Reused, p.Device.Patched, p.Device.Fetched, secs(p.ZstdEncode), mib(p.ZstdMaxRSS), secs(p.BsdiffEncode), mib(p.BsdiffMaxRSS))
			}
			fmt.Fprintln(w)
		}
	}
	if r.Load != nil {
		r.Load.Markdown(w)
	}
}

// strategy is one line of the chart.
type strategy struct {
	name  string
	color string
	get   func(Pair) int64
	dash  string
}

var strategies = []strategy{
	{"zip", "#9e9e9e", func(p Pair) int64 { return p.FullZip }, "4 3"},
	{"capgo br", "#e07b39", func(p Pair) int64 { return p.Capgo }, "4 3"},
	{"per-file best", "#8e6bbf", func(p Pair) int64 { return p.PerFile }, "2 2"},
	{"bsdiff tar", "#3a923a", func(p Pair) int64 { return p.BsdiffTar }, "2 2"},
	{"zstd tar", "#2b6cb0", func(p Pair) int64 { return p.ZstdTar }, "2 2"},
	{"patchwire", "#d62728", func(p Pair) int64 { return p.Patchwire }, ""},
}

// SVG writes the chart: for each series a panel, x = pairs, y = bytes per
// update on a log scale, one line per strategy.
func (r *Report) SVG(w io.Writer) {
	const (
		width  = 900
		panelH = 260
		left   = 70
		right  = 150
		top    = 40
		gapY   = 70
	)
	n := max(1, len(r.Series))
	height := top + n*(panelH+gapY)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%d" y="22" font-size="15" font-weight="bold">Bytes a device downloads per update (log scale)</text>`+"\n", left)
	for si, s := range r.Series {
		y0 := top + si*(panelH+gapY) + 20
		plotW := width - left - right
		// Range over every value of the panel, in whole decades.
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range s.Pairs {
			for _, st := range strategies {
				if v := st.get(p); v > 0 {
					lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
				}
			}
		}
		if math.IsInf(lo, 0) {
			continue
		}
		dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
		if dhi <= dlo {
			dhi = dlo + 1
		}
		yOf := func(v float64) float64 {
			return float64(y0) + float64(panelH)*(1-(math.Log10(v)-dlo)/(dhi-dlo))
		}
		np := len(s.Pairs)
		xOf := func(i int) float64 {
			if np == 1 {
				return float64(left + plotW/2)
			}
			return float64(left) + 20 + float64(i)*float64(plotW-40)/float64(np-1)
		}
		fmt.Fprintf(w, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s (median patchwire/best %.2f×)</text>`+"\n", left, y0-8, html.EscapeString(s.Name), s.MedianRatio)
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", left, y0, plotW, panelH)
		for d := dlo; d <= dhi; d++ {
			y := yOf(math.Pow(10, d))
			fmt.Fprintf(w, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, left+plotW, y, y)
			fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, byteLabel(math.Pow(10, d)))
		}
		for i, p := range s.Pairs {
			label := p.To
			if p.Skip {
				label = p.From + "→" + p.To
			}
			fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", xOf(i), y0+panelH+14, html.EscapeString(label))
		}
		for k, st := range strategies {
			var pts []string
			for i, p := range s.Pairs {
				if v := st.get(p); v > 0 {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(i), yOf(float64(v))))
				}
			}
			if len(pts) == 0 {
				continue
			}
			sw := "1.5"
			if st.name == "patchwire" {
				sw = "2.5"
			}
			dash := ""
			if st.dash != "" {
				dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
			}
			fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="%s"%s points="%s"/>`+"\n", st.color, sw, dash, strings.Join(pts, " "))
			for _, pt := range pts {
				xy := strings.Split(pt, ",")
				fmt.Fprintf(w, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], st.color)
			}
			ly := y0 + 14 + k*18
			fmt.Fprintf(w, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="%s"%s/>`, left+plotW+10, left+plotW+34, ly-4, ly-4, st.color, sw, dash)
			fmt.Fprintf(w, `<text x="%d" y="%d">%s</text>`+"\n", left+plotW+40, ly, st.name)
		}
	}
	fmt.Fprintln(w, "</svg>")
}

func byteLabel(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%g GB", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%g MB", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%g kB", v/1e3)
	}
	return fmt.Sprintf("%g B", v)
}
