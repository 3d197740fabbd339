package server

import (
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/server/capgo"
)

// Defaults of the device-endpoint token buckets, as `patchwire serve` sets
// them (Limits leaves them 0: off). Per address: 50 requests a second,
// bursts of 200. A carrier-grade NAT shares one IPv4 address among the
// subscribers whose port blocks fit in it, typically tens to a few
// hundred; a device sends about three requests when its app starts (a
// check, stats, sometimes a channel call), so 200 of them starting in the
// same second pass, and 50 a second is far more than such a crowd sends on
// average, yet a flood from one address (16.5k req/s measured) is cut to
// it. Per device: 1 a second, bursts of 10: a start-up sequence passes
// whole, while a device's normal pace is one check every few minutes. A
// limited plugin honours Retry-After (it stops checks, channel calls and
// stats until then), so a false positive costs a late check, not an error.
const (
	DefaultDeviceRate           = 50
	DefaultDeviceBurst          = 200
	DefaultDeviceRatePerDevice  = 1
	DefaultDeviceBurstPerDevice = 10
)

// CheckDeviceRates refuses device rate limits that are not numbers of
// requests: a negative, infinite or NaN rate, or a negative burst.
func CheckDeviceRates(l Limits) error {
	for _, r := range []struct {
		rateFlag, burstFlag string
		rate                float64
		burst               int
	}{
		{"device-rate", "device-burst", l.DeviceRate, l.DeviceBurst},
		{"device-rate-per-device", "device-burst-per-device", l.DeviceRatePerDevice, l.DeviceBurstPerDevice},
	} {
		if !(r.rate >= 0) || math.IsInf(r.rate, 0) {
			return fmt.Errorf("--%s %v: must be 0 (no limit) or a positive number of requests a second", r.rateFlag, r.rate)
		}
		if r.burst < 0 {
			return fmt.Errorf("--%s %d: must be 0 or more", r.burstFlag, r.burst)
		}
	}
	return nil
}

// Sizes of the bucket tables: entries, fixed at start (24 bytes each).
const (
	addrBucketEntries   = 1 << 16 // 1.5 MiB
	deviceBucketEntries = 1 << 17 // 3 MiB
)

// bucketWays is the associativity of a bucket table: a key lives in one
// set of this many entries, and a new key evicts the one of them that
// would have the most tokens now (a full one loses nothing).
const bucketWays = 4

// bucketShards splits a table's lock.
const bucketShards = 64

// tokenBuckets is a fixed-size table of token buckets keyed by a 64-bit
// hash of a string (client address or device id): memory is allocated
// once, and taking a token allocates nothing. Safe for concurrent use.
type tokenBuckets struct {
	perNano float64 // tokens added per nanosecond
	burst   float64
	seed    maphash.Seed
	// now is the time in nanoseconds since the table was made (monotonic:
	// time.Since reads only the monotonic clock, cheaper than time.Now).
	now    func() int64
	nSets  uint64 // sets per shard
	shards [bucketShards]bucketShard
}

type bucketShard struct {
	mu   sync.Mutex
	sets [][bucketWays]bucket
	_    [40]byte // keep shards' locks on separate cache lines
}

// bucket is one key's state: tokens at time at (nanoseconds since start).
// key 0 marks a free entry.
type bucket struct {
	key    uint64
	at     int64
	tokens float64
}

// newTokenBuckets returns a table of about entries buckets refilled at rate
// tokens a second up to burst (at least 1), or nil when rate is not above
// 0 or is infinite (off; CheckDeviceRates refuses those flags).
func newTokenBuckets(rate float64, burst, entries int) *tokenBuckets {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(rate)))
	}
	start := time.Now()
	t := &tokenBuckets{
		perNano: rate / float64(time.Second),
		burst:   float64(burst),
		seed:    maphash.MakeSeed(),
		now:     func() int64 { return int64(time.Since(start)) },
		nSets:   uint64(max(1, entries/(bucketShards*bucketWays))),
	}
	for i := range t.shards {
		t.shards[i].sets = make([][bucketWays]bucket, t.nSets)
	}
	return t
}

// take spends one of key's tokens. It reports whether there was one, and
// if not, how long until there will be.
func (t *tokenBuckets) take(key string) (time.Duration, bool) {
	h := maphash.String(t.seed, key)
	if h == 0 {
		h = 1
	}
	now := t.now()
	sh := &t.shards[h%bucketShards]
	sh.mu.Lock()
	set := &sh.sets[(h/bucketShards)%t.nSets]
	var b *bucket
	best := -1.0
	for i := range set {
		e := &set[i]
		if e.key == h {
			b = e
			break
		}
		avail := math.Inf(1)
		if e.key != 0 {
			avail = t.refill(e, now)
		}
		if avail > best {
			b, best = e, avail
		}
	}
	if b.key != h {
		*b = bucket{key: h, at: now, tokens: t.burst}
	} else {
		b.tokens, b.at = t.refill(b, now), now
	}
	if b.tokens >= 1 {
		b.tokens--
		sh.mu.Unlock()
		return 0, true
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / t.perNano))
	sh.mu.Unlock()
	return wait, false
}

