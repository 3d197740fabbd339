package server

import (
	"context"

	"github.com/patchwire/patchwire/resolver"
	"github.com/patchwire/patchwire/server/catalog"
)

// snapshot builds the resolver's view of app for one device from one store
// snapshot; see catalog.Snapshot.
func (s *Server) snapshot(ctx context.Context, app, deviceID string) (resolver.Snapshot, error) {
	return catalog.Snapshot(ctx, s.store, app, deviceID)
}
