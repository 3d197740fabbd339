package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// fakeClock drives a tokenBuckets' time.
type fakeClock struct{ ns int64 }

func (c *fakeClock) now() int64          { return c.ns }
func (c *fakeClock) add(d time.Duration) { c.ns += int64(d) }

func withClock(t *tokenBuckets) *fakeClock {
	c := &fakeClock{}
	t.now = c.now
	return c
}

func TestTokenBucketsRefill(t *testing.T) {
	b := newTokenBuckets(2, 3, 4096) // 2 a second, bursts of 3
	clk := withClock(b)
	type step struct {
		advance time.Duration
		ok      bool
		wait    time.Duration
	}
	for i, s := range []step{
		{0, true, 0}, {0, true, 0}, {0, true, 0}, // the burst
		{0, false, 500 * time.Millisecond},
		{200 * time.Millisecond, false, 300 * time.Millisecond},
		{300 * time.Millisecond, true, 0},
		{0, false, 500 * time.Millisecond},
		{time.Hour, true, 0}, // refilled to the burst, not beyond
		{0, true, 0}, {0, true, 0},
		{0, false, 500 * time.Millisecond},
	} {
		clk.add(s.advance)
		wait, ok := b.take("k")
		if ok != s.ok || (wait-s.wait).Abs() > time.Microsecond {
			t.Errorf("step %d: %v %v, want %v %v", i, ok, wait, s.ok, s.wait)
		}
	}
	if _, ok := b.take("other"); !ok {
		t.Error("another key shares the bucket")
	}
	if newTokenBuckets(0, 10, 100) != nil || newTokenBuckets(-1, 10, 100) != nil {
		t.Error("rate 0 must be off")
	}
	if b := newTokenBuckets(0.5, 0, 100); b.burst != 1 {
		t.Errorf("burst 0 at 0.5/s = %v, want 1", b.burst)
	}
}

// TestTokenBucketsMemoryBound: the table is allocated once; a million
// distinct keys (a spoofed device id per request) never grow it, and
// taking a token allocates nothing.
func TestTokenBucketsMemoryBound(t *testing.T) {
	b := newTokenBuckets(1, 10, 4096)
	capacity := b.capacity()
	if capacity > 4096 || capacity < 2048 {
		t.Fatalf("capacity %d for 4096 entries", capacity)
	}
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	for _, k := range keys {
		b.take(k)
	}
	if used := b.used(); used > capacity || b.capacity() != capacity {
		t.Errorf("%d entries used, capacity %d", used, capacity)
	}
	if allocs := testing.AllocsPerRun(1000, func() { b.take("0123456789abcdef") }); allocs != 0 {
		t.Errorf("take allocates %v times", allocs)
	}
}

// TestTokenBucketsChurnKeepsDebt: new keys evict the fullest entry of their
// set, so a flood of fresh keys does not forgive a key that is in debt.
func TestTokenBucketsChurnKeepsDebt(t *testing.T) {
	b := newTokenBuckets(0.001, 10, 1024)
	withClock(b)
	for i := 0; i < 10; i++ {
		b.take("flooder")
	}
	if _, ok := b.take("flooder"); ok {
		t.Fatal("burst not spent")
	}
	for i := 0; i < 100_000; i++ {
		b.take(fmt.Sprint("fresh-", i))
	}
	if _, ok := b.take("flooder"); ok {
		t.Error("churn of fresh keys refilled the flooder")
	}
}

// BenchmarkTokenBucketsTake is the limiter's cost per request: one address
// or device id hashed and one token taken, from all CPUs.
func BenchmarkTokenBucketsTake(b *testing.B) {
	tb := newTokenBuckets(1e9, 1e9, deviceBucketEntries)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tb.take(keys[i%len(keys)])
			i++
		}
	})
}

// BenchmarkDeviceLimiterWrap is the per-address middleware on a device
// endpoint in front of a handler that does nothing.
func BenchmarkDeviceLimiterWrap(b *testing.B) {
	l := newDeviceLimiter(Limits{DeviceRate: 1e9, DeviceBurst: 1 << 30})
	h := l.wrap(peerHost, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("POST", "/updates", nil)
	r.RemoteAddr = "203.0.113.7:50123"
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.ServeHTTP(w, r)
	}
}

// TestAddrKey: IPv4 addresses are their own bucket, IPv6 ones share their
// /64 (a host picks any address of it).
func TestAddrKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "::ffff:192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"not an address", "not an address"},
	} {
		if got := addrKey(tc.in); got != tc.want {
			t.Errorf("addrKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
