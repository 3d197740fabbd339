package http2

// This file is the fork's own (ownFiles): tests of the patch that hands
// the serve loop the window updates read together (bufferedWindowUpdates).

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// windowUpdate is one WINDOW_UPDATE frame to write.
type windowUpdate struct{ stream, incr uint32 }

// frameBytes is frames written by a Framer: window updates, then a PING
// when ping (a frame of another type).
func frameBytes(t *testing.T, wus []windowUpdate, ping bool) []byte {
	t.Helper()
	var b bytes.Buffer
	fr := NewFramer(&b, nil)
	fr.AllowIllegalWrites = true // increments of 0
	for _, w := range wus {
		if err := fr.WriteWindowUpdate(w.stream, w.incr); err != nil {
			t.Fatal(err)
		}
	}
	if ping {
		if err := fr.WritePing(false, [8]byte{}); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestBufferedWindowUpdates(t *testing.T) {
	run := func(n int) []windowUpdate {
		w := make([]windowUpdate, n)
		for i := range w {
			w[i] = windowUpdate{uint32(i % 2), uint32(i + 1)}
		}
		return w
	}
	for _, c := range []struct {
		name     string
		wus      []windowUpdate
		ping     bool
		cut      int // bytes cut off the end (a frame not all buffered)
		want     int // window updates handed over with the first
		wantErr  bool
		notFirst bool // the first frame is a PING: nothing goes with it
	}{
		{name: "alone", wus: run(1), want: 0},
		{name: "a pair", wus: run(2), want: 1},
		{name: "up to the bound", wus: run(1 + maxWindowUpdatesTogether + 3), want: maxWindowUpdatesTogether},
		{name: "up to another frame", wus: run(4), ping: true, want: 3},
		{name: "not a frame not all read", wus: run(4), cut: 1, want: 2},
		{name: "an error ends the run", wus: []windowUpdate{{0, 1}, {1, 1}, {1, 0}, {0, 1}}, want: 2, wantErr: true},
		{name: "after another frame", wus: run(3), ping: true, notFirst: true, want: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := frameBytes(t, c.wus, c.ping)
			if c.notFirst {
				b = append(frameBytes(t, nil, true), frameBytes(t, c.wus, false)...)
			}
			b = b[:len(b)-c.cut]
			sc := &serverConn{br: bufio.NewReaderSize(bytes.NewReader(b), 4096)}
			sc.framer = NewFramer(io.Discard, sc.br)
			f, err := sc.framer.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			sc.br.Peek(min(sc.br.Size(), len(b)-frameHeaderLen-4)) // buffer the rest, as one read of a record would
			more := sc.bufferedWindowUpdates(f, nil, nil)
			if len(more) != c.want {
				t.Fatalf("%d window updates with the first, want %d", len(more), c.want)
			}
			for i, m := range more {
				if last := i == len(more)-1; last && c.wantErr {
					var se StreamError
					if !errors.As(m.err, &se) || se.Code != ErrCodeProtocol {
						t.Errorf("last: err %v, want a PROTOCOL_ERROR stream error", m.err)
					}
					continue
				}
				wu, ok := m.f.(*WindowUpdateFrame)
				if !ok || m.err != nil || wu.Increment != c.wus[i+1].incr || wu.StreamID != c.wus[i+1].stream {
					t.Errorf("%d: %+v %v, want %+v", i, m.f, m.err, c.wus[i+1])
				}
			}
		})
	}
}

// TestWindowUpdatesTogetherEndToEnd serves a body larger than the client's
// initial window over a pipe; the client credits the rest in one write of
// many window updates (more than one batch), or with a bad one in it.
func TestWindowUpdatesTogetherEndToEnd(t *testing.T) {
	const pieces, piece = 20, 4096
	const body = initialWindowSize + pieces*piece
	for _, c := range []struct {
		name     string
		bad      *windowUpdate // sent in the middle of the credits
		wantBody bool
		want     FrameType // the frame that ends the exchange
	}{
		{name: "credits", wantBody: true, want: FrameData},
		{name: "zero stream credit", bad: &windowUpdate{1, 0}, want: FrameRSTStream},
		{name: "zero connection credit", bad: &windowUpdate{0, 0}, want: FrameGoAway},
	} {
		t.Run(c.name, func(t *testing.T) {
			cc, sconn := net.Pipe()
			defer cc.Close()
			quiet := &http.Server{ErrorLog: log.New(io.Discard, "", 0)} // the bad credits' connection errors
			go (&Server{}).ServeConn(sconn, &ServeConnOpts{BaseConfig: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write(make([]byte, body))
			})})
			cc.SetDeadline(time.Now().Add(10 * time.Second))
			var hb bytes.Buffer
			enc := hpack.NewEncoder(&hb)
			for _, h := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "x"}, {":path", "/"}} {
				enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]})
			}
			// One writer, so the client's frames go out in order.
			writes := make(chan []byte, 4)
			defer close(writes)
			go func() {
				for b := range writes {
					cc.Write(b)
				}
			}()
			var hello bytes.Buffer
			hello.WriteString(ClientPreface)
			hfr := NewFramer(&hello, nil)
			hfr.WriteSettings()
			hfr.WriteHeaders(HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
			writes <- hello.Bytes()
			fr := NewFramer(cc, cc)
			var got int
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					t.Fatalf("after %d body bytes: %v", got, err)
				}
				switch f := f.(type) {
				case *SettingsFrame:
					if !f.IsAck() {
						var ack bytes.Buffer
						NewFramer(&ack, nil).WriteSettingsAck()
						writes <- ack.Bytes()
					}
				case *DataFrame:
					got += len(f.Data())
					if f.StreamEnded() {
						if !c.wantBody || got != body {
							t.Fatalf("body of %d bytes ended, want %d (whole: %v)", got, body, c.wantBody)
						}
						return
					}
					if got == initialWindowSize { // the window is spent: credit the rest at once
						var wus []windowUpdate
						for i := range pieces {
							if i == pieces/2 && c.bad != nil {
								wus = append(wus, *c.bad)
							}
							wus = append(wus, windowUpdate{0, piece}, windowUpdate{1, piece})
						}
						writes <- frameBytes(t, wus, false)
					}
				case *RSTStreamFrame, *GoAwayFrame:
					if f.Header().Type != c.want {
						t.Fatalf("%v after %d body bytes, want %v", f.Header().Type, got, c.want)
					}
					return
				}
			}
		})
	}
}
