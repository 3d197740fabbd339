package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/patchwire/patchwire/api"
)

// SwitchOptions are how a change of what a channel serves waits for its
// patches (api.QueryWait, api.QueryPatchWait). The zero value is the
// server's default: the answer comes when devices are served.
type SwitchOptions struct {
	// NoWait answers at once; a pending switch is then in the channel's
	// Pending (WaitSwitch follows it).
	NoWait bool
	// PatchWait, when set, is the most the server makes patches for before
	// it switches anyway (0s: switch at once); nil is the server's
	// --patch-wait.
	PatchWait *time.Duration
}

func (o SwitchOptions) query() string {
	var wait, patchWait string
	if o.NoWait {
		wait = "false"
	}
	if o.PatchWait != nil {
		patchWait = o.PatchWait.String()
	}
	return query(api.QueryWait, wait, api.QueryPatchWait, patchWait)
}

// CreateChannelWith is CreateChannel with switch options: a channel
// created with a bundle serves it once its patches exist.
func (c *Client) CreateChannelWith(ctx context.Context, app string, req api.CreateChannelRequest, o SwitchOptions) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodPost, path(api.PathChannels, "app", app)+o.query(), req, &ch)
	return ch, err
}

// SetChannelBundleWith is SetChannelBundle with switch options.
func (c *Client) SetChannelBundleWith(ctx context.Context, app, name, bundle string, o SwitchOptions) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodPut, path(api.PathChannelBundle, "app", app, "channel", name)+o.query(), api.SetBundleRequest{Bundle: bundle}, &ch)
	return ch, err
}

// RolloutWith is Rollout with switch options (start and promote wait for
// patches; the other actions switch at once).
func (c *Client) RolloutWith(ctx context.Context, app, name string, req api.RolloutRequest, o SwitchOptions) (api.Channel, error) {
	var ch api.Channel
	err := c.do(ctx, http.MethodPost, path(api.PathChannelRollout, "app", app, "channel", name)+o.query(), req, &ch)
	return ch, err
}

// ErrSwitchReplaced: the pending switch WaitSwitch followed was not made:
// a later change of what the channel serves replaced it, or it failed.
var ErrSwitchReplaced = errors.New("the pending switch was not made: a later change of the channel replaced it, or it failed (see the channel's history and the server's log)")

// WaitSwitch follows ch's pending switch until the channel serves it,
// calling progress with each new state of it, and returns the channel
// then. With no pending switch it returns ch. It polls every interval
// (default 500ms); it fails with ErrSwitchReplaced when a later change
// replaced the switch before it was made.
func (c *Client) WaitSwitch(ctx context.Context, ch api.Channel, interval time.Duration, progress func(api.PendingSwitch)) (api.Channel, error) {
	if ch.Pending == nil {
		return ch, nil
	}
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	want := *ch.Pending
	last := want
	if progress != nil {
		progress(want)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ch, ctx.Err()
		case <-t.C:
		}
		now, err := c.GetChannel(ctx, ch.App, ch.Name)
		if err != nil {
			return ch, err
		}
		p := now.Pending
		if p != nil && p.Since.Equal(want.Since) {
			if progress != nil && (p.BasesDone != last.BasesDone || p.BasesTotal != last.BasesTotal) {
				progress(*p)
			}
			last = *p
			continue
		}
		if now.Bundle != want.Bundle || p != nil {
			return now, fmt.Errorf("channel %s: %w", ch.Name, ErrSwitchReplaced)
		}
		return now, nil
	}
}

// SigningKey returns the public key the server signs check answers with.
func (c *Client) SigningKey(ctx context.Context) (api.SigningKeyInfo, error) {
	var k api.SigningKeyInfo
	err := c.do(ctx, http.MethodGet, api.PathSigningKey, nil, &k)
	return k, err
}

// MarkBuiltin registers bundle version of app as the one shipped inside
// the app-store builds of nativeVersion.
func (c *Client) MarkBuiltin(ctx context.Context, app, version, nativeVersion string) (api.Bundle, error) {
	var b api.Bundle
	err := c.do(ctx, http.MethodPut, path(api.PathBundleBuiltin, "app", app, "version", version), api.BuiltinRequest{NativeVersion: nativeVersion}, &b)
	return b, err
}
