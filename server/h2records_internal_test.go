package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/iotest"
)

// pieceRecorder records the size of every Write it gets.
type pieceRecorder struct {
	*httptest.ResponseRecorder
	pieces []int
}

func (p *pieceRecorder) Write(b []byte) (int, error) {
	p.pieces = append(p.pieces, len(b))
	return p.ResponseRecorder.Write(b)
}

func TestRecordAlignedWriterCutsBodiesIntoFullFrames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		reader func(io.Reader) io.Reader
	}{
		{"empty", 0, nil},
		{"under one frame", 1000, nil},
		{"exactly one frame", h2RecordPayload, nil},
		{"one frame and a byte", h2RecordPayload + 1, nil},
		{"a 56 KiB object", 56 << 10, nil},
		{"one copy buffer and more", h2CopyBuffer + 5000, nil},
		{"1 MiB from one-byte reads", 1 << 20, iotest.OneByteReader},
		{"1 MiB from half reads", 1 << 20, iotest.HalfReader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("patchwire"), tc.size/9+1)[:tc.size]
			var src io.Reader = bytes.NewReader(body)
			if tc.reader != nil {
				src = tc.reader(src)
			}
			rec := &pieceRecorder{ResponseRecorder: httptest.NewRecorder()}
			n, err := recordAlignedWriter{rec}.ReadFrom(src)
			if err != nil || n != int64(tc.size) || !bytes.Equal(rec.Body.Bytes(), body) {
				t.Fatalf("ReadFrom: %d bytes, %v; body intact %v", n, err, bytes.Equal(rec.Body.Bytes(), body))
			}
			for i, p := range rec.pieces {
				if p == 0 || p > h2RecordPayload || (p != h2RecordPayload && i != len(rec.pieces)-1) {
					t.Fatalf("piece %d of %d is %d bytes: want %d but for the body's last piece (%v)", i, len(rec.pieces), p, h2RecordPayload, rec.pieces)
				}
			}
		})
	}
}

func TestRecordAlignedWriterPassesReadErrorsOn(t *testing.T) {
	boom := errors.New("chunk 3 is corrupt")
	src := io.MultiReader(bytes.NewReader(make([]byte, 20000)), iotest.ErrReader(boom))
	rec := &pieceRecorder{ResponseRecorder: httptest.NewRecorder()}
	n, err := recordAlignedWriter{rec}.ReadFrom(src)
	if !errors.Is(err, boom) || n != 20000 {
		t.Fatalf("ReadFrom = %d, %v; want the 20000 good bytes written and %v", n, err, boom)
	}
}

func TestAlignRecordsOnlyOnHTTP2(t *testing.T) {
	for _, tc := range []struct {
		proto   int
		aligned bool
	}{{1, false}, {2, true}, {3, false}} {
		r := httptest.NewRequest(http.MethodGet, "/o/x", nil)
		r.ProtoMajor = tc.proto
		_, aligned := alignRecords(httptest.NewRecorder(), r).(recordAlignedWriter)
		if aligned != tc.aligned {
			t.Errorf("HTTP/%d: aligned %v, want %v", tc.proto, aligned, tc.aligned)
		}
	}
}
