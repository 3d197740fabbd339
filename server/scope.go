package server

import (
	"net/http"
	"slices"

	"github.com/patchwire/patchwire/api"
)

// permission is what a route needs of the key that calls it. The scopes
// are stepped as Capgo's key modes are (read < upload < write < admin):
// each scope may do everything the one before it may. The README's
// "Scopes" table lists every route with the permission it needs.
type permission int

const (
	// permRead looks: apps, bundles, channels, history, stats.
	permRead permission = iota + 1
	// permUpload uploads bundles.
	permUpload
	// permSetChannel points a channel at a bundle: a write key, or an
	// upload key whose Channels list that channel.
	permSetChannel
	// permWrite changes channels (create, settings, delete, rollback,
	// rollout), deletes bundles and sets device overrides.
	permWrite
	// permAdmin manages apps, API keys and webhooks.
	permAdmin
)

// String names the permission in 403 answers.
func (p permission) String() string {
	switch p {
	case permRead:
		return "read"
	case permUpload:
		return "upload bundles"
	case permSetChannel:
		return "set channel bundles"
	case permWrite:
		return "change channels, bundles and overrides"
	case permAdmin:
		return "manage apps, keys and webhooks"
	}
	return "?"
}

// scopeRank orders the scopes; an unknown scope ranks 0 and may do nothing.
func scopeRank(scope string) permission {
	switch scope {
	case api.ScopeRead:
		return permRead
	case api.ScopeUpload:
		return permUpload
	case api.ScopeWrite:
		return permWrite
	case api.ScopeAdmin:
		return permAdmin
	}
	return 0
}

// allows reports whether key may do what on app ("" = no app) and, for
// permSetChannel, on channel. Keys other than admin keys act only on the
// apps they list; read and write keys that list none act on every app,
// upload keys always list theirs.
func allows(key api.Key, what permission, app, channel string) bool {
	rank := scopeRank(key.Scope)
	if rank == permAdmin {
		return true
	}
	if rank == 0 || what == permAdmin {
		return false
	}
	if app != "" && !keyCoversApp(key, app) {
		return false
	}
	if what == permSetChannel {
		return rank >= permWrite || rank == permUpload && slices.Contains(key.Channels, channel)
	}
	return rank >= what
}

// keyCoversApp reports whether a non-admin key may act on app at all.
func keyCoversApp(key api.Key, app string) bool {
	if len(key.Apps) == 0 {
		return key.Scope != api.ScopeUpload
	}
	return slices.Contains(key.Apps, app)
}

// forbidden is the 403 for key trying what on app (and channel).
func forbidden(key api.Key, what permission, app, channel string) error {
	on := "this server"
	switch {
	case channel != "":
		on = "channel " + channel + " of app " + app
	case app != "":
		on = "app " + app
	}
	msg := "key " + key.ID + " (" + key.Scope + ") may not " + what.String() + " on " + on
	switch {
	case what == permSetChannel && key.Scope == api.ScopeUpload:
		msg += "; use a write key, or an upload key created with --channels " + channel
	case what > scopeRank(key.Scope):
		need := scopeFor(what)
		article := "a "
		if need == api.ScopeAdmin {
			article = "an "
		}
		msg += "; it needs " + article + need + " key"
	}
	return errorf(http.StatusForbidden, api.CodeForbidden, msg)
}

// scopeFor is the lowest scope that grants what in full.
func scopeFor(what permission) string {
	switch what {
	case permRead:
		return api.ScopeRead
	case permUpload:
		return api.ScopeUpload
	case permSetChannel, permWrite:
		return api.ScopeWrite
	}
	return api.ScopeAdmin
}
