package server

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patchwire/patchwire/api"
)

// authenticate returns the key presented as "Authorization: Bearer KEY".
// Failures are counted per client address; past the limit the client gets
// 429 with Retry-After until its window ends.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (api.Key, error) {
	ip := clientIP(r)
	if wait := s.authLimiter.blocked(ip); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		return api.Key{}, errorf(http.StatusTooManyRequests, api.CodeTooManyRequests, "too many failed authentications from this address; retry later")
	}
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		if len(values) > 1 {
			return api.Key{}, badRequest("more than one Authorization header")
		}
		s.authLimiter.fail(ip)
		return api.Key{}, errorf(http.StatusUnauthorized, api.CodeUnauthorized, "missing Authorization: Bearer <api key>")
	}
	scheme, secret, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		s.authLimiter.fail(ip)
		return api.Key{}, errorf(http.StatusUnauthorized, api.CodeUnauthorized, "Authorization must be \"Bearer <api key>\"")
	}
	key, err := s.store.Authenticate(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		s.authLimiter.fail(ip)
		s.log.Warn("authentication failed", "remote", ip, "key_id", keyIDOf(secret))
		return api.Key{}, errorf(http.StatusUnauthorized, api.CodeUnauthorized, "invalid API key")
	}
	return key, nil
}

// keyIDOf extracts the public key id from a secret "pw_<id>_<random>" for
// audit logs; the secret itself is never logged.
func keyIDOf(secret string) string {
	parts := strings.SplitN(strings.TrimSpace(secret), "_", 3)
	if len(parts) == 3 && parts[0] == "pw" && len(parts[1]) <= 32 {
		return parts[1]
	}
	return "?"
}

// allows reports whether key may act with scope on app ("" = no app).
func allows(key api.Key, scope, app string) bool {
	switch key.Scope {
	case api.ScopeAdmin:
		return true
	case api.ScopeUpload:
		if scope == api.ScopeAdmin {
			return false
		}
		return app == "" || slices.Contains(key.Apps, app)
	case api.ScopeRead:
		return scope == api.ScopeRead
	}
	return false
}

// authorize authenticates the request and checks scope on app. It writes
// the error answer itself and reports whether to go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, scope, app string) (api.Key, bool) {
	key, err := s.authenticate(w, r)
	if err != nil {
		writeError(w, r, s.log, err)
		return key, false
	}
	if !allows(key, scope, app) {
		what := "this server"
		if app != "" {
			what = "app " + app
		}
		writeError(w, r, s.log, errorf(http.StatusForbidden, api.CodeForbidden,
			"key "+key.ID+" ("+key.Scope+") may not do this on "+what))
		return key, false
	}
	return key, true
}

// clientIP is the peer address without its port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// failureLimiter counts failures per client in fixed windows, with bounded
// memory: when it tracks too many clients it forgets the oldest window.
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
