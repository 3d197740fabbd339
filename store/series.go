package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/patchwire/patchwire/api"
)

// Time-bucketed counters (sh/): every write of the per-bundle counters
// (sb/) also adds its deltas to the hour it happens in, and records the
// device gauge as it stands after the write. A series query sums the
// hours into the buckets asked for and carries each gauge forward through
// hours nothing changed in.
const pfxSeries = "sh/"

// SeriesRetention is how long hour buckets are kept; ExpireDevices prunes
// older ones, keeping the newest gauge of every channel and bundle so that
// it can still be carried forward.
const SeriesRetention = 90 * 24 * time.Hour

// errStopScan ends a scan early without an error.
var errStopScan = errors.New("stop scan")

// MaxSeriesBuckets bounds the buckets one series query answers.
const MaxSeriesBuckets = 2000

// seriesPrefix is the prefix of app's sh/ keys.
func seriesPrefix(app string) []byte { return appScopedPrefix(pfxSeries, app) }

// seriesKey names the hour bucket of one channel and bundle:
// sh/<app>\x00<hour, Unix seconds, big-endian uint64><channel>\x00<bundle>.
func seriesKey(k counterKey, hour int64) []byte {
	key := seriesPrefix(k.app)
	key = binary.BigEndian.AppendUint64(key, uint64(hour))
	key = append(key, k.channel...)
	key = append(key, 0)
	return append(key, k.bundle...)
}

// parseSeriesKey splits the part of an sh/ key after its app prefix.
func parseSeriesKey(rest []byte) (hour int64, channel, bundle string, ok bool) {
	if len(rest) < 9 {
		return 0, "", "", false
	}
	hour = int64(binary.BigEndian.Uint64(rest[:8]))
	ch, b, ok := bytes.Cut(rest[8:], []byte{0})
	return hour, string(ch), string(b), ok
}

// hourOf is the start of t's hour, in Unix seconds.
func hourOf(t time.Time) int64 { return t.Unix() - t.Unix()%3600 }

// addSeries adds delta to the hour bucket of k at now and sets its device
// gauge to devices (the sb/ value after the write).
func addSeries(txn kvTxn, k counterKey, now time.Time, delta bundleCounters, devices int64) error {
	key := seriesKey(k, hourOf(now))
	var c bundleCounters
	v, ok, err := getValue(txn, key)
	if err != nil {
		return err
	}
	if ok {
		_ = json.Unmarshal(v, &c) // a bucket that does not decode restarts from zero
	}
	c.add(delta)
	c.Devices = devices
	enc, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return txn.Set(key, enc)
}

// SeriesQuery selects what StatsSeries returns.
type SeriesQuery struct {
	Bucket   string    // api.BucketHour or api.BucketDay
	From, To time.Time // buckets whose start lies in [From, To]
	Channel  string    // "" for every channel
	Bundle   string    // "" for every bundle
}

// StatsSeries returns app's counters per bundle version and time bucket
// (api.StatsSeries). Buckets are UTC hours or days; From is rounded down to
// a bucket start. Versions with nothing in the range are left out. A range
// of more than MaxSeriesBuckets buckets, or an unknown bucket, is ErrInvalid.
func (s *Store) StatsSeries(ctx context.Context, app string, q SeriesQuery) (api.StatsSeries, error) {
	if err := ValidateAppID(app); err != nil {
		return api.StatsSeries{}, fmt.Errorf("stats series: %w", err)
	}
	var step int64
	switch q.Bucket {
	case api.BucketHour:
		step = 3600
	case api.BucketDay:
		step = 86400
	default:
		return api.StatsSeries{}, fmt.Errorf("stats series: %w", invalid("bucket", q.Bucket, "must be hour or day"))
	}
	from, to := q.From.Unix(), q.To.Unix()
	from -= from % step
	if to < from {
		return api.StatsSeries{}, fmt.Errorf("stats series: %w", invalid("range", fmt.Sprint(q.From.Unix(), "-", to), "to is before from"))
	}
	n := (to-from)/step + 1
	if n > MaxSeriesBuckets {
		return api.StatsSeries{}, fmt.Errorf("stats series: %w", invalid("range", fmt.Sprint(n, " buckets"), fmt.Sprintf("at most %d buckets", MaxSeriesBuckets)))
	}
	end := from + n*step // the end of the last bucket
	out := api.StatsSeries{App: app, Bucket: q.Bucket, From: from, To: to, Channel: q.Channel,
		Times: make([]int64, n), Series: []api.Series{}}
	for i := range out.Times {
		out.Times[i] = from + int64(i)*step
	}
	// The gauge of each channel and bundle as of the bucket being filled,
	// and the series being built, by version.
	type pair struct{ channel, bundle string }
	gauge := map[pair]int64{}
	series := map[string]*api.Series{}
	get := func(version string) *api.Series {
		sr := series[version]
		if sr == nil {
			sr = &api.Series{Version: version, Devices: make([]int64, n), Checks: make([]int64, n),
				Downloads: make([]int64, n), Installs: make([]int64, n), Failures: make([]int64, n), Rollbacks: make([]int64, n),
				BytesServed: make([]int64, n), BytesFull: make([]int64, n)}
			series[version] = sr
		}
		return sr
	}
	// fill writes the gauges into the buckets before index upTo.
	filled := int64(0)
	fill := func(upTo int64) {
		for ; filled < upTo && filled < n; filled++ {
			for p, d := range gauge {
				if d != 0 {
					get(p.bundle).Devices[filled] += d
				}
			}
		}
	}
	prefix := seriesPrefix(app)
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, prefix, true, func(key, v []byte) error {
			hour, channel, bundle, ok := parseSeriesKey(key[len(prefix):])
			if !ok {
				return nil
			}
			if hour >= end { // keys are in hour order: nothing later is wanted
				return errStopScan
			}
			if q.Channel != "" && channel != q.Channel || q.Bundle != "" && bundle != q.Bundle {
				return nil
			}
			var c bundleCounters
			if err := decodeRecord(key, v, &c); err != nil {
				return err
			}
			idx := (hour - from) / step
			if hour < from {
				idx = -1
			}
			fill(idx) // buckets before this one end with the gauges as they were
			gauge[pair{channel, bundle}] = c.Devices
			if idx >= 0 {
				sr := get(bundle)
				sr.Checks[idx] += c.Checks
				sr.Downloads[idx] += c.Downloads
				sr.Installs[idx] += c.Installs
				sr.Failures[idx] += c.Failures
				sr.Rollbacks[idx] += c.Rollbacks
				sr.BytesServed[idx] += c.BytesServed
				sr.BytesFull[idx] += c.BytesFull
			}
			return ctx.Err()
		})
	})
	if err != nil && err != errStopScan {
		return api.StatsSeries{}, fmt.Errorf("stats series: %w", err)
	}
	// The last bucket that has begun carries the gauges to now; later
	// buckets have no devices yet.
	fill(min(n, (hourOf(s.now())-from)/step+1))
	for _, sr := range series {
		if !allZero(sr) {
			out.Series = append(out.Series, *sr)
		}
	}
	sortSeries(out.Series)
	return out, nil
}

