package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/patchwire/patchwire/api"
)

// MaxDeviceSearch bounds the devices one SearchDevices call returns.
const MaxDeviceSearch = 500

// SearchDevices returns up to limit (1..MaxDeviceSearch) known devices of
// app, most recently seen first, whose id starts with q or whose custom id
// contains it, both case-insensitively; q "" matches every device. It reads
// every device record of the app: meant for the console and the CLI, not
// for device requests.
func (s *Store) SearchDevices(ctx context.Context, app, q string, limit int) ([]api.Device, error) {
	if err := ValidateAppID(app); err != nil {
		return nil, fmt.Errorf("search devices: %w", err)
	}
	limit = min(max(limit, 1), MaxDeviceSearch)
	q = strings.ToLower(q)
	var found []api.Device
	prefix := appScopedPrefix(pfxDevice, app)
	err := s.view(ctx, func(txn kvTxn) error {
		return scan(txn, prefix, true, func(key, v []byte) error {
			id := string(key[len(prefix):])
			var rec deviceRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return nil // a record that does not decode is not a match
			}
			if q != "" && !strings.HasPrefix(strings.ToLower(id), q) && !strings.Contains(strings.ToLower(rec.CustomID), q) {
				return ctx.Err()
			}
			found = append(found, rec.device(app, id))
			if len(found) >= 4*limit { // keep memory bounded: trim to the newest
				found = newestDevices(found, limit)
			}
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, fmt.Errorf("search devices: %w", err)
	}
	return newestDevices(found, limit), nil
}

// newestDevices sorts ds by last sighting, newest first (then by id), and
// keeps the first limit.
func newestDevices(ds []api.Device, limit int) []api.Device {
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].LastSeen.Equal(ds[j].LastSeen) {
			return ds[i].LastSeen.After(ds[j].LastSeen)
		}
		return ds[i].ID < ds[j].ID
	})
	return ds[:min(len(ds), limit)]
}
