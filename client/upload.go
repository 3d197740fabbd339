package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/manifest"
)

// UploadOptions says where a bundle goes and how to report progress.
type UploadOptions struct {
	App         string
	Version     string
	Meta        api.BundleMeta
	Concurrency int // objects in flight; default 4
	// Progress, when set, is called as objects are sent with the raw bytes
	// done so far and the raw bytes to send in all.
	Progress func(done, total int64)
}

// UploadSummary is what an upload did.
type UploadSummary struct {
	App           string          `json:"app_id"`
	Version       string          `json:"version"`
	Files         int             `json:"files"`
	ObjectsNew    int             `json:"objects_new"`
	ObjectsReused int             `json:"objects_reused"`
	BytesSent     int64           `json:"bytes_sent"`        // every request body: manifest, objects, commit
	ObjectBytes   int64           `json:"object_bytes_sent"` // object bodies alone, as sent (compressed)
	BundleBytes   int64           `json:"bundle_bytes"`      // sum of the bundle's file sizes
	Manifest      manifest.Digest `json:"manifest"`
	Bundle        api.Bundle      `json:"bundle"`
}

// Upload sends src as version opt.Version of opt.App: the manifest first,
// then only the objects the server lacks (zstd-compressed when that is
// smaller), then the commit. Every object is re-hashed as it is read, so a
// file changed since src was opened fails the upload instead of corrupting it.
func (c *Client) Upload(ctx context.Context, src manifest.Source, opt UploadOptions) (UploadSummary, error) {
	m := src.Manifest()
	sum := UploadSummary{App: opt.App, Version: opt.Version, Files: m.Len(), BundleBytes: m.TotalSize(), Manifest: m.Digest()}
	var sent atomic.Int64
	var start api.UploadResponse
	body, err := json.Marshal(api.UploadRequest{Version: opt.Version, Files: m.Entries(), BundleMeta: opt.Meta})
	if err != nil {
		return sum, err
	}
	sent.Add(int64(len(body)))
	if err := c.postJSON(ctx, path(api.PathUploads, "app", opt.App), body, &start); err != nil {
		return sum, err
	}
	if start.Manifest != sum.Manifest {
		return sum, fmt.Errorf("server computed manifest %s, we computed %s", start.Manifest, sum.Manifest)
	}

	entryOf := make(map[manifest.Digest]manifest.Entry, m.Len())
	for _, e := range m.Entries() {
		entryOf[e.Digest] = e
	}
	var total int64
	for _, d := range start.Missing {
		e, ok := entryOf[d]
		if !ok {
			return sum, fmt.Errorf("server asked for object %s, which is not in the bundle", d)
		}
		total += e.Size
	}
	var done, objectBytes atomic.Int64
	report := func(n int64) {
		if opt.Progress != nil {
			opt.Progress(done.Add(n), total)
		}
	}
	report(0)

	workers := opt.Concurrency
	if workers <= 0 {
		workers = 4
	}
	jobs := make(chan manifest.Entry)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
			defer enc.Close()
			for e := range jobs {
				n, err := c.putObject(ctx, start.ID, src, e, enc)
				if err != nil {
					errc <- err
					cancel()
					return
				}
				objectBytes.Add(n)
				report(e.Size)
			}
		}()
	}
feed:
	for _, d := range start.Missing {
		select {
		case jobs <- entryOf[d]:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return sum, err
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	sent.Add(objectBytes.Load())

	if err := c.postJSON(ctx, path(api.PathUploadCommit, "id", start.ID), nil, &sum.Bundle); err != nil {
		return sum, err
	}
	sum.ObjectsNew = len(start.Missing)
	sum.ObjectsReused = len(m.Digests()) - sum.ObjectsNew
	sum.ObjectBytes = objectBytes.Load()
	sum.BytesSent = sent.Load()
	return sum, nil
}

// putObject reads entry e from src (ReadEntry checks its hash), and sends it; it
// returns the body bytes sent.
func (c *Client) putObject(ctx context.Context, id string, src manifest.Source, e manifest.Entry, enc *zstd.Encoder) (int64, error) {
	raw, err := manifest.ReadEntry(src, e)
	var me *manifest.Error
	if errors.As(err, &me) && me.Code == manifest.CodeDigestMismatch {
		return 0, fmt.Errorf("%s changed while it was being uploaded; run the upload again", e.Path)
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", e.Path, err)
	}
	body, encoding := raw, ""
	if z := enc.EncodeAll(raw, nil); len(z) < len(raw) {
		body, encoding = z, "zstd"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut,
		c.base.String()+path(api.PathUploadObject, "id", id, "sha256", e.Digest.String()), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if err := c.send(req, nil); err != nil {
		return 0, fmt.Errorf("upload %s: %w", e.Path, err)
	}
	return int64(len(body)), nil
}

// postJSON posts an already-encoded JSON body (nil for none).
func (c *Client) postJSON(ctx context.Context, p string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+p, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}
