package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/manifest"
)

// object is something to download into DIR/tmp/<sha256>: an object a
// target file is made of, or a patch.
type object struct {
	Digest manifest.Digest
	Size   int64
	URLs   []string // sources, tried in order
	What   string   // for messages
}

// sourceError says a source cannot give the object: it sent other bytes
// or refused (4xx). Another source, or another way to build the file, may
// still work. Other errors (network, 5xx, cut bodies) are transient.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func isSourceError(err error) bool {
	var se *sourceError
	return errors.As(err, &se)
}

var errStalled = errors.New("download stalled")

// stagedPath is where a verified object waits for assembly.
func stagedPath(d manifest.Digest) string { return path.Join(tmpDir, d.String()) }

// fetch makes DIR/tmp/<sha256> hold o's verified bytes. Each try resumes
// DIR/tmp/<sha256>.part with Range and If-Range; transient failures are
// retried with backoff, a source that sends wrong bytes is tried once more
// from scratch and then left for the next one.
func (u *updater) fetch(ctx context.Context, o object) error {
	if ok, _ := u.verifyStaged(o.Digest, o.Size); ok {
		return nil
	}
	var last error
	for _, src := range o.URLs {
		digestFailures := 0
		for attempt := 0; ; attempt++ {
			err := u.fetchOnce(ctx, o, src)
			if err == nil {
				return nil
			}
			last = err
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if isSourceError(err) {
				if errors.Is(err, ErrDigest) && digestFailures == 0 {
					digestFailures++
					u.log.Warn("object failed verification, fetching it again", "what", o.What, "url", src, "err", err)
					continue
				}
				u.log.Warn("source cannot give object", "what", o.What, "url", src, "err", err)
				break
			}
			if attempt+1 >= u.cfg.Retries {
				return fmt.Errorf("download %s: %w", o.What, err)
			}
			u.log.Info("download interrupted, resuming", "what", o.What, "url", src, "try", attempt+1, "err", err)
			if err := sleep(ctx, u.cfg.RetryDelay<<min(attempt, 5)); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("download %s: %w", o.What, last)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// verifyStaged reports whether DIR/tmp/<sha256> holds the object; a file
// there with other bytes is removed.
func (u *updater) verifyStaged(d manifest.Digest, size int64) (bool, error) {
	name := stagedPath(d)
	ok, err := u.st.verifyFile(name, d, size)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		u.st.root.Remove(name)
	}
	return ok, err
}

// partMeta is DIR/tmp/<sha256>.meta: which representation a partial
// download holds, so a resume asks for the same one.
type partMeta struct {
	ETag     string `json:"etag"`
	Encoding string `json:"encoding,omitempty"` // "" (raw bytes) or "zstd"
	Total    int64  `json:"total"`              // bytes of the representation; -1 unknown
}

// maxRepresentation bounds a representation of an object of size bytes:
// the size itself, or zstd's worst case expansion with room to spare.
func maxRepresentation(size int64, enc string) int64 {
	if enc == "" {
		return size
	}
	return size + size/8 + 64<<10
}

// fetchOnce is one try of one source.
func (u *updater) fetchOnce(ctx context.Context, o object, src string) error {
	base := stagedPath(o.Digest)
	part, metaName := base+".part", base+".meta"
	f, err := u.st.root.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	have := fi.Size()
	var meta partMeta
	if have > 0 {
		if err := u.st.readJSON(metaName, &meta); err != nil || have > maxRepresentation(o.Size, meta.Encoding) {
			have, meta = 0, partMeta{}
		} else if have == meta.Total {
			return u.finishPart(f, o, meta)
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(u.cfg.IdleTimeout, func() { cancel(errStalled) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return &sourceError{err}
	}
	if u.cfg.NoCompression || o.Size < 512 {
		req.Header.Set("Accept-Encoding", "identity")
	} else {
		req.Header.Set("Accept-Encoding", "zstd")
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		if meta.ETag != "" {
			req.Header.Set("If-Range", meta.ETag)
		}
	}
	resp, err := u.net.client.Do(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errStalled) {
			return errStalled
		}
		return err
	}
	defer resp.Body.Close()
	enc := resp.Header.Get("Content-Encoding")
	if enc == "identity" {
		enc = ""
	}
	if enc != "" && enc != "zstd" {
		return &sourceError{fmt.Errorf("unsupported Content-Encoding %q", enc)}
	}
	switch c := resp.StatusCode; {
	case c == http.StatusOK:
		have = 0
		meta = partMeta{Encoding: enc, Total: resp.ContentLength}
		if et := resp.Header.Get("ETag"); strings.HasPrefix(et, `"`) && len(et) < 200 {
			meta.ETag = et
		}
		if meta.Total < 0 {
			meta.Total = -1
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
		if err := u.st.writeJSON(metaName, meta); err != nil {
			return err
		}
	case c == http.StatusPartialContent && have > 0:
		start, end, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || enc != meta.Encoding || start != have ||
			(total >= 0 && meta.Total >= 0 && total != meta.Total) || (total >= 0 && end != total-1) {
			f.Truncate(0)
			return fmt.Errorf("resume answered with Content-Range %q, encoding %q; starting over", resp.Header.Get("Content-Range"), enc)
		}
		if meta.Total < 0 && total >= 0 {
			meta.Total = total
		}
		u.resumed.Add(have)
	case c == http.StatusRequestedRangeNotSatisfiable:
		f.Truncate(0)
		return fmt.Errorf("server answered %s to a resume; starting over", resp.Status)
	case c >= 500 || c == http.StatusTooManyRequests || c == http.StatusRequestTimeout:
		return fmt.Errorf("server answered %s", resp.Status)
	default:
		return &sourceError{fmt.Errorf("server answered %s", resp.Status)}
	}
	maxRep := maxRepresentation(o.Size, meta.Encoding)
	if meta.Total > maxRep || (meta.Encoding == "" && meta.Total >= 0 && meta.Total != o.Size) {
		u.st.root.Remove(part)
		return &sourceError{fmt.Errorf("%w: %d bytes announced for an object of %d", ErrTooLarge, meta.Total, o.Size)}
	}
	limit := maxRep - have
	if meta.Total >= 0 {
		limit = meta.Total - have
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return err
	}
	body := &watchedReader{r: io.LimitReader(resp.Body, limit+1), t: watchdog, idle: u.cfg.IdleTimeout}
	n, copyErr := io.CopyBuffer(f, body, make([]byte, 64<<10))
	if n > limit {
		u.st.root.Remove(part)
		return &sourceError{fmt.Errorf("%w: more than the %d bytes expected", ErrTooLarge, have+limit)}
	}
	if copyErr != nil || (meta.Total >= 0 && have+n < meta.Total) {
		// Keep what arrived for the next try.
		f.Sync()
		if errors.Is(context.Cause(ctx), errStalled) {
			return fmt.Errorf("%w after %d bytes", errStalled, have+n)
		}
		if copyErr == nil {
			copyErr = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("body cut after %d bytes: %w", have+n, copyErr)
	}
	if meta.Total < 0 {
		meta.Total = have + n
	}
	return u.finishPart(f, o, meta)
}

// finishPart checks a complete download (decoding it when compressed) and
// moves the object's bytes into place. A partial that does not verify is
// removed (a sourceError wrapping ErrDigest).
func (u *updater) finishPart(f *os.File, o object, meta partMeta) error {
	base := stagedPath(o.Digest)
	part, metaName := base+".part", base+".meta"
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		f.Close()
		u.st.root.Remove(part)
		u.st.root.Remove(metaName)
		return &sourceError{fmt.Errorf("%w: %s: %s", ErrDigest, o.What, fmt.Sprintf(format, args...))}
	}
	if meta.Encoding == "" {
		if err := f.Sync(); err != nil {
			return err
		}
		d, n, err := manifest.SumReader(io.LimitReader(f, o.Size+1))
		if err != nil {
			return err
		}
		if n != o.Size || d != o.Digest {
			return bad("got %d bytes with SHA-256 %s, want %d bytes %s", n, d, o.Size, o.Digest)
		}
		f.Close()
		if err := u.st.root.Rename(part, base); err != nil {
			return err
		}
		u.st.root.Remove(metaName)
		return nil
	}
	window := uint64(max(o.Size, 8<<20))
	dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(window), zstd.WithDecoderMaxWindow(min(window, 128<<20)))
	if err != nil {
		return err
	}
	defer dec.Close()
	out := base + ".dec"
	u.st.root.Remove(out)
	err = u.st.copyInto(out, dec, manifest.Entry{Path: o.What, Digest: o.Digest, Size: o.Size})
	if err != nil {
		u.st.root.Remove(out)
		if errors.Is(err, ErrDigest) || isZstdError(err) {
			return bad("compressed bytes do not decode to it: %v", err)
		}
		return err
	}
	f.Close()
	if err := u.st.root.Rename(out, base); err != nil {
		return err
	}
	u.st.root.Remove(part)
	u.st.root.Remove(metaName)
	return nil
}

// isZstdError reports a decoding failure (as opposed to an I/O error of
// the device's own disk).
func isZstdError(err error) bool {
	var pe *fs.PathError
	return !errors.As(err, &pe)
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*", -1).
func parseContentRange(s string) (start, end, total int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err error
	if start, err = strconv.ParseInt(a, 10, 64); err != nil || start < 0 {
		return 0, 0, 0, false
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total <= end {
			return 0, 0, 0, false
		}
	}
	return start, end, total, true
}

// watchedReader pushes an idle watchdog back on every read that returns bytes.
type watchedReader struct {
	r    io.Reader
	t    *time.Timer
	idle time.Duration
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.t.Reset(w.idle)
	}
	return n, err
}
