package bench

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LongRun is the result of the long-run mode: Devices simulated devices,
// each checking once every Interval at its own offset (uniformly spread
// over the interval), half with the Capgo protocol and half with the
// native one, over HTTP/2 and HTTP/3 in turn. DownloadShare of them run
// the old bundle: their first check gets the update, which they download
// (Capgo: the zip; native: the step), and they are up to date after.
type LongRun struct {
	Interval  float64 `json:"interval_s"`
	Seconds   float64 `json:"seconds"`
	Checks    int64   `json:"checks"`
	Errors    int64   `json:"errors"`
	Updates   int64   `json:"updates"`   // checks that got an update
	Downloads int64   `json:"downloads"` // updates downloaded
	Bytes     int64   `json:"bytes"`     // every response body byte
	// Late counts checks that started more than a second after their
	// time because every worker was busy.
	Late      int64   `json:"late"`
	PerSecond float64 `json:"per_second"`
	// P50ms, P95ms, P99ms are check latencies (without the download).
	P50ms float64 `json:"p50_ms"`
	P95ms float64 `json:"p95_ms"`
	P99ms float64 `json:"p99_ms"`
	// Start and End are the server at the first and the last check.
	Start ProcStats `json:"start"`
	End   ProcStats `json:"end"`
	// Samples are the server's figures taken through the run.
	Samples    []LongSample `json:"samples"`
	FirstError string       `json:"first_error,omitempty"`
}

// LongSample is the server at one moment of a long run.
type LongSample struct {
	At     float64 `json:"at_s"`
	Checks int64   `json:"checks"`
	ProcStats
}

// runLong runs the long-run mode.
func runLong(ctx context.Context, opt LoadOptions, tg loadTarget, h2, h3 *http.Client, pr probe) (*LongRun, error) {
	h2, h3 = withTimeout(h2, longRequestTimeout), withTimeout(h3, longRequestTimeout)
	n := opt.Devices
	rnd := rand.New(rand.NewPCG(1, 2))
	offset := make([]time.Duration, n)
	for i := range offset {
		offset[i] = time.Duration(rnd.Int64N(int64(opt.Interval)))
	}
	behind := make([]atomic.Bool, n)
	for _, i := range rnd.Perm(n)[:int(float64(n)*opt.DownloadShare+0.5)] {
		behind[i].Store(true)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return int(offset[a] - offset[b]) })

	res := &LongRun{Interval: opt.Interval.Seconds()}
	opt.Logf("load: long run, %d devices checking every %s for %s, %d behind", n, opt.Interval, opt.Duration, int(float64(n)*opt.DownloadShare+0.5))
	type job struct {
		dev int
		due time.Time
	}
	jobs := make(chan job, opt.Concurrency)
	var checks, errs, updates, dls, bytesN, late atomic.Int64
	var firstErr atomic.Value
	lats := make([][]time.Duration, opt.Concurrency)
	var wg sync.WaitGroup
	for w := range opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if time.Since(j.due) > time.Second {
					late.Add(1)
				}
				hc := h2
				if (j.dev/2)%2 == 1 && !opt.NoHTTP3 {
					hc = h3
				}
				from := tg.cur
				old := behind[j.dev].Load()
				if old {
					from = tg.old
				}
				var s shot
				if j.dev%2 == 0 {
					s = capgoRequest(ctx, hc, tg, j.dev, from, old)
				} else {
					s = nativeRequest(ctx, hc, tg, j.dev, from, old)
				}
				checks.Add(1)
				bytesN.Add(s.n)
				lats[w] = append(lats[w], s.lat)
				if old {
					updates.Add(1)
				}
				if s.err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, s.err.Error())
					continue
				}
				if s.dl {
					dls.Add(1)
					behind[j.dev].Store(false)
				}
			}
		}()
	}

	start := time.Now()
	end := start.Add(opt.Duration)
	res.Start = pr.read(ctx)
	res.Samples = append(res.Samples, LongSample{At: 0, ProcStats: res.Start})
	every := max(opt.Duration/20, time.Second)
	sampleDone := make(chan struct{})
	stopSample := make(chan struct{})
	go func() {
		defer close(sampleDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopSample:
				return
			case <-t.C:
				s := pr.read(ctx)
				res.Samples = append(res.Samples, LongSample{At: time.Since(start).Seconds(), Checks: checks.Load(), ProcStats: s})
				opt.Logf("  %.0f s: %d checks, %d errors, server RSS %s MiB, %d goroutines, %d FDs", time.Since(start).Seconds(), checks.Load(), errs.Load(),
					fmtMiB(s.RSS), s.Goroutines, s.FDs)
			}
		}
	}()
dispatch:
	for round := 0; ; round++ {
		for _, dev := range order {
			due := start.Add(time.Duration(round)*opt.Interval + offset[dev])
			if !due.Before(end) {
				break dispatch
			}
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					break dispatch
				case <-time.After(d):
				}
			}
			select {
			case jobs <- job{dev, due}:
			case <-ctx.Done():
				break dispatch
			}
		}
	}
	close(jobs)
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	close(stopSample)
	<-sampleDone
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.End = pr.read(ctx)
	res.Samples = append(res.Samples, LongSample{At: res.Seconds, Checks: checks.Load(), ProcStats: res.End})
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	res.P50ms, res.P95ms, res.P99ms = percentiles(all)
	res.Checks, res.Errors, res.Updates, res.Downloads, res.Bytes, res.Late = checks.Load(), errs.Load(), updates.Load(), dls.Load(), bytesN.Load(), late.Load()
	res.PerSecond = float64(res.Checks) / res.Seconds
	if e, ok := firstErr.Load().(string); ok {
		res.FirstError = e
	}
	return res, nil
}

// longRequestTimeout bounds each request of a long run, which lasts
// longer than any request should.
const longRequestTimeout = time.Minute

// withTimeout is hc with each request bounded by d.
func withTimeout(hc *http.Client, d time.Duration) *http.Client {
	c := *hc
	c.Timeout = d
	return &c
}
