package client

import (
	"context"
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// Stats returns an app's per-bundle device statistics, restricted to one
// channel when channel is not "".
func (c *Client) Stats(ctx context.Context, app, channel string) (api.AppStats, error) {
	var out api.AppStats
	err := c.do(ctx, http.MethodGet, path(api.PathStats, "app", app)+query("channel", channel), nil, &out)
	return out, err
}
