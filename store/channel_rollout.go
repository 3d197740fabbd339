package store

import (
	"context"
	"fmt"

	"github.com/patchwire/patchwire/api"
)

// Rollout acts on the rollout of channel name of app, through UpdateChannel;
// the history action is "rollout" for a start, else the action's name.
//
//   - api.RolloutStart: roll req.Bundle (an uploaded version other than the
//     channel's bundle) out to req.BasisPoints (0..10000) of the devices. A
//     new bundle gets a new random rollout id (every device is drawn
//     again); the same bundle only changes the share, keeping the id, so
//     raising it only adds devices and lowering it only removes the last
//     added.
//   - api.RolloutPause, api.RolloutResume: freeze the rollout (devices on
//     the rollout bundle keep it, nobody else enters) or unfreeze it.
//   - api.RolloutPromote: the rollout bundle becomes the channel's bundle
//     for everyone; the rollout ends.
//   - api.RolloutCancel: the rollout ends; everyone gets the channel's
//     bundle.
//
// Acting on a channel without a rollout is ErrNoRollout (also ErrInvalid).
func (s *Store) Rollout(ctx context.Context, app, name string, req api.RolloutRequest) (api.Channel, error) {
	action, fn, err := s.RolloutChange(req)
	if err != nil {
		return api.Channel{}, err
	}
	return s.UpdateChannel(ctx, app, name, action, fn)
}

// RolloutChange checks req and returns the history action and the edit of
// a channel that Rollout makes, for UpdateChannel or StageChannel.
func (s *Store) RolloutChange(req api.RolloutRequest) (string, func(*api.Channel) error, error) {
	action := req.Action
	var fn func(*api.Channel) error
	switch req.Action {
	case api.RolloutStart:
		action = "rollout"
		if req.Bundle == "" {
			return "", nil, invalid("rollout bundle", "", "is required to start a rollout")
		}
		if req.BasisPoints < 0 || req.BasisPoints > MaxBasisPoints {
			return "", nil, invalid("rollout basis points", fmt.Sprint(req.BasisPoints), "must be 0 to 10000 (100 %)")
		}
		fn = func(c *api.Channel) error {
			if req.Bundle == c.Bundle {
				return invalid("rollout bundle", req.Bundle, "is the bundle the channel serves already")
			}
			if c.Rollout != nil && c.Rollout.Bundle == req.Bundle {
				c.Rollout.BasisPoints = req.BasisPoints
				return nil
			}
			c.Rollout = &api.Rollout{Bundle: req.Bundle, BasisPoints: req.BasisPoints, ID: newRolloutID(), StartedAt: s.now()}
			return nil
		}
	case api.RolloutPause, api.RolloutResume, api.RolloutPromote, api.RolloutCancel:
		if req.Bundle != "" || req.BasisPoints != 0 {
			return "", nil, invalid("rollout "+req.Action, req.Bundle, "takes no bundle or percentage")
		}
		fn = func(c *api.Channel) error {
			if c.Rollout == nil {
				return fmt.Errorf("channel %q has no rollout to %s: %w", c.Name, req.Action, ErrNoRollout)
			}
			switch req.Action {
			case api.RolloutPause:
				c.Rollout.Paused = true
			case api.RolloutResume:
				c.Rollout.Paused = false
			case api.RolloutPromote:
				c.Bundle, c.Rollout = c.Rollout.Bundle, nil
			case api.RolloutCancel:
				c.Rollout = nil
			}
			return nil
		}
	default:
		return "", nil, invalid("rollout action", req.Action, "must be start, pause, resume, promote or cancel")
	}
	return action, fn, nil
}