func allZero(sr *api.Series) bool {
	for _, xs := range [][]int64{sr.Devices, sr.Checks, sr.Downloads, sr.Installs, sr.Failures, sr.Rollbacks, sr.BytesServed, sr.BytesFull} {
		for _, x := range xs {
			if x != 0 {
				return false
			}
		}
	}
	return true
}

// sortSeries orders series as BundleStats orders bundles.
func sortSeries(ss []api.Series) {
	bs := make([]api.BundleStats, len(ss))
	byVersion := make(map[string]api.Series, len(ss))
	for i, sr := range ss {
		bs[i].Version = sr.Version
		byVersion[sr.Version] = sr
	}
	sortVersionsDesc(bs)
	for i, b := range bs {
		ss[i] = byVersion[b.Version]
	}
}

// pruneSeries deletes hour buckets older than SeriesRetention, but for the
// newest bucket of each app, channel and bundle, which holds the gauge
// later buckets carry forward. It returns how many it deleted.
func (s *Store) pruneSeries(ctx context.Context) (int, error) {
	cutoff := hourOf(s.now().Add(-SeriesRetention))
	var old [][]byte
	newest := map[string]int{} // app\x00channel\x00bundle → index in old
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, []byte(pfxSeries), false, func(key, v []byte) error {
			k := key[len(pfxSeries):]
			app, rest, ok := bytes.Cut(k, []byte{0})
			if !ok {
				return nil
			}
			hour, channel, bundle, ok := parseSeriesKey(rest)
			if !ok {
				return nil
			}
			id := string(app) + "\x00" + channel + "\x00" + bundle
			if hour >= cutoff {
				// A bucket within the retention holds the gauge from
				// here on: the newest old one may go too.
				delete(newest, id)
				return ctx.Err()
			}
			if i, seen := newest[id]; seen {
				// Keys of an app are ordered by hour: the earlier one goes.
				prev := old[i]
				old[i] = bytes.Clone(key)
				old = append(old, prev)
				return ctx.Err()
			}
			newest[id] = len(old)
			old = append(old, bytes.Clone(key))
			return ctx.Err()
		})
	})
	if err != nil {
		return 0, fmt.Errorf("prune series: %w", err)
	}
	keep := make(map[int]bool, len(newest))
	for _, i := range newest {
		keep[i] = true
	}
	var doomed [][]byte
	for i, k := range old {
		if !keep[i] {
			doomed = append(doomed, k)
		}
	}
	sort.Slice(doomed, func(i, j int) bool { return bytes.Compare(doomed[i], doomed[j]) < 0 })
	deleted := len(doomed)
	for len(doomed) > 0 {
		batch := doomed[:min(len(doomed), 1000)]
		doomed = doomed[len(batch):]
		if err := s.updateData(ctx, func(txn kvTxn) error {
			for _, k := range batch {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, fmt.Errorf("prune series: %w", err)
		}
	}
	return deleted, nil
}
