package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patchwire/patchwire/api"
)

// Pending switches (issue 8): a change of what a channel serves that waits
// for its patches is kept in the channel record as api.Channel.Pending;
// the record goes on serving what it served until CompleteSwitch. See
// doc.go, "Channels".

// ErrSwitchFailed: CompleteSwitch found that the pending change can no
// longer be made (its bundle is gone, a rule breaks); the pending switch is
// dropped and the channel keeps serving what it served (also ErrInvalid).
var ErrSwitchFailed error = &kindError{"switch failed", ErrInvalid}

// StageChannel is UpdateChannel for a change of what the channel serves
// that must wait for its patches. fn edits the channel as for
// UpdateChannel and the result is validated the same way. When it changes
// Bundle or Rollout, the stored record keeps serving what it served, with
// the change as Pending {action, bundle, rollout, since, deadline}; other
// settings fn changed are saved at once (history action "update"), and
// Sequence does not move until the switch. A change that leaves what the
// channel serves as it is drops a pending switch instead (the latest word
// wins) and is saved as UpdateChannel saves it. The stored channel is
// returned: Pending is set when a switch waits.
func (s *Store) StageChannel(ctx context.Context, app, name, action string, since, deadline time.Time, fn func(*api.Channel) error) (api.Channel, error) {
	return s.editChannel(ctx, "stage change of", app, name, true, fn, func(txn kvTxn, old, c api.Channel) (api.Channel, error) {
		c.App, c.Name, c.ID, c.CreatedAt, c.Sequence = old.App, old.Name, old.ID, old.CreatedAt, old.Sequence
		if err := s.checkChannel(txn, &c); err != nil {
			return api.Channel{}, err
		}
		if c.Bundle == old.Bundle && rolloutsEqual(c.Rollout, old.Rollout) {
			detail := ""
			if old.Pending != nil {
				detail = "replaces the pending switch to " + bundleName(old.Pending.Bundle)
			}
			return s.saveChannel(txn, old, c, action, detail)
		}
		staged := c
		staged.Bundle, staged.Rollout = old.Bundle, cloneRollout(old.Rollout)
		staged.Pending = &api.PendingSwitch{Action: action, Bundle: c.Bundle, Rollout: cloneRollout(c.Rollout), Since: since.UTC(), Deadline: deadline.UTC()}
		staged.UpdatedAt = s.now()
		if err := putChannel(txn, staged); err != nil {
			return api.Channel{}, err
		}
		if d := diffChannel(old, staged); d != "" {
			ev := api.ChannelEvent{At: staged.UpdatedAt, Action: "update", Bundle: old.Bundle, Detail: d}
			if err := appendHistory(txn, app, name, []api.ChannelEvent{ev}); err != nil {
				return api.Channel{}, err
			}
		}
		return staged, nil
	})
}

// CompleteSwitch makes channel name serve its pending switch named by
// since (PendingSwitch.Since), recorded with the switch's action, as
// UpdateChannel records a change. done is false, with nothing written,
// when the channel has no such pending switch any more (a later change
// replaced it). When the change can no longer be made, the pending switch
// is dropped and the error is ErrSwitchFailed naming why.
func (s *Store) CompleteSwitch(ctx context.Context, app, name string, since time.Time) (ch api.Channel, done bool, err error) {
	if err := ValidateAppID(app); err != nil {
		return api.Channel{}, false, err
	}
	var failed error
	err = s.update(ctx, func(txn kvTxn) error {
		failed, done = nil, false
		old, err := getChannelTxn(txn, app, name)
		if err != nil {
			return err
		}
		p := old.Pending
		if p == nil || !p.Since.Equal(since) {
			ch = old
			return nil
		}
		c := old
		c.Bundle, c.Rollout, c.Pending = p.Bundle, cloneRollout(p.Rollout), nil
		ch, err = s.saveChannel(txn, old, c, p.Action, "")
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) {
			failed = err
			c = old
			c.Pending = nil
			ch = c
			return putChannel(txn, c)
		}
		done = err == nil
		return err
	})
	if err == nil && failed != nil {
		err = fmt.Errorf("%w: %v", ErrSwitchFailed, failed)
	}
	if err != nil {
		return ch, false, fmt.Errorf("switch channel %q of app %q: %w", name, app, err)
	}
	if done {
		s.emit(servesEvent(ch))
	}
	return ch, done, nil
}

// SetSwitchProgress records how many of the pending switch's (base,
// target) pairs have their patches (done of total). It writes only the
// pending switch named by since, and neither the history nor UpdatedAt.
func (s *Store) SetSwitchProgress(ctx context.Context, app, name string, since time.Time, done, total int) error {
	if err := ValidateAppID(app); err != nil {
		return err
	}
	return s.update(ctx, func(txn kvTxn) error {
		c, err := getChannelTxn(txn, app, name)
		if err != nil {
			return err
		}
		p := c.Pending
		if p == nil || !p.Since.Equal(since) || p.BasesDone == done && p.BasesTotal == total {
			return nil
		}
		np := *p
		np.BasesDone, np.BasesTotal = done, total
		c.Pending = &np
		return putChannel(txn, c)
	})
}

// PendingSwitches returns every channel of every app with a pending
// switch (the server resumes them at start).
func (s *Store) PendingSwitches(ctx context.Context) ([]api.Channel, error) {
	var list []api.Channel
	err := s.view(ctx, func(txn kvTxn) error {
		list = nil
		pfx := []byte(pfxChannel)
		return scan(txn, pfx, true, func(key, v []byte) error {
			rest := key[len(pfx):]
			i := bytes.IndexByte(rest, bundleSep)
			if i < 0 {
				return fmt.Errorf("record %q: no app separator: %w", key, ErrCorrupt)
			}
			app, name := string(rest[:i]), string(rest[i+1:])
			c, err := decodeChannel(key, app, name, v)
			if err == nil && c.Pending != nil {
				list = append(list, c)
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pending switches: %w", err)
	}
	return list, nil
}

// checkPending checks the bundles a pending switch will serve exist.
func checkPending(txn kvTxn, c *api.Channel) error {
	p := c.Pending
	if p == nil {
		return nil
	}
	if err := checkServedBundle(txn, c.App, p.Bundle, true); err != nil {
		return fmt.Errorf("pending switch: %w", err)
	}
	if p.Rollout != nil {
		if err := checkServedBundle(txn, c.App, p.Rollout.Bundle, false); err != nil {
			return fmt.Errorf("pending rollout: %w", err)
		}
	}
	return nil
}

// pendingNames reports whether a pending switch would serve version.
func pendingNames(p *api.PendingSwitch, version string) bool {
	return p != nil && (p.Bundle == version || p.Rollout != nil && p.Rollout.Bundle == version)
}

func pendingEqual(a, b *api.PendingSwitch) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.Rollout, y.Rollout = nil, nil
	return x.Action == y.Action && x.Bundle == y.Bundle && x.Since.Equal(y.Since) && x.Deadline.Equal(y.Deadline) &&
		x.BasesDone == y.BasesDone && x.BasesTotal == y.BasesTotal && rolloutsEqual(a.Rollout, b.Rollout)
}
