package store

import (
	"context"
	"fmt"

	"github.com/patchwire/patchwire/api"
)

// AppSnapshot is what one device decision reads, taken from one read
// transaction so it sees one consistent catalog: every change committed
// before it, nothing committed after.
type AppSnapshot struct {
	App       api.App
	AppExists bool
	// Channels are the app's channels in name order.
	Channels []api.Channel
	// Bundles holds every live bundle of the app by version.
	Bundles map[string]api.Bundle
	// Override is the channel an administrator pinned the device to, and
	// SelfAssigned the one an old plugin chose through channel_self; ""
	// when none.
	Override, SelfAssigned string
}

// Snapshot reads app's catalog and what is stored about device deviceID
// (lower-cased; "" or an invalid id reads no device records) in one read
// transaction. An unknown or invalid app id is AppExists=false with a nil
// error. Nothing is cached: the next call sees every change committed
// before it.
func (s *Store) Snapshot(ctx context.Context, app, deviceID string) (AppSnapshot, error) {
	var as AppSnapshot
	if ValidateAppID(app) != nil {
		return as, nil
	}
	dev, devErr := NormalizeDeviceID(deviceID)
	err := s.view(ctx, func(txn kvTxn) error {
		as = AppSnapshot{}
		v, ok, err := getValue(txn, appKey(app))
		if err != nil || !ok {
			return err
		}
		var r appRecord
		if err := decodeRecord(appKey(app), v, &r); err != nil {
			return err
		}
		as.App, as.AppExists = api.App{ID: app, CreatedAt: r.CreatedAt}, true
		if as.Channels, err = listChannelsTxn(txn, app); err != nil {
			return err
		}
		as.Bundles = map[string]api.Bundle{}
		pfx := bundlePrefix(app)
		err = scan(txn, pfx, true, func(key, v []byte) error {
			version := string(key[len(pfx):])
			var r bundleRecord
			if err := decodeRecord(key, v, &r); err != nil {
				return err
			}
			as.Bundles[version] = r.bundle(app, version)
			return nil
		})
		if err != nil || devErr != nil {
			return err
		}
		if v, ok, err := getValue(txn, overrideKey(app, dev)); err != nil {
			return err
		} else if ok {
			as.Override = string(v)
		}
		if v, ok, err := getValue(txn, selfAssignedKey(app, dev)); err != nil {
			return err
		} else if ok {
			as.SelfAssigned = string(v)
		}
		return nil
	})
	if err != nil {
		return AppSnapshot{}, fmt.Errorf("snapshot of app %q: %w", app, err)
	}
	return as, nil
}
