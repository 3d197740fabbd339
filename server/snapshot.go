package server

import (
	"context"

	"github.com/patchwire/patchwire/resolver"
)

// snapshot is the resolver's view of app for one device, from the
// server's in-memory catalog (current as of the call).
func (s *Server) snapshot(ctx context.Context, app, deviceID string) (resolver.Snapshot, error) {
	return s.catalog.Snapshot(ctx, app, deviceID)
}
