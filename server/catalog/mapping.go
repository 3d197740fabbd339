package catalog

import (
	"context"

	"github.com/patchwire/patchwire/api"
	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/store"
)

// Snapshot builds the resolver's view of app for one device from one store
// snapshot (one Badger read transaction, no cache): every change committed
// before the call is visible. An unknown app gives a snapshot whose
// App.Exists is false and a nil error.
func Snapshot(ctx context.Context, st store.Catalog, app, deviceID string) (resolver.Snapshot, error) {
	as, err := st.Snapshot(ctx, app, deviceID)
	if err != nil {
		return resolver.Snapshot{}, err
	}
	return FromStore(as), nil
}

// FromStore maps a store snapshot onto the resolver's Snapshot.
func FromStore(as store.AppSnapshot) resolver.Snapshot {
	snap := resolver.Snapshot{
		App:          resolver.App{Exists: as.AppExists},
		Channels:     make([]resolver.Channel, len(as.Channels)),
		Bundles:      make(map[string]resolver.Bundle, len(as.Bundles)),
		Override:     as.Override,
		SelfAssigned: as.SelfAssigned,
	}
	for i, c := range as.Channels {
		snap.Channels[i] = Channel(c)
	}
	for v, b := range as.Bundles {
		snap.Bundles[v] = Bundle(b)
	}
	return snap
}

// Channel maps a stored channel onto resolver.Channel.
func Channel(c api.Channel) resolver.Channel {
	p, ok := resolver.ParsePolicy(c.Policy)
	if !ok {
		p = resolver.PolicyMajor // the store never holds another value
	}
	rc := resolver.Channel{
		ID: c.ID, Name: c.Name, Bundle: c.Bundle,
		Public: c.Public, IOS: c.IOS, Android: c.Android, Electron: c.Electron,
		AllowSelfAssign: c.AllowSelfAssign,
		AllowEmulator:   c.AllowEmulator, AllowDevice: c.AllowDevice,
		AllowDev: c.AllowDev, AllowProd: c.AllowProd,
		Policy:           p,
		AllowUnderNative: c.AllowUnderNative,
		Paused:           c.Paused,
		Disabled:         c.Disabled,
	}
	if r := c.Rollout; r != nil {
		rc.Rollout = resolver.Rollout{ID: r.ID, Bundle: r.Bundle, BasisPoints: r.BasisPoints, Paused: r.Paused}
	}
	return rc
}

// Bundle maps a stored bundle onto resolver.Bundle.
func Bundle(b api.Bundle) resolver.Bundle {
	return resolver.Bundle{
		Version:          b.Version,
		Manifest:         b.Manifest,
		MinUpdateVersion: b.MinUpdateVersion,
		KeyID:            b.CapgoKeyID,
		Link:             b.Link,
		Comment:          b.Comment,
		Size:             b.Size,
		Files:            b.Files,
		Builtin:          b.Builtin,
		NativeVersion:    b.NativeVersion,
	}
}
