package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/patchwire/patchwire/api"
)

// Stats returns an app's per-bundle device statistics, restricted to one
// channel when channel is not "".
func (c *Client) Stats(ctx context.Context, app, channel string) (api.AppStats, error) {
	var out api.AppStats
	p := path(api.PathStats, "app", app)
	if channel != "" {
		p += "?" + url.Values{"channel": {channel}}.Encode()
	}
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out, err
}
