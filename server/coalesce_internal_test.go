package server

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// tcpPair is a connected loopback TCP pair: the server side wrapped in a
// coalescingConn, and the client side.
func tcpPair(t *testing.T) (*coalescingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := coalescingListener{ln}.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server.(*coalescingConn), client
}

// pipePair is a net.Pipe whose writing side is a coalescingConn: the
// reader takes bytes only when the test reads, as a peer that stalls.
func pipePair(t *testing.T) (*coalescingConn, net.Conn) {
	a, b := net.Pipe()
	c := newCoalescingConn(a)
	c.drainFor = 100 * time.Millisecond
	t.Cleanup(func() { c.Close(); b.Close() })
	return c, b
}

// idle reports whether c has no flusher and holds no buffer.
func idle(c *coalescingConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.flushing && c.pending == nil && c.spare == nil
}

func TestCoalescingConnKeepsOrderAndBytes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		writers int
		total   int
		maxPart int
	}{
		{"one writer, small writes", 1, 1 << 20, 100},
		{"one writer, TLS-record writes", 1, 8 << 20, 16 << 10},
		{"one writer, writes past the limit", 1, 4 << 20, 3 * coalesceLimit},
		{"four writers", 4, 4 << 20, 20 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			rng := rand.New(rand.NewPCG(1, uint64(tc.writers)))
			// Each writer writes its own stream of whole blocks; a block is
			// its writer's number repeated, so any interleaving inside one
			// Write shows.
			type block struct {
				writer byte
				size   int
			}
			var plans [][]block
			for w := 0; w < tc.writers; w++ {
				var plan []block
				for n := 0; n < tc.total/tc.writers; {
					size := 1 + rng.IntN(tc.maxPart)
					plan = append(plan, block{byte('a' + w), size})
					n += size
				}
				plans = append(plans, plan)
			}
			var wg sync.WaitGroup
			for _, plan := range plans {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, b := range plan {
						if _, err := server.Write(bytes.Repeat([]byte{b.writer}, b.size)); err != nil {
							t.Errorf("Write: %v", err)
							return
						}
					}
				}()
			}
			want := 0
			for _, plan := range plans {
				for _, b := range plan {
					want += b.size
				}
			}
			got := make([]byte, want)
			if _, err := io.ReadFull(client, got); err != nil {
				t.Fatalf("read: %v", err)
			}
			wg.Wait()
			// Split what arrived by writer: each must be its plan's blocks in order.
			next := make([]int, tc.writers)
			for i := 0; i < len(got); {
				w := int(got[i] - 'a')
				if w < 0 || w >= tc.writers || next[w] >= len(plans[w]) {
					t.Fatalf("byte %d: %q belongs to no pending block", i, got[i])
				}
				b := plans[w][next[w]]
				if !bytes.Equal(got[i:i+b.size], bytes.Repeat([]byte{b.writer}, b.size)) {
					t.Fatalf("byte %d: block %d of writer %c (%d bytes) arrived interleaved", i, next[w], b.writer, b.size)
				}
				next[w]++
				i += b.size
			}
			deadline := time.Now().Add(5 * time.Second)
			for !idle(server) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if !idle(server) {
				t.Error("the connection still holds a buffer or a flusher after everything went out")
			}
		})
	}
}

func TestCoalescingConnBoundsPendingBytes(t *testing.T) {
	c, peer := pipePair(t)
	const part = 10 << 10
	done := make(chan int)
	go func() {
		n := 0
		for ; n < 100; n++ {
			if _, err := c.Write(make([]byte, part)); err != nil {
				break
			}
		}
		done <- n
	}()
	// The peer reads nothing: the writer must stop once the limit is pending.
	time.Sleep(50 * time.Millisecond)
	c.mu.Lock()
	pending := 0
	if c.pending != nil {
		pending = len(*c.pending)
	}
	c.mu.Unlock()
	if pending > coalesceLimit+part {
		t.Errorf("%d bytes pending, more than the limit %d and one write", pending, coalesceLimit)
	}
	select {
	case n := <-done:
		t.Fatalf("all %d writes returned to a peer that reads nothing", n)
	default:
	}
	// Once the peer reads, every write completes.
	go io.Copy(io.Discard, peer)
	if n := <-done; n != 100 {
		t.Fatalf("%d of 100 writes completed", n)
	}
}

func TestCoalescingConnReportsWriteErrors(t *testing.T) {
	c, peer := pipePair(t)
	peer.Close()
	if _, err := c.Write([]byte("first")); err != nil {
		t.Fatalf("first Write: %v (it is only queued)", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = c.Write([]byte("later"))
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write after the peer closed: %v, want the flusher's %v", err, io.ErrClosedPipe)
	}
}

func TestCoalescingConnDeadlinesAndClose(t *testing.T) {
	t.Run("a deadline of now still lets what was written go out", func(t *testing.T) {
		// crypto/tls writes close_notify, then sets a deadline of now.
		c, peer := pipePair(t)
		got := make(chan []byte)
		go func() { b, _ := io.ReadAll(peer); got <- b }()
		if _, err := c.Write([]byte("close_notify")); err != nil {
			t.Fatal(err)
		}
		if err := c.SetWriteDeadline(time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Write after a deadline of now: %v, want a deadline error", err)
		}
		c.Close()
		if b := <-got; string(b) != "close_notify" {
			t.Errorf("peer read %q, want %q", b, "close_notify")
		}
	})
	t.Run("Close sends what is pending", func(t *testing.T) {
		c, peer := pipePair(t)
		body := bytes.Repeat([]byte("patchwire "), 20_000)
		if _, err := c.Write(body[:coalesceLimit]); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte)
		go func() {
			// A slow reader.
			var all []byte
			buf := make([]byte, 1000)
			for {
				time.Sleep(100 * time.Microsecond)
				n, err := peer.Read(buf)
				all = append(all, buf[:n]...)
				if err != nil {
					got <- all
					return
				}
			}
		}()
		c.drainFor = 5 * time.Second
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if b := <-got; !bytes.Equal(b, body[:coalesceLimit]) {
			t.Errorf("peer read %d bytes before the close, want %d", len(b), coalesceLimit)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
	})
	t.Run("Close gives up on a peer that reads nothing", func(t *testing.T) {
		c, _ := pipePair(t)
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		closed := make(chan error)
		go func() { closed <- c.Close() }()
		select {
		case <-closed:
		case <-time.After(30 * time.Second):
			t.Fatal("Close still waits on a stalled peer, past drainFor")
		}
	})
	t.Run("a new deadline waits for the old one, not drainFor", func(t *testing.T) {
		// As a plain connection's Write would block until the deadline in
		// force (HTTP/1.1 moves it at every request).
		c, _ := pipePair(t)
		c.drainFor = 10 * time.Millisecond
		old := time.Now().Add(300 * time.Millisecond)
		if err := c.SetWriteDeadline(old); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if err := c.SetWriteDeadline(time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if early := old.Sub(time.Now()); early > 0 {
			t.Errorf("the new deadline was set %s before the old one passed", early)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Write after the stalled bytes hit the old deadline: %v", err)
		}
	})
	t.Run("a deadline fails a write blocked on a stalled peer", func(t *testing.T) {
		c, _ := pipePair(t)
		c.drainFor = time.Hour
		if err := c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			_, err = c.Write(make([]byte, 10<<10))
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("writes to a stalled peer past the deadline: %v", err)
		}
	})
}
