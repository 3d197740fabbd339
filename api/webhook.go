package api

import "time"

// Webhook routes of the admin API (admin keys only): an app's hooks (GET
// lists, POST adds one and answers its secret once), one hook by id
// (DELETE), an app's delivery log (GET, ?hook=ID to narrow it), and the
// redelivery of one finished delivery (POST), and the rotation of one
// hook's secret (POST).
const (
	PathWebhooks = "/api/v1/apps/{app}/webhooks"
	PathWebhook  = "/api/v1/webhooks/{id}"
	// PathWebhookRotateSecret (POST, RotateWebhookSecretRequest) makes a
	// hook a new secret, answered once; the previous one stays valid until
	// it expires.
	PathWebhookRotateSecret = "/api/v1/webhooks/{id}/rotate-secret"
	PathWebhookDeliveries   = "/api/v1/apps/{app}/webhook-deliveries"
	// PathWebhookRedeliver (POST) queues a finished delivery again.
	PathWebhookRedeliver = "/api/v1/apps/{app}/webhook-deliveries/{id}/redeliver"
	// QueryWebhook narrows PathWebhookDeliveries to one hook.
	QueryWebhook = "hook"
)

// Webhook is one registered hook. Its secret is not part of it: it is
// shown once, in CreateWebhookResponse.
type Webhook struct {
	ID        string    `json:"id"`
	App       string    `json:"app"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"` // webhook.EventBundleUploaded, ...
	CreatedAt time.Time `json:"created_at"`
	// PreviousSecretExpires is when the secret before the current one
	// stops signing deliveries, while it still does (after a rotation).
	PreviousSecretExpires *time.Time `json:"previous_secret_expires,omitempty"`
}

// CreateWebhookRequest is the body of POST PathWebhooks.
type CreateWebhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// CreateWebhookResponse answers POST PathWebhooks: the hook and the secret
// its deliveries are signed with (webhook.Verify), shown only this once.
type CreateWebhookResponse struct {
	Webhook
	Secret string `json:"secret"`
}

// Bounds of RotateWebhookSecretRequest.ExpirePreviousIn.
const (
	// DefaultExpirePrevious is how long the previous secret stays valid
	// when the request names no expiry.
	DefaultExpirePrevious = 24 * time.Hour
	// MaxExpirePrevious is the longest it may stay valid.
	MaxExpirePrevious = 7 * 24 * time.Hour
)

// RotateWebhookSecretRequest is the body of POST PathWebhookRotateSecret
// (optional: no body is the default).
type RotateWebhookSecretRequest struct {
	// ExpirePreviousIn is how long the previous secret keeps signing
	// deliveries beside the new one, a Go duration ("24h", "90m"): ""
	// DefaultExpirePrevious, "0" not at all, at most MaxExpirePrevious.
	ExpirePreviousIn string `json:"expire_previous_in,omitempty"`
}

// RotateWebhookSecretResponse answers POST PathWebhookRotateSecret: the
// hook (PreviousSecretExpires set while the previous secret still signs)
// and its new secret, shown only this once.
type RotateWebhookSecretResponse struct {
	Webhook
	Secret string `json:"secret"`
}

// Delivery statuses.
const (
	// DeliveryPending: not delivered yet; tried again at NextAttempt.
	DeliveryPending = "pending"
	// DeliveryDelivered: the receiver answered 2xx.
	DeliveryDelivered = "delivered"
	// DeliveryFailed: given up after the last attempt.
	DeliveryFailed = "failed"
)

// WebhookDelivery is one event's delivery to one hook, as the log keeps it.
type WebhookDelivery struct {
	ID          string     `json:"id"`
	Hook        string     `json:"hook"`
	App         string     `json:"app"`
	Event       string     `json:"event"` // the event's id
	Type        string     `json:"type"`
	Status      string     `json:"status"` // DeliveryPending, DeliveryDelivered, DeliveryFailed
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"` // pending only
	CreatedAt   time.Time  `json:"created_at"`
	DoneAt      *time.Time `json:"done_at,omitempty"` // delivered or failed
}

// Error codes of the webhook routes.
const (
	// CodeInvalidWebhook (400): the URL or the event list breaks a rule.
	CodeInvalidWebhook = "invalid_webhook"
	// CodeWebhookURLRefused (400): the URL's host is, or resolves to, an
	// address the server does not send to (loopback, private, link-local,
	// unspecified, multicast) and it was not started with
	// --webhook-allow-private.
	CodeWebhookURLRefused = "webhook_url_refused"
	// CodeDeliveryPending (409): a redelivery of a delivery that is still
	// pending (the worker will send it).
	CodeDeliveryPending = "delivery_pending"
)
