package store

import (
	"sync"

	"github.com/patchwire/patchwire/api"
)

// Publish events. The store says when what devices are served may have
// changed, after the write that changed it committed, so that whatever
// prepares for it (the patcher making the patches devices are about to
// ask for, and later webhooks) reacts to the store's own word rather than
// guessing from HTTP routes. Subscribers are called synchronously on the
// writer's goroutine, in commit order per writer, and must not block (hand
// the work to a goroutine or queue of their own).
//
// Subscribers hear an event only after commit, so a crash in between loses
// it for them. Webhooks must not lose events, so they do not rely on this:
// the transaction that makes a change also calls publishTxn
// (webhook_queue.go), which writes the change's webhook deliveries in that same
// transaction. A new kind is emitted after commit here and, to reach
// webhooks, passed to publishTxn in its transaction and named in
// webhookTypes.

// EventKind is what a PublishEvent reports.
type EventKind int

const (
	// BundleCommitted: a bundle version was committed (PublishEvent.Version).
	BundleCommitted EventKind = iota + 1
	// ChannelServes: a channel was created, or what it serves (its bundle
	// or its rollout) changed: a set, rollback, rollout change or
	// completed switch (PublishEvent.Channel, and PublishEvent.Version its bundle).
	ChannelServes
	// GuardTripped: a channel's release guard tripped on a bundle
	// (PublishEvent.Channel, and PublishEvent.Version the bundle it
	// judged); the channel's history and GuardTrips say what it did.
	GuardTripped
	// ChannelPaused: a channel, or its rollout, was paused, by an
	// administrator or its guard (PublishEvent.Channel, and
	// PublishEvent.Version its bundle).
	ChannelPaused
)

// String names the kind as logs and metrics do.
func (k EventKind) String() string {
	switch k {
	case BundleCommitted:
		return "bundle.committed"
	case ChannelServes:
		return "channel.serves"
	case GuardTripped:
		return "guard.tripped"
	case ChannelPaused:
		return "rollout.paused"
	}
	return "unknown"
}

// PublishEvent is one publish event.
type PublishEvent struct {
	Kind    EventKind
	App     string
	Channel string // ChannelServes
	Version string // the committed bundle, or the bundle the channel serves
}

// events holds the subscribers.
type events struct {
	mu   sync.RWMutex
	next int
	subs map[int]func(PublishEvent)
}

// Subscribe calls fn with every publish event from now on, until cancel is
// called. fn must not block.
func (s *Store) Subscribe(fn func(PublishEvent)) (cancel func()) {
	e := &s.events
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.subs == nil {
		e.subs = map[int]func(PublishEvent){}
	}
	id := e.next
	e.next++
	e.subs[id] = fn
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.subs, id)
	}
}

// emit calls every subscriber with ev; only after ev's write committed.
func (s *Store) emit(ev PublishEvent) {
	e := &s.events
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, fn := range e.subs {
		fn(ev)
	}
}

// emitServes emits ChannelServes for c when it serves something other than
// old does (old zero: c was created), and then ChannelPaused when c is
// paused and old was not.
func (s *Store) emitServes(old, c api.Channel, created bool) {
	if created || servingChanged(old, c) {
		s.emit(servesEvent(c))
	}
	if Paused(c) && (created || !Paused(old)) {
		s.emit(PublishEvent{Kind: ChannelPaused, App: c.App, Channel: c.Name, Version: c.Bundle})
	}
}

// servesEvent is the ChannelServes event of c.
func servesEvent(c api.Channel) PublishEvent {
	return PublishEvent{Kind: ChannelServes, App: c.App, Channel: c.Name, Version: c.Bundle}
}
