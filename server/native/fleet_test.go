package native

import (
	"fmt"
	"sync"
	"testing"
)

// TestFleetCache: answers of the current second are kept, up to the
// bound; a later second's first answer drops the earlier ones; an
// earlier second's answer is not kept.
func TestFleetCache(t *testing.T) {
	c := newFleetCache(4)
	msg := func(i int) []byte { return []byte(fmt.Sprintf("message %d", i)) }
	c.put(10, msg(1), []byte("body 1"))
	if b, ok := c.get(10, msg(1)); !ok || string(b) != "body 1" {
		t.Fatalf("get: %q %v", b, ok)
	}
	for _, tc := range []struct {
		name string
		sec  int64
		msg  []byte
	}{{"another message", 10, msg(2)}, {"another second", 11, msg(1)}, {"an earlier second", 9, msg(1)}} {
		if _, ok := c.get(tc.sec, tc.msg); ok {
			t.Errorf("%s: a hit", tc.name)
		}
	}
	for i := range 100 {
		c.put(10, msg(i), []byte("body"))
	}
	if n := c.len(); n != 4 {
		t.Errorf("%d answers kept, want the bound 4", n)
	}
	c.put(9, msg(50), []byte("late"))
	if _, ok := c.get(9, msg(50)); ok {
		t.Error("an earlier second's answer was kept")
	}
	c.put(11, msg(7), []byte("body 7"))
	if n := c.len(); n != 1 {
		t.Errorf("%d answers kept after the second changed, want 1", n)
	}
	if _, ok := c.get(10, msg(1)); ok {
		t.Error("a past second's answer is still served")
	}
}

// TestFleetCacheConcurrent: many goroutines over a few seconds and many
// messages; run with -race. What is got is what was put for that message.
func TestFleetCacheConcurrent(t *testing.T) {
	c := newFleetCache(64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				sec := int64(i / 500)
				m := []byte(fmt.Sprintf("%d/%d", sec, (i*7+g)%100))
				if b, ok := c.get(sec, m); ok && string(b) != string(m)+" body" {
					t.Errorf("message %s: body %q", m, b)
					return
				}
				c.put(sec, m, append(m, " body"...))
			}
		}()
	}
	wg.Wait()
	if n := c.len(); n > 64 {
		t.Errorf("%d answers kept, bound 64", n)
	}
}
