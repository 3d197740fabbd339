package server

import (
	"sync"
	"time"
)

// authLimiter counts failed authentications per client address and per key
// id, each with its own budget of max failures a window. It is consulted
// only for requests whose key did not verify (see Server.authenticate).
type authLimiter struct {
	addrs *failureLimiter // by client address
	keys  *failureLimiter // by key id, the public part of a secret
}

func newAuthLimiter(max int, window time.Duration) *authLimiter {
	return &authLimiter{addrs: newFailureLimiter(max, window), keys: newFailureLimiter(max, window)}
}

// blocked returns how long a failed attempt from addr naming key id ("" =
// none) must wait, or 0.
func (l *authLimiter) blocked(addr, id string) time.Duration {
	wait := l.addrs.blocked(addr)
	if id != "" {
		wait = max(wait, l.keys.blocked(id))
	}
	return wait
}

// fail counts one failure for addr and key id ("" = none).
func (l *authLimiter) fail(addr, id string) {
	l.addrs.fail(addr)
	if id != "" {
		l.keys.fail(id)
	}
}

// failureLimiter counts failures per client in fixed windows, with bounded
// memory: when it tracks too many clients it forgets those whose window
// ended, and if that is not enough, all of them.
type failureLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	counts map[string]*failureWindow
}

type failureWindow struct {
	start time.Time
	n     int
}

// maxTrackedClients bounds the entries of one failureLimiter.
const maxTrackedClients = 100_000

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window, now: time.Now, counts: map[string]*failureWindow{}}
}

// blocked returns how long client must wait, or 0.
func (l *failureLimiter) blocked(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	fw := l.counts[client]
	if fw == nil {
		return 0
	}
	left := l.window - l.now().Sub(fw.start)
	if left <= 0 {
		delete(l.counts, client)
		return 0
	}
	if fw.n >= l.max {
		return left
	}
	return 0
}

// fail counts one failure for client.
func (l *failureLimiter) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	fw := l.counts[client]
	if fw == nil || now.Sub(fw.start) >= l.window {
		if len(l.counts) >= maxTrackedClients {
			for k, v := range l.counts {
				if now.Sub(v.start) >= l.window {
					delete(l.counts, k)
				}
			}
			if len(l.counts) >= maxTrackedClients {
				clear(l.counts)
			}
		}
		fw = &failureWindow{start: now}
		l.counts[client] = fw
	}
	fw.n++
}
