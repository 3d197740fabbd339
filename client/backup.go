package client

import (
	"context"
	"io"
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// Backup streams the server's store backup (GET api.PathStoreBackup, an
// admin key) into w and returns its size. No client timeout applies: a
// large store takes long; cancel ctx to stop. A transfer the server
// aborts is an error.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+api.PathStoreBackup, nil)
	if err != nil {
		return 0, err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, decodeError(resp)
	}
	return io.Copy(w, resp.Body)
}
