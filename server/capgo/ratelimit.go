package capgo

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// tooManyBody is the body of the Capgo backend's 429 (utils/on_error.ts:
// every too_many_requests answer is rewritten to exactly this).
var tooManyBody = []byte(`{"error":"too_many_requests","message":"You are being rate limited"}`)

// WriteTooManyRequests answers 429 too_many_requests as the Capgo backend
// does: Retry-After (whole seconds, at least 1) and X-RateLimit-Reset (Unix
// seconds) headers and its fixed body. The plugin stops update checks,
// channel calls and stats until Retry-After has passed and sends one
// rate_limit_reached stat.
func WriteTooManyRequests(w http.ResponseWriter, retryAfter time.Duration, now time.Time) {
	secs := max(1, int64(math.Ceil(retryAfter.Seconds())))
	h := w.Header()
	h["Retry-After"] = []string{strconv.FormatInt(secs, 10)}
	h["X-Ratelimit-Reset"] = []string{strconv.FormatInt(now.Add(retryAfter).Add(time.Second-1).Unix(), 10)}
	writeBody(w, http.StatusTooManyRequests, tooManyBody)
}

// admitDevice applies Deps.DeviceLimit to a request whose device id is
// known; over the limit it answers 429 and reports false.
func (h *Handler) admitDevice(w http.ResponseWriter, deviceID string) bool {
	if h.deviceLimit == nil || deviceID == "" {
		return true
	}
	wait, ok := h.deviceLimit(deviceID)
	if !ok {
		WriteTooManyRequests(w, wait, h.now())
	}
	return ok
}
