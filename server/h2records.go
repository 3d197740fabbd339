package server

import (
	"io"
	"net/http"
	"sync"
)

// Object bodies over HTTP/2 go out in DATA frames that each fill one TLS
// record exactly.
//
// Go's HTTP/2 server cuts a handler's write into DATA frames of up to the
// peer's maximum frame size, 16 KiB unless the peer raised it, and writes
// each frame with its 9-byte header as one write to the TLS connection: 16
// KiB and 9 bytes, which TLS seals as two records, the second carrying the
// 9 bytes alone. A body handed to the server in pieces of 16 KiB less those
// 9 bytes makes every frame one full record instead: half the records (and,
// where a write is not gathered with others by coalescingConn, half the
// system calls) per byte of a large object.
const h2RecordPayload = 16<<10 - 9

// h2CopyBuffer is the bytes recordAlignedWriter reads before writing them
// out in h2RecordPayload pieces: four frames.
const h2CopyBuffer = 4 * h2RecordPayload

// copyBuffers pools the copy buffers, one per object body in flight, of
// every protocol (recordAlignedWriter, pooledCopyWriter).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, h2CopyBuffer); return &b }}

// recordAlignedWriter is a response writer whose ReadFrom (which
// http.ServeContent's copy uses) hands the body to the HTTP/2 server in
// h2RecordPayload pieces; only the last piece of a body is shorter. An
// object's body is written from the pieces its reader lends (writeLent),
// any other through a buffer of copyBuffers.
type recordAlignedWriter struct {
	http.ResponseWriter
}

// alignRecords wraps w for a body copied with io.Copy: on HTTP/2 in
// record-sized frames (recordAlignedWriter), on other protocols through a
// pooled buffer (pooledCopyWriter).
func alignRecords(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if r.ProtoMajor != 2 {
		return pooledCopyWriter{w}
	}
	return recordAlignedWriter{w}
}

// pooledCopyWriter is a response writer whose ReadFrom writes an object's
// body from the pieces its reader lends (writeLent, up to h2CopyBuffer
// bytes each), and copies any other body through a buffer of copyBuffers,
// written in one piece each: without it http.ServeContent's copy allocates
// 32 KiB per response (the writers wrapping the response hide its own
// ReadFrom), 7 % of an HTTP/1.1 object GET's CPU.
type pooledCopyWriter struct {
	http.ResponseWriter
}

// ReadFrom copies src to the response.
func (a pooledCopyWriter) ReadFrom(src io.Reader) (int64, error) {
	if r, l := lentBody(src); r != nil {
		return writeLent(a.ResponseWriter, r, l, h2CopyBuffer)
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{a.ResponseWriter}, struct{ io.Reader }{src}, *bp)
}

// Unwrap gives http.ResponseController the response writer underneath.
func (a pooledCopyWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// ReadFrom copies src to the response, filling each frame.
func (a recordAlignedWriter) ReadFrom(src io.Reader) (int64, error) {
	if r, l := lentBody(src); r != nil {
		return writeLent(a.ResponseWriter, r, l, h2RecordPayload)
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := io.ReadFull(src, buf)
		for p := buf[:n]; len(p) > 0; {
			piece := p[:min(len(p), h2RecordPayload)]
			m, err := a.ResponseWriter.Write(piece)
			total += int64(m)
			if err != nil {
				return total, err
			}
			p = p[len(piece):]
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return total, nil
		default:
			return total, rerr
		}
	}
}

// Unwrap gives http.ResponseController the response writer underneath.
func (a recordAlignedWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// lender is a reader that lends its bytes instead of copying them into the
// caller's buffer (store.ObjectReader's Next: a slice of its checked
// chunk).
type lender interface {
	Next(max int) ([]byte, error)
}

// lentBody returns the lender under src, the body http.ServeContent copies
// (io.CopyN: a LimitedReader over the content), and that LimitedReader; a
// nil lender when src is not one.
func lentBody(src io.Reader) (lender, *io.LimitedReader) {
	if l, ok := src.(*io.LimitedReader); ok {
		if r, ok := l.R.(lender); ok {
			return r, l
		}
	}
	return nil, nil
}

// writeLent writes the l.N bytes of body l, whose reader is r, to w in
// pieces of at most piece bytes lent by r, and counts them off l.N: the
// copy http.ServeContent's io.CopyN would make into a buffer is not made.
// A Write must not retain its argument (io.Writer; HTTP/2 frames it in its
// serve loop before Write returns, HTTP/3 copies or sends it), so the lent
// slice is never held past the next Next.
func writeLent(w io.Writer, r lender, l *io.LimitedReader, piece int) (int64, error) {
	var total int64
	for l.N > 0 {
		b, err := r.Next(int(min(l.N, int64(piece))))
		if len(b) > 0 {
			n, werr := w.Write(b)
			total += int64(n)
			l.N -= int64(n)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
