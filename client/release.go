package client

import (
	"context"
	"net/http"

	"github.com/patchwire/patchwire/api"
)

// RotationAdded is the answer to a posted key rotation.
type RotationAdded struct {
	App      string `json:"app_id"`
	Sequence uint64 `json:"sequence"`
	KeyID    string `json:"key_id"`
}

// AddReleaseRotation appends a signed release key rotation
// (checksig.SignRotation) to app's chain.
func (c *Client) AddReleaseRotation(ctx context.Context, app string, rot api.SignedStatement) (RotationAdded, error) {
	var out RotationAdded
	err := c.do(ctx, http.MethodPost, path(api.PathAppReleaseKeys, "app", app), rot, &out)
	return out, err
}

// ReleaseRotations returns app's chain of release key rotations.
func (c *Client) ReleaseRotations(ctx context.Context, app string) (api.ReleaseKeyChain, error) {
	var out api.ReleaseKeyChain
	err := c.do(ctx, http.MethodGet, path(api.PathAppReleaseKeys, "app", app), nil, &out)
	return out, err
}
