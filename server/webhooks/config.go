package webhooks

import "time"

// Config tunes the worker. Zero fields take DefaultConfig's values.
type Config struct {
	// AllowPrivate lets hooks point at loopback, private, link-local,
	// unspecified and multicast addresses (`serve --webhook-allow-private`).
	AllowPrivate bool
	// Backoff is the wait after a delivery's first failed attempt; each
	// further failure doubles it, up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxAttempts is how many attempts a delivery gets before it is
	// marked failed (and the hook's next delivery goes ahead).
	MaxAttempts int
	// Timeout bounds one attempt: connect, send, the receiver's answer.
	Timeout time.Duration
	// Parallel is how many hooks are delivered to at once (each hook one
	// delivery at a time).
	Parallel int
}

// DefaultConfig: 1s doubling to 10 min, 12 attempts (about 40 minutes of
// retries), 10 s per attempt, 8 hooks at once.
func DefaultConfig() Config {
	return Config{Backoff: time.Second, MaxBackoff: 10 * time.Minute, MaxAttempts: 12, Timeout: 10 * time.Second, Parallel: 8}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Backoff <= 0 {
		c.Backoff = d.Backoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.Parallel <= 0 {
		c.Parallel = d.Parallel
	}
	return c
}

// BackoffAfter is the wait after attempt n (1-based) failed.
func (c Config) BackoffAfter(n int) time.Duration {
	d := c.Backoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}
