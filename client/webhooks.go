package client

import (
	"context"
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// CreateWebhook registers a hook of app; the answer holds its secret,
// shown only this once.
func (c *Client) CreateWebhook(ctx context.Context, app string, req api.CreateWebhookRequest) (api.CreateWebhookResponse, error) {
	var out api.CreateWebhookResponse
	err := c.do(ctx, http.MethodPost, path(api.PathWebhooks, "app", app), req, &out)
	return out, err
}

// ListWebhooks lists app's hooks (never their secrets).
func (c *Client) ListWebhooks(ctx context.Context, app string) ([]api.Webhook, error) {
	var out []api.Webhook
	err := c.do(ctx, http.MethodGet, path(api.PathWebhooks, "app", app), nil, &out)
	return out, err
}

// DeleteWebhook removes a hook and its pending deliveries.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, path(api.PathWebhook, "id", id), nil, nil)
}

// RotateWebhookSecret makes hook id a new secret, answered only this
// once; the previous one keeps signing for req.ExpirePreviousIn.
func (c *Client) RotateWebhookSecret(ctx context.Context, id string, req api.RotateWebhookSecretRequest) (api.RotateWebhookSecretResponse, error) {
	var out api.RotateWebhookSecretResponse
	err := c.do(ctx, http.MethodPost, path(api.PathWebhookRotateSecret, "id", id), req, &out)
	return out, err
}

// WebhookDeliveries lists app's webhook deliveries, oldest first (only
// hook's when hook is not "").
func (c *Client) WebhookDeliveries(ctx context.Context, app, hook string) ([]api.WebhookDelivery, error) {
	var out []api.WebhookDelivery
	err := c.do(ctx, http.MethodGet, path(api.PathWebhookDeliveries, "app", app)+query(api.QueryWebhook, hook), nil, &out)
	return out, err
}

// RedeliverWebhook queues a finished delivery of app again (sent as it was).
func (c *Client) RedeliverWebhook(ctx context.Context, app, id string) (api.WebhookDelivery, error) {
	var out api.WebhookDelivery
	err := c.do(ctx, http.MethodPost, path(path(api.PathWebhookRedeliver, "app", app), "id", id), nil, &out)
	return out, err
}