// refill is e's tokens at now.
func (t *tokenBuckets) refill(e *bucket, now int64) float64 {
	return min(t.burst, e.tokens+float64(now-e.at)*t.perNano)
}

// used counts the occupied entries (for tests and metrics).
func (t *tokenBuckets) used() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, set := range sh.sets {
			for _, e := range set {
				if e.key != 0 {
					n++
				}
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// capacity is the number of entries the table holds.
func (t *tokenBuckets) capacity() int { return bucketShards * int(t.nSets) * bucketWays }

// deviceLimiter holds the token buckets of the device endpoints: one table
// per client address, checked before a request is read, and one per device
// id, checked once the body names it. A nil table is off.
type deviceLimiter struct {
	addr, device *tokenBuckets
	now          func() time.Time
	// refusedAddr and refusedDevice count the 429s of each table
	// (patchwire_rate_limited_total); nil until register.
	refusedAddr, refusedDevice prometheus.Counter
}

// register adds the limiter's counter to reg.
func (l *deviceLimiter) register(reg *prometheus.Registry) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "patchwire_rate_limited_total",
		Help: "Device requests refused with 429, by the bucket that ran out: per client address (IPv6 by /64) or per device id.",
	}, []string{"limit"})
	reg.MustRegister(v)
	l.refusedAddr, l.refusedDevice = v.WithLabelValues("address"), v.WithLabelValues("device")
}

// refused counts one 429 of c (nil: not registered).
func refused(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}

// addrKey is the address bucket a client falls in: its IPv4 address, or
// the /64 of an IPv6 one (one subscriber's whole prefix: a host picks any
// address of its /64, so per-address buckets would not bind it). Anything
// that does not parse is its own key.
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() || a.Is4In6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

func newDeviceLimiter(l Limits) *deviceLimiter {
	return &deviceLimiter{
		addr:   newTokenBuckets(l.DeviceRate, l.DeviceBurst, addrBucketEntries),
		device: newTokenBuckets(l.DeviceRatePerDevice, l.DeviceBurstPerDevice, deviceBucketEntries),
		now:    time.Now,
	}
}

// isDevicePath reports whether path is a device endpoint the buckets
// guard: the Capgo /updates (and manifest_size), /stats, /channel_self and
// the native /v1/check. Objects (/o/) and patches (/d/) are not: a CDN may
// fetch them for a whole fleet from one address.
func isDevicePath(path string) bool {
	switch path {
	case capgo.PathUpdates, capgo.PathManifestSize, capgo.PathStats, capgo.PathChannelSelf, api.PathCheck:
		return true
	}
	return false
}

// wrap applies the per-address buckets to the device endpoints of next;
// clientIP names the client (the peer, or what a trusted proxy forwarded).
func (l *deviceLimiter) wrap(clientIP func(*http.Request) string, next http.Handler) http.Handler {
	if l.addr == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isDevicePath(r.URL.Path) {
			if wait, ok := l.addr.take(addrKey(clientIP(r))); !ok {
				refused(l.refusedAddr)
				l.tooMany(w, r, wait)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deviceAllowed is the per-device check (capgo.Deps.DeviceLimit); with the
// per-device buckets off it always admits.
func (l *deviceLimiter) deviceAllowed(deviceID string) (time.Duration, bool) {
	if l.device == nil || deviceID == "" {
		return 0, true
	}
	wait, ok := l.device.take(deviceID)
	if !ok {
		refused(l.refusedDevice)
	}
	return wait, ok
}

// admitNative applies the per-device buckets to a native check; it
// answers the 429 itself.
func (l *deviceLimiter) admitNative(w http.ResponseWriter, r *http.Request, deviceID string) bool {
	wait, ok := l.deviceAllowed(strings.ToLower(deviceID))
	if !ok {
		l.tooMany(w, r, wait)
	}
	return ok
}

// tooMany answers 429 with Retry-After: Capgo's too_many_requests shape on
// the Capgo endpoints, the API error shape on /v1/check.
func (l *deviceLimiter) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	if r.URL.Path != api.PathCheck {
		capgo.WriteTooManyRequests(w, wait, l.now())
		return
	}
	secs := retryAfterSeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, api.Error{Code: api.CodeTooManyRequests,
		Message: fmt.Sprintf("too many requests from this device or address; retry after %d s", secs)})
}

// retryAfterSeconds is a wait as Retry-After says it: whole seconds, at
// least 1.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
