package server

// Test hooks for the native protocol's tests (package server_test).

import (
	"context"

	"github.com/patchwire/patchwire/server/native"
)

// PausePatches stops s's patch workers before their next job until resume
// is called: what a check answers while a patch is "not made yet".
func PausePatches(s *Server) (resume func()) { return s.patcher.Pause() }

// SettlePatches waits until s's patcher can write nothing more: no job
// running, none queued unless the workers are paused (PausePatches).
func SettlePatches(ctx context.Context, s *Server) error { return s.patcher.Settle(ctx) }

// WaitPatches waits until s has no patch job queued or running.
func WaitPatches(ctx context.Context, s *Server) error { return s.patcher.Wait(ctx) }

// NativeSignatures is how the native handler signed its answers so far.
func NativeSignatures(s *Server) native.Signatures { return s.native.Signatures() }
