package server

import (
	"testing"

	"github.com/patchwire/patchwire/api"
)

// TestAllowsStoredKeys covers issue 14 item 4 for keys as they may be
// stored: admin stays admin, upload stays upload (and no longer deletes or
// changes channels), an upload key listing no apps acts on none, an
// unknown scope may do nothing.
func TestAllowsStoredKeys(t *testing.T) {
	const a = "com.example.app"
	tests := []struct {
		name    string
		key     api.Key
		what    permission
		app, ch string
		want    bool
	}{
		{"admin anything", api.Key{Scope: api.ScopeAdmin}, permAdmin, "", "", true},
		{"admin on any app", api.Key{Scope: api.ScopeAdmin}, permWrite, "x.y", "", true},
		{"upload uploads", api.Key{Scope: api.ScopeUpload, Apps: []string{a}}, permUpload, a, "", true},
		{"upload reads", api.Key{Scope: api.ScopeUpload, Apps: []string{a}}, permRead, a, "", true},
		{"upload does not delete", api.Key{Scope: api.ScopeUpload, Apps: []string{a}}, permWrite, a, "", false},
		{"upload sets no channel", api.Key{Scope: api.ScopeUpload, Apps: []string{a}}, permSetChannel, a, "production", false},
		{"upload sets its channel", api.Key{Scope: api.ScopeUpload, Apps: []string{a}, Channels: []string{"production"}}, permSetChannel, a, "production", true},
		{"upload sets only its channel", api.Key{Scope: api.ScopeUpload, Apps: []string{a}, Channels: []string{"production"}}, permSetChannel, a, "beta", false},
		{"upload without apps acts on none", api.Key{Scope: api.ScopeUpload}, permUpload, a, "", false},
		{"upload on another app", api.Key{Scope: api.ScopeUpload, Apps: []string{a}}, permUpload, "x.y", "", false},
		{"write sets any channel", api.Key{Scope: api.ScopeWrite, Apps: []string{a}}, permSetChannel, a, "beta", true},
		{"write without apps: every app", api.Key{Scope: api.ScopeWrite}, permWrite, "x.y", "", true},
		{"write manages no keys", api.Key{Scope: api.ScopeWrite}, permAdmin, "", "", false},
		{"read reads every app", api.Key{Scope: api.ScopeRead}, permRead, "x.y", "", true},
		{"read listing apps", api.Key{Scope: api.ScopeRead, Apps: []string{a}}, permRead, "x.y", "", false},
		{"read uploads nothing", api.Key{Scope: api.ScopeRead}, permUpload, a, "", false},
		{"unknown scope", api.Key{Scope: "all"}, permRead, a, "", false},
	}
	for _, tc := range tests {
		if got := allows(tc.key, tc.what, tc.app, tc.ch); got != tc.want {
			t.Errorf("%s: allows = %v, want %v", tc.name, got, tc.want)
		}
	}
}
