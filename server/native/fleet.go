package native

import (
	"sync"
	"sync/atomic"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/checksig"
)

// FleetAnswersKept bounds the signed fleet answers kept for the current
// second: each is its signed message and body, a few hundred bytes (more
// with a release statement), so a few megabytes at most.
const FleetAnswersKept = 2048

// fleetCache keeps the signed bodies of the fleet answers issued in the
// current second, by their signed message (api.SignedMessage: the
// audience, the subject a fleet answer is signed for and the payload,
// whose issue time is that second). An ed25519 signature of the same
// message is the same bytes, so a hit is exactly what signing again would
// give; one Sign serves every device asking the same in that second.
// Entries of a past second are dropped when the next second's first
// answer comes; within a second at most max are kept, and answers beyond
// are signed each time. Safe for concurrent use.
type fleetCache struct {
	max int
	mu  sync.Mutex
	sec int64             // the second the entries were issued in
	m   map[string][]byte // signed message -> SignedCheck body
}

func newFleetCache(max int) *fleetCache {
	return &fleetCache{max: max, m: make(map[string][]byte, max)}
}

// get is the body kept for msg, issued in second sec.
func (c *fleetCache) get(sec int64, msg []byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sec != c.sec {
		return nil, false
	}
	b, ok := c.m[string(msg)]
	return b, ok
}

// put keeps body for msg, issued in second sec: a later second than the
// entries' replaces them all, an earlier one is not kept, nor anything
// once max entries are.
func (c *fleetCache) put(sec int64, msg, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sec > c.sec {
		clear(c.m)
		c.sec = sec
	}
	if sec == c.sec && len(c.m) < c.max {
		c.m[string(msg)] = body
	}
}

// len is how many answers are kept.
func (c *fleetCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Signatures counts the answers the handler sent, by how they were
// signed.
type Signatures struct {
	// Device answers are signed each time.
	Device uint64
	// Fleet answers signed, and fleet answers sent from the cache of the
	// current second's (FleetAnswersKept).
	Fleet, FleetCached uint64
}

// signCounts are Signatures' counters.
type signCounts struct {
	device, fleet, cached atomic.Uint64
}

// Signatures is how many answers the handler signed or took from its
// cache so far.
func (h *Handler) Signatures() Signatures {
	return Signatures{Device: h.counts.device.Load(), Fleet: h.counts.fleet.Load(), FleetCached: h.counts.cached.Load()}
}

// signedBody is ans signed, in its wire form (api.SignedCheck.MarshalBinary):
// a device answer signed for its device, a fleet answer taken from the
// cache when the same one was signed in the same second.
func (h *Handler) signedBody(ans api.CheckAnswer) ([]byte, error) {
	if ans.Audience != api.AudienceFleet {
		h.counts.device.Add(1)
		return h.sign(ans)
	}
	payload, err := ans.MarshalBinary()
	if err != nil {
		return nil, err
	}
	msg := api.SignedMessage(checksig.Subject(ans), payload)
	sec := ans.IssuedAt.Unix()
	if body, ok := h.fleet.get(sec, msg); ok {
		h.counts.cached.Add(1)
		return body, nil
	}
	body, err := h.sign(ans)
	if err != nil {
		return nil, err
	}
	h.counts.fleet.Add(1)
	h.fleet.put(sec, msg, body)
	return body, nil
}

// sign signs ans and encodes the envelope.
func (h *Handler) sign(ans api.CheckAnswer) ([]byte, error) {
	sc, err := h.d.Signer.Sign(ans)
	if err != nil {
		return nil, err
	}
	return sc.MarshalBinary()
}
