package client

import (
	"context"
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// Whoami describes the key the client calls with.
func (c *Client) Whoami(ctx context.Context) (api.Whoami, error) {
	var out api.Whoami
	err := c.do(ctx, http.MethodGet, api.PathWhoami, nil, &out)
	return out, err
}

// SearchDevices lists up to limit devices of app (0: the server's default)
// whose id starts with q or whose custom id contains it, newest first.
func (c *Client) SearchDevices(ctx context.Context, app, q string, limit int) ([]api.Device, error) {
	var out api.DeviceList
	p := path(api.PathDevices, "app", app) + query("q", q, "limit", positive(int64(limit)))
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out.Devices, err
}

// Device returns what the server knows of one device of app.
func (c *Client) Device(ctx context.Context, app, device string) (api.DeviceDetail, error) {
	var out api.DeviceDetail
	err := c.do(ctx, http.MethodGet, path(api.PathDevice, "app", app, "device", device), nil, &out)
	return out, err
}

// SeriesQuery selects a stats series: every field is optional (the server
// defaults to hour buckets over the last 48 hours).
type SeriesQuery struct {
	Bucket          string // api.BucketHour or api.BucketDay
	From, To        int64  // Unix seconds; 0 for the default
	Channel, Bundle string
}

// StatsSeries returns app's time-bucketed counters per bundle version.
func (c *Client) StatsSeries(ctx context.Context, app string, q SeriesQuery) (api.StatsSeries, error) {
	p := path(api.PathStatsSeries, "app", app) + query("bucket", q.Bucket, "channel", q.Channel, "bundle", q.Bundle,
		"from", positive(q.From), "to", positive(q.To))
	var out api.StatsSeries
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out, err
}
