package client

import (
	"context"
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// DeviceChannels returns the channels the server stores for a device: the
// administrator's override and an old plugin's self-assignment.
func (c *Client) DeviceChannels(ctx context.Context, app, device string) (api.DeviceChannels, error) {
	var out api.DeviceChannels
	err := c.do(ctx, http.MethodGet, path(api.PathDeviceOverride, "app", app, "device", device), nil, &out)
	return out, err
}

// ClearDeviceChannels removes a device's override and its stored
// self-assignment, and returns what was removed ("" for none).
func (c *Client) ClearDeviceChannels(ctx context.Context, app, device string) (api.DeviceChannels, error) {
	var out api.DeviceChannels
	err := c.do(ctx, http.MethodDelete, path(api.PathDeviceOverride, "app", app, "device", device), nil, &out)
	return out, err
}
