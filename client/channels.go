package client

import (
	"context"
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// CreateChannel adds a channel to app; settings left nil take the defaults
// (every platform, emulators and devices, dev and prod builds, policy
// major, private, no self-assignment, no bundle).
func (c *Client) CreateChannel(ctx context.Context, app string, req api.CreateChannelRequest) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodPost, path(api.PathChannels, "app", app), req, &ch)
	return ch, err
}

// ListChannels lists app's channels by name.
func (c *Client) ListChannels(ctx context.Context, app string) ([]api.Channel, error) {
	var list []api.Channel
	err := c.do(ctx, http.MethodGet, path(api.PathChannels, "app", app), nil, &list)
	return list, err
}

// GetChannel returns one channel.
func (c *Client) GetChannel(ctx context.Context, app, name string) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodGet, path(api.PathChannel, "app", app, "channel", name), nil, &ch)
	return ch, err
}

// UpdateChannel changes the settings that are set (non-nil) in st.
func (c *Client) UpdateChannel(ctx context.Context, app, name string, st api.ChannelSettings) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodPatch, path(api.PathChannel, "app", app, "channel", name), st, &ch)
	return ch, err
}

// DeleteChannel removes a channel, its history and the device overrides
// that point at it.
func (c *Client) DeleteChannel(ctx context.Context, app, name string) error {
	return c.do(ctx, http.MethodDelete, path(api.PathChannel, "app", app, "channel", name), nil, nil)
}

// SetChannelBundle makes a channel serve bundle, a version or "builtin".
func (c *Client) SetChannelBundle(ctx context.Context, app, name, bundle string) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodPut, path(api.PathChannelBundle, "app", app, "channel", name), api.SetBundleRequest{Bundle: bundle}, &ch)
	return ch, err
}

// RollbackChannel moves a channel back to the bundle it served before.
func (c *Client) RollbackChannel(ctx context.Context, app, name string) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodPost, path(api.PathChannelRollback, "app", app, "channel", name), nil, &ch)
	return ch, err
}

// Rollout starts, changes, pauses, resumes, promotes or cancels a channel's
// rollout.
func (c *Client) Rollout(ctx context.Context, app, name string, req api.RolloutRequest) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodPost, path(api.PathChannelRollout, "app", app, "channel", name), req, &ch)
	return ch, err
}

// ChannelHistory returns a channel's events, oldest first.
func (c *Client) ChannelHistory(ctx context.Context, app, name string) ([]api.ChannelEvent, error) {
	var hist []api.ChannelEvent
	err := c.do(ctx, http.MethodGet, path(api.PathChannelHistory, "app", app, "channel", name), nil, &hist)
	return hist, err
}

// SetOverride pins a device to a channel.
func (c *Client) SetOverride(ctx context.Context, app, device, channel string) (api.DeviceOverride, error) {
	var out api.DeviceOverride
	err := c.do(ctx, http.MethodPut, path(api.PathDeviceOverride, "app", app, "device", device), api.OverrideRequest{Channel: channel}, &out)
	return out, err
}

// ClearOverride removes a device's override (none is not an error).
func (c *Client) ClearOverride(ctx context.Context, app, device string) error {
	return c.do(ctx, http.MethodDelete, path(api.PathDeviceOverride, "app", app, "device", device), nil, nil)
}
