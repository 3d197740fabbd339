package resolver

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"

	"github.com/patchwire/patchwire/manifest"
)

// bundle returns a live bundle with content.
func bundle(v string) Bundle {
	return Bundle{Version: v, Manifest: manifest.Sum([]byte(v)), Size: 100, Files: 3}
}

// baseSnapshot: production (public, 1.2.0), beta (self-assignable, 1.3.0),
// internal (private, 1.1.0).
func baseSnapshot() Snapshot {
	prod := NewChannel("production", "1.2.0")
	prod.ID, prod.Public = 1, true
	beta := NewChannel("beta", "1.3.0")
	beta.ID, beta.AllowSelfAssign = 2, true
	internal := NewChannel("internal", "1.1.0")
	internal.ID = 3
	bs := map[string]Bundle{}
	for _, v := range []string{"0.9.0", "1.0.0", "1.1.0", "1.2.0", "1.2.1", "1.2.0+build.2", "1.3.0", "2.0.0", "latest"} {
		bs[v] = bundle(v)
	}
	return Snapshot{
		App:      App{Exists: true},
		Channels: []Channel{prod, beta, internal},
		Bundles:  bs,
	}
}

func baseDevice() Device {
	return Device{
		AppID:         "com.example.app",
		DeviceID:      "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
		Platform:      PlatformAndroid,
		VersionBuild:  "1.0",
		VersionName:   "1.1.0",
		PluginVersion: "8.51.14",
		IsProd:        true,
	}
}

// edited is the base snapshot and device with snap and dev applied (each
// may be nil).
func edited(snap func(*Snapshot), dev func(*Device)) (Snapshot, Device) {
	s, d := baseSnapshot(), baseDevice()
	if snap != nil {
		snap(&s)
	}
	if dev != nil {
		dev(&d)
	}
	return s, d
}

// oldPluginDevice makes d an old plugin, whose channel the server keeps.
func oldPluginDevice(d *Device) { d.PluginVersion = oldPlugin }

// channelMut edits the named channel of s.
func channelMut(s *Snapshot, name string, f func(*Channel)) {
	for i := range s.Channels {
		if s.Channels[i].Name == name {
			f(&s.Channels[i])
			return
		}
	}
	panic("no channel " + name)
}

type want struct {
	code    Code   // "" = update
	version string // update: bundle version; refusal: the "version" extra
	old     string // refusal: the "old" extra
	channel string
}

type row struct {
	name string
	snap func(*Snapshot)
	dev  func(*Device)
	want want
}

func run(t *testing.T, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			s, d := edited(r.snap, r.dev)
			got := Decide(s, d)
			if indexed := Decide(s.Index(), d); !reflect.DeepEqual(indexed, got) {
				t.Fatalf("indexed snapshot decides %+v, unindexed %+v", indexed, got)
			}
			if (got.Update == nil) == (got.NoUpdate == nil) {
				t.Fatalf("decision must have exactly one side: %+v", got)
			}
			fleetSame(t, s, d, got)
			if r.want.code == "" {
				if got.NoUpdate != nil {
					t.Fatalf("got refusal %s (%s), want update to %s", got.NoUpdate.Code, got.NoUpdate.Message, r.want.version)
				}
				if got.Update.Bundle.Version != r.want.version {
					t.Errorf("update to %q, want %q", got.Update.Bundle.Version, r.want.version)
				}
				if r.want.channel != "" && got.Update.Channel != r.want.channel {
					t.Errorf("channel %q, want %q", got.Update.Channel, r.want.channel)
				}
				return
			}
			if got.Update != nil {
				t.Fatalf("got update to %s via %s, want %s", got.Update.Bundle.Version, got.Update.Channel, r.want.code)
			}
			n := got.NoUpdate
			if n.Code != r.want.code {
				t.Fatalf("code %s (%s), want %s", n.Code, n.Message, r.want.code)
			}
			if n.Version != r.want.version || n.Old != r.want.old {
				t.Errorf("extras version=%q old=%q, want %q %q", n.Version, n.Old, r.want.version, r.want.old)
			}
			if n.Kind != KindOf(n.Code) || n.Status != StatusOf(n.Code) || n.Message == "" {
				t.Errorf("kind/status/message %q/%d/%q inconsistent for %s", n.Kind, n.Status, n.Message, n.Code)
			}
			if r.want.channel != "" && n.Channel != r.want.channel {
				t.Errorf("channel %q, want %q", n.Channel, r.want.channel)
			}
		})
	}
}

// TestDecideOrder has one row per check of protocol §8 in the document's
// order, each combined with a later failing check to show the first wins.
func TestDecideOrder(t *testing.T) {
	run(t, []row{
		{"base: update from public channel", nil, nil, want{version: "1.2.0", channel: "production"}},

		// 1. unknown app beats everything.
		{"on_premise_app", func(s *Snapshot) { s.App.Exists = false }, func(d *Device) { d.VersionBuild = "garbage" },
			want{code: CodeOnPremiseApp}},
		// 2. provider infrastructure, before version checks.
		{"provider blocked", func(s *Snapshot) { s.App.BlockProviderInfra = true }, func(d *Device) { d.Provider = "google"; d.VersionBuild = "unknown" },
			want{code: CodeProviderBlocked}},
		{"provider not blocked by app", nil, func(d *Device) { d.Provider = "google" }, want{version: "1.2.0"}},
		// 3. native version.
		{"unknown_version_build", nil, func(d *Device) { d.VersionBuild = "unknown"; d.PluginVersion = "4.1.0" },
			want{code: CodeUnknownVersionBuild}},
		{"semver_error", nil, func(d *Device) { d.VersionBuild = "1.2.3.4"; d.PluginVersion = "4.1.0" },
			want{code: CodeSemverError}},
		{"semver_error empty", nil, func(d *Device) { d.VersionBuild = "" }, want{code: CodeSemverError}},
		{"semver_error too long", nil, func(d *Device) { d.VersionBuild = "1.2.3-" + fmt.Sprintf("%060d", 1) }, want{code: CodeSemverError}},
		// 4. plugin version.
		{"unsupported plugin v4", nil, func(d *Device) { d.PluginVersion = "4.15.0"; d.DeviceID = "" },
			want{code: CodeUnsupportedPlugin}},
		{"unsupported plugin not semver", nil, func(d *Device) { d.PluginVersion = "eight" }, want{code: CodeUnsupportedPlugin}},
		// 5. basics.
		{"missing_info device id", nil, func(d *Device) { d.DeviceID = ""; d.DefaultChannel = "nope" }, want{code: CodeMissingInfo}},
		{"missing_info version_name", nil, func(d *Device) { d.VersionName = "" }, want{code: CodeMissingInfo}},
		{"missing_info platform", nil, func(d *Device) { d.Platform = "windows" }, want{code: CodeMissingInfo}},
		// 6. channel.
		{"no_channel unknown defaultChannel", nil, func(d *Device) { d.DefaultChannel = "nope" }, want{code: CodeNoChannel}},
		{"no_channel private defaultChannel, no fallback to public", nil, func(d *Device) { d.DefaultChannel = "internal" },
			want{code: CodeNoChannel}},
		{"no_channel defaultChannel disabled for platform",
			func(s *Snapshot) { channelMut(s, "beta", func(c *Channel) { c.Android = false }) },
			func(d *Device) { d.DefaultChannel = "beta" }, want{code: CodeNoChannel}},
		{"no_channel no public channel for platform",
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Android = false }) }, nil, want{code: CodeNoChannel}},
		{"no_channel public channel's bundle deleted",
			func(s *Snapshot) { b := s.Bundles["1.2.0"]; b.Deleted = true; s.Bundles["1.2.0"] = b }, nil, want{code: CodeNoChannel}},
		{"no_channel public channel's bundle missing",
			func(s *Snapshot) { delete(s.Bundles, "1.2.0") }, nil, want{code: CodeNoChannel}},
		// 7. bundle content, before key and "already there".
		{"no_bundle", func(s *Snapshot) {
			b := s.Bundles["1.2.0"]
			b.Manifest = manifest.Digest{}
			b.KeyID = "k2"
			s.Bundles["1.2.0"] = b
		},
			func(d *Device) { d.KeyID = "k1"; d.VersionName = "1.2.0" }, want{code: CodeNoBundle, channel: "production"}},
		// 8. key id, before "already there".
		{"key_id_mismatch", func(s *Snapshot) { b := s.Bundles["1.2.0"]; b.KeyID = "bundlekey"; s.Bundles["1.2.0"] = b },
			func(d *Device) { d.KeyID = "devicekey"; d.VersionName = "1.2.0" }, want{code: CodeKeyIDMismatch}},
		{"key_id mismatch ignored up to plugin 8.40.7", func(s *Snapshot) { b := s.Bundles["1.2.0"]; b.KeyID = "bundlekey"; s.Bundles["1.2.0"] = b },
			func(d *Device) { d.KeyID = "devicekey"; d.PluginVersion = "8.40.7" }, want{version: "1.2.0"}},
		{"key_id only on one side", func(s *Snapshot) { b := s.Bundles["1.2.0"]; b.KeyID = "bundlekey"; s.Bundles["1.2.0"] = b },
			nil, want{version: "1.2.0"}},
		// 9. already on target, before every channel restriction.
		{"no_new_version_available before restrictions",
			func(s *Snapshot) {
				channelMut(s, "production", func(c *Channel) { c.AllowProd, c.Policy = false, PolicyPatch })
			},
			func(d *Device) { d.VersionName = "1.2.0" }, want{code: CodeNoNewVersion}},
		{"no_new_version_available builtin = native version",
			nil, func(d *Device) { d.VersionName = Builtin; d.VersionBuild = "1.2" }, want{code: CodeNoNewVersion}},
		// 10. restrictions, in order.
		{"disabled_platform_android before major",
			func(s *Snapshot) {
				channelMut(s, "internal", func(c *Channel) { c.Android, c.Bundle = false, "2.0.0" })
				s.Override = "internal"
			}, nil, want{code: CodeDisabledPlatformAndroid, version: "2.0.0", old: "1.1.0"}},
		{"disabled_platform_ios",
			func(s *Snapshot) {
				channelMut(s, "internal", func(c *Channel) { c.IOS = false })
				s.Override = "internal"
			},
			func(d *Device) { d.Platform = PlatformIOS; d.VersionName = "1.0.0" }, want{code: CodeDisabledPlatformIOS, version: "1.1.0", old: "1.0.0"}},
		{"disabled_platform_electron",
			func(s *Snapshot) {
				channelMut(s, "internal", func(c *Channel) { c.Electron = false })
				s.Override = "internal"
			},
			func(d *Device) { d.Platform = PlatformElectron; d.VersionName = "1.0.0" }, want{code: CodeDisabledPlatformElec, version: "1.1.0", old: "1.0.0"}},
		{"disable_auto_update_to_major before private",
			func(s *Snapshot) {
				channelMut(s, "internal", func(c *Channel) { c.Bundle = "2.0.0" })
				s.SelfAssigned = "internal"
			}, oldPluginDevice, want{code: CodeDisableMajor, version: "2.0.0", old: "1.0.0"}},
		{"cannot_update_via_private_channel before minor",
			func(s *Snapshot) {
				channelMut(s, "internal", func(c *Channel) { c.Bundle, c.Policy = "1.2.0", PolicyMinor })
				s.SelfAssigned = "internal"
			}, oldPluginDevice, want{code: CodePrivateChannel}},
		{"disable_auto_update_to_minor before patch-level checks",
			func(s *Snapshot) {
				channelMut(s, "production", func(c *Channel) { c.Policy, c.AllowProd = PolicyMinor, false })
			}, nil, want{code: CodeDisableMinor, version: "1.2.0", old: "1.0.0"}},
		{"disable_auto_update_to_patch",
			func(s *Snapshot) {
				channelMut(s, "production", func(c *Channel) { c.Policy, c.Bundle, c.AllowProd = PolicyPatch, "1.2.1", false })
			}, func(d *Device) { d.VersionBuild = "1.2.0" }, want{code: CodeDisablePatch, version: "1.2.1", old: "1.2.0"}},
		{"misconfigured_channel metadata without min_update_version",
			func(s *Snapshot) {
				channelMut(s, "production", func(c *Channel) { c.Policy, c.AllowProd = PolicyMetadata, false })
			}, nil, want{code: CodeMisconfiguredChannel, version: "1.2.0", old: "1.0.0"}},
		{"disable_auto_update_to_metadata before under native",
			func(s *Snapshot) {
				channelMut(s, "production", func(c *Channel) { c.Policy, c.Bundle = PolicyMetadata, "1.1.0" })
				b := s.Bundles["1.1.0"]
				b.MinUpdateVersion = "1.3.0"
				s.Bundles["1.1.0"] = b
			}, func(d *Device) { d.VersionBuild = "1.2"; d.VersionName = "1.0.0" },
			want{code: CodeDisableMetadata, version: "1.1.0", old: "1.2.0"}},
		{"disable_auto_update_under_native before prod",
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.AllowProd = false }) },
			func(d *Device) { d.VersionBuild = "1.3" }, want{code: CodeDisableUnderNative, version: "1.2.0", old: "1.1.0"}},
		{"disable_prod_build before device",
			func(s *Snapshot) {
				channelMut(s, "production", func(c *Channel) { c.AllowProd, c.AllowDevice = false, false })
			},
			nil, want{code: CodeDisableProdBuild, version: "1.2.0", old: "1.1.0"}},
		{"disable_dev_build before device",
			func(s *Snapshot) {
				channelMut(s, "production", func(c *Channel) { c.AllowDev, c.AllowDevice = false, false })
			},
			func(d *Device) { d.IsProd = false }, want{code: CodeDisableDevBuild, version: "1.2.0", old: "1.1.0"}},
		{"disable_device",
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.AllowDevice = false }) },
			nil, want{code: CodeDisableDevice, version: "1.2.0", old: "1.1.0"}},
		{"disable_emulator",
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.AllowEmulator = false }) },
			func(d *Device) { d.IsEmulator = true }, want{code: CodeDisableEmulator, version: "1.2.0", old: "1.1.0"}},
		// 11. native bundle, after restrictions.
		{"builtin target: restrictions first",
			func(s *Snapshot) {
				channelMut(s, "production", func(c *Channel) { c.Bundle, c.AllowEmulator = Builtin, false })
			}, func(d *Device) { d.IsEmulator = true; d.PluginVersion = "6.0.0" },
			want{code: CodeDisableEmulator, version: Builtin, old: "1.1.0"}},
		{"revert_to_builtin_plugin_version_too_old",
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Bundle = Builtin }) },
			func(d *Device) { d.PluginVersion = "6.1.9" }, want{code: CodeRevertToBuiltinTooOld}},
		{"already_on_builtin: channel without bundle",
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Bundle = "" }) },
			nil, want{code: CodeAlreadyOnBuiltin, version: Builtin}},
		{"already_on_builtin: device on builtin",
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Bundle = Builtin }) },
			func(d *Device) { d.VersionName = Builtin }, want{code: CodeAlreadyOnBuiltin, version: Builtin}},
		{"revert to builtin",
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Bundle = Builtin }) },
			nil, want{version: Builtin}},
	})
}

func TestDecidePolicies(t *testing.T) {
	policy := func(p Policy, bundle string) func(*Snapshot) {
		return func(s *Snapshot) {
			channelMut(s, "production", func(c *Channel) { c.Policy, c.Bundle = p, bundle })
		}
	}
	native := func(v string) func(*Device) { return func(d *Device) { d.VersionBuild = v; d.VersionName = "1.0.0" } }
	withMin := func(f func(*Snapshot), v, min string) func(*Snapshot) {
		return func(s *Snapshot) {
			f(s)
			b := s.Bundles[v]
			b.MinUpdateVersion = min
			s.Bundles[v] = b
		}
	}
	run(t, []row{
		{"none allows a major jump", policy(PolicyNone, "2.0.0"), nil, want{version: "2.0.0"}},
		{"empty policy means major", policy("", "2.0.0"), nil, want{code: CodeDisableMajor, version: "2.0.0", old: "1.0.0"}},
		{"major allows minor jump", policy(PolicyMajor, "1.3.0"), nil, want{version: "1.3.0"}},
		{"major compares with native, not current bundle", policy(PolicyMajor, "2.0.0"),
			func(d *Device) { d.VersionName = "2.0.0-rc.1"; d.VersionBuild = "1.0" }, want{code: CodeDisableMajor, version: "2.0.0", old: "1.0.0"}},
		{"major ok with same native major", policy(PolicyMajor, "2.0.0"), native("2"), want{version: "2.0.0"}},
		{"minor refuses other minor", policy(PolicyMinor, "1.3.0"), native("1.2.0"), want{code: CodeDisableMinor, version: "1.3.0", old: "1.2.0"}},
		{"minor refuses other major", policy(PolicyMinor, "2.0.0"), native("1.2.0"), want{code: CodeDisableMinor, version: "2.0.0", old: "1.2.0"}},
		{"minor allows patch", policy(PolicyMinor, "1.2.1"), native("1.2"), want{version: "1.2.1"}},
		{"patch refuses other patch", policy(PolicyPatch, "1.2.1"), native("1.2"), want{code: CodeDisablePatch, version: "1.2.1", old: "1.2.0"}},
		{"patch allows build metadata change", policy(PolicyPatch, "1.2.0+build.2"), native("1.2"), want{version: "1.2.0+build.2"}},
		{"metadata: min <= native", withMin(policy(PolicyMetadata, "1.3.0"), "1.3.0", "1.0.0"), native("1.0"), want{version: "1.3.0"}},
		{"metadata: min == native", withMin(policy(PolicyMetadata, "1.3.0"), "1.3.0", "1.2.0"), native("1.2"), want{version: "1.3.0"}},
		{"metadata: min > native", withMin(policy(PolicyMetadata, "1.3.0"), "1.3.0", "1.2.1"), native("1.2"),
			want{code: CodeDisableMetadata, version: "1.3.0", old: "1.2.0"}},
		{"metadata: min not semver", withMin(policy(PolicyMetadata, "1.3.0"), "1.3.0", "v1"), native("1.2"),
			want{code: CodeMisconfiguredChannel, version: "1.3.0", old: "1.2.0"}},
		{"metadata: Capgo spelling", withMin(policy("version_number", "1.3.0"), "1.3.0", "1.2.1"), native("1.2"),
			want{code: CodeDisableMetadata, version: "1.3.0", old: "1.2.0"}},
		{"unknown policy is misconfigured", policy("sometimes", "1.3.0"), nil, want{code: CodeMisconfiguredChannel, version: "1.3.0", old: "1.0.0"}},
		{"bundle version not semver", policy(PolicyNone, "latest"), nil, want{code: CodeSemverError}},
		{"bundle version not semver, no comparison needed",
			func(s *Snapshot) {
				policy(PolicyNone, "latest")(s)
				channelMut(s, "production", func(c *Channel) { c.AllowUnderNative = true })
			}, nil, want{version: "latest"}},
	})
}

func TestDecideUnderNative(t *testing.T) {
	down := func(allow bool) func(*Snapshot) {
		return func(s *Snapshot) {
			channelMut(s, "production", func(c *Channel) { c.Bundle, c.AllowUnderNative = "1.1.0", allow })
		}
	}
	run(t, []row{
		{"downgrade under native refused", down(false), func(d *Device) { d.VersionBuild = "1.2"; d.VersionName = "1.3.0" },
			want{code: CodeDisableUnderNative, version: "1.1.0", old: "1.3.0"}},
		{"downgrade under native allowed by flag", down(true), func(d *Device) { d.VersionBuild = "1.2"; d.VersionName = "1.3.0" },
			want{version: "1.1.0"}},
		{"downgrade not under native is fine", down(false), func(d *Device) { d.VersionBuild = "1.0"; d.VersionName = "1.3.0" },
			want{version: "1.1.0"}},
		{"prerelease of the native version is under it", func(s *Snapshot) {
			s.Bundles["1.2.0-rc.1"] = bundle("1.2.0-rc.1")
			channelMut(s, "production", func(c *Channel) { c.Bundle = "1.2.0-rc.1" })
		}, func(d *Device) { d.VersionBuild = "1.2" }, want{code: CodeDisableUnderNative, version: "1.2.0-rc.1", old: "1.1.0"}},
		{"old is the builtin-substituted version_name", down(false), func(d *Device) { d.VersionBuild = "v1.2"; d.VersionName = Builtin },
			want{code: CodeDisableUnderNative, version: "1.1.0", old: "1.2.0"}},
	})
}

func TestDecideChannelSelection(t *testing.T) {
	run(t, []row{
		{"defaultChannel self-assignable", nil, func(d *Device) { d.DefaultChannel = "beta" }, want{version: "1.3.0", channel: "beta"}},
		{"defaultChannel public", nil, func(d *Device) { d.DefaultChannel = "production" }, want{version: "1.2.0", channel: "production"}},
		{"defaultChannel is case-sensitive", nil, func(d *Device) { d.DefaultChannel = "Beta" }, want{code: CodeNoChannel}},
		{"override pins a private channel", func(s *Snapshot) { s.Override = "internal" },
			func(d *Device) { d.VersionName = "1.0.0"; d.DefaultChannel = "beta" }, want{version: "1.1.0", channel: "internal"}},
		{"override to a channel with a deleted bundle is ignored",
			func(s *Snapshot) { s.Override = "internal"; delete(s.Bundles, "1.1.0") }, nil, want{version: "1.2.0", channel: "production"}},
		{"override to a missing channel is ignored", func(s *Snapshot) { s.Override = "gone" }, nil, want{version: "1.2.0", channel: "production"}},
		{"override beats self-assignment", func(s *Snapshot) { s.Override = "internal"; s.SelfAssigned = "beta" },
			func(d *Device) { d.VersionName = "1.0.0"; d.PluginVersion = oldPlugin }, want{version: "1.1.0", channel: "internal"}},
		{"self-assignment beats defaultChannel (old plugin)", func(s *Snapshot) { s.SelfAssigned = "beta" },
			func(d *Device) { d.DefaultChannel = "production"; d.PluginVersion = oldPlugin }, want{version: "1.3.0", channel: "beta"}},
		{"self-assignment ignored for a current plugin", func(s *Snapshot) { s.SelfAssigned = "beta" },
			func(d *Device) { d.DefaultChannel = "production"; d.PluginVersion = "0.0.1" }, want{version: "1.2.0", channel: "production"}},
		{"self-assignment to a deleted channel is ignored", func(s *Snapshot) { s.SelfAssigned = "gone" }, oldPluginDevice,
			want{version: "1.2.0", channel: "production"}},
		{"override already on its bundle", func(s *Snapshot) { s.Override = "internal" }, nil,
			want{code: CodeNoNewVersion, channel: "internal"}},
		{"public ties: first by name", func(s *Snapshot) {
			c := NewChannel("aaa", "1.3.0")
			c.ID, c.Public = 9, true
			s.Channels = append(s.Channels, c)
		}, nil, want{version: "1.3.0", channel: "aaa"}},
		{"public channel disabled for platform, another public serves it", func(s *Snapshot) {
			channelMut(s, "production", func(c *Channel) { c.Android = false })
			c := NewChannel("zzz-android", "1.3.0")
			c.ID, c.Public, c.IOS = 9, true, false
			s.Channels = append(s.Channels, c)
		}, nil, want{version: "1.3.0", channel: "zzz-android"}},
	})
}

func TestDecideUpdateFields(t *testing.T) {
	s, d := baseSnapshot(), baseDevice()
	s.App.ExposeMetadata = true
	got := Decide(s, d)
	u := got.Update
	if u == nil {
		t.Fatalf("want update, got %+v", got.NoUpdate)
	}
	if !reflect.DeepEqual(u.Bundle, s.Bundles["1.2.0"]) || u.Channel != "production" || u.Source != SourcePublic ||
		u.InRollout || !u.Manifest || !u.Metadata {
		t.Errorf("update = %+v", u)
	}
	for _, tc := range []struct {
		plugin     string
		exposeMeta bool
		want       [2]bool // manifest, metadata
	}{
		{"5.9.0", true, [2]bool{false, false}},
		{"5.10.0", true, [2]bool{true, false}},
		{"6.24.9", true, [2]bool{false, false}},
		{"7.0.35", true, [2]bool{true, false}},
		{"7.35.0", true, [2]bool{true, true}},
		{"8.0.0", true, [2]bool{true, false}},
		{"8.35.0", false, [2]bool{true, false}},
		{"8.35.0", true, [2]bool{true, true}},
		{"9.0.0", true, [2]bool{true, true}},
		// Capgo's Electron updater: metadata by Capgo's rule, no manifest
		// (it downloads the zip anyway; manifestDelivery).
		{"0.0.1", true, [2]bool{false, true}},
		{"3.0.0", false, [2]bool{false, false}},
	} {
		s.App.ExposeMetadata = tc.exposeMeta
		d.PluginVersion = tc.plugin
		u := Decide(s, d).Update
		if u == nil || [2]bool{u.Manifest, u.Metadata} != tc.want {
			t.Errorf("plugin %s expose=%v: got %+v, want manifest/metadata %v", tc.plugin, tc.exposeMeta, u, tc.want)
		}
	}
}

func TestNoUpdateBody(t *testing.T) {
	s, d := baseSnapshot(), baseDevice()
	channelMut(&s, "production", func(c *Channel) { c.Bundle = "2.0.0" })
	n := Decide(s, d).NoUpdate
	want := map[string]any{
		"error": "disable_auto_update_to_major", "message": "Cannot upgrade major version", "kind": "blocked",
		"major": true, "version": "2.0.0", "old": "1.0.0",
	}
	if got := n.Body(); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v, want %v", got, want)
	}

	s.App.Exists = false
	n = Decide(s, d).NoUpdate
	if n.Status != http.StatusTooManyRequests || !reflect.DeepEqual(n.Body(), map[string]any{"error": "on_premise_app", "message": "On-premise app detected"}) {
		t.Errorf("on_premise_app = %d %v", n.Status, n.Body())
	}

	s = baseSnapshot()
	d.VersionName = "1.2.0"
	n = Decide(s, d).NoUpdate
	if !reflect.DeepEqual(n.Body(), map[string]any{"error": "no_new_version_available", "message": "No new version available", "kind": "up_to_date"}) {
		t.Errorf("no new version = %v", n.Body())
	}

	b := s.Bundles["1.2.0"]
	b.KeyID = "bbbbbbbbbbbbbbbbbbbb"
	s.Bundles["1.2.0"] = b
	d.KeyID = "aaaaaaaaaaaaaaaaaaaa"
	n = Decide(s, d).NoUpdate
	if n.Body()["deviceKeyId"] != d.KeyID || n.Body()["bundleKeyId"] != b.KeyID || n.Kind != KindBlocked {
		t.Errorf("key mismatch = %v", n.Body())
	}

	s = baseSnapshot()
	d = baseDevice()
	d.PluginVersion = oldPlugin
	s.SelfAssigned = "internal"
	channelMut(&s, "internal", func(c *Channel) { c.Bundle = "1.2.0" })
	if m := Decide(s, d).NoUpdate.Message; m != `Cannot update via a private channel. The channel "internal" does not allow device self-assignment. Please set a defaultChannel with "Allow devices to self dissociate/associate" enabled.` {
		t.Errorf("private message = %s", m)
	}
	d.VersionBuild = "1.2.x"
	if m := Decide(s, d).NoUpdate.Message; m != "Native version: 1.2.x doesn't follow semver convention, please check https://capgo.app/semver_tester/ to learn more about semver usage in Capgo" {
		t.Errorf("semver message = %s", m)
	}
}

// TestDecideDeterministic: same input, same answer; the snapshot is not modified.
func TestDecideDeterministic(t *testing.T) {
	s, d := baseSnapshot(), baseDevice()
	channelMut(&s, "production", func(c *Channel) { c.Rollout = Rollout{ID: "r", Bundle: "1.3.0", BasisPoints: 5000} })
	before := fmt.Sprintf("%+v", s)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		d.DeviceID = deviceID(r)
		a, b := Decide(s, d), Decide(s, d)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not deterministic for %s", d.DeviceID)
		}
	}
	if after := fmt.Sprintf("%+v", s); after != before {
		t.Fatal("snapshot modified")
	}
}

// TestDecideIgnoresSelfAssignmentOfCurrentPlugins covers issue 14 item 6: a
// self-assignment stored for a device pins only old plugins; a current one
// (Capgo's Electron updater sends "0.0.1") is answered from its
// defaultChannel.
func TestDecideIgnoresSelfAssignmentOfCurrentPlugins(t *testing.T) {
	for _, tc := range []struct {
		plugin, want string
	}{
		{"0.0.1", "production"},
		{"8.51.14", "production"},
		{"9.0.0", "production"},
		{"5.0.0", "beta"},
		{"7.33.0", "beta"},
	} {
		s, d := baseSnapshot(), baseDevice()
		s.SelfAssigned = "beta"
		d.PluginVersion, d.DefaultChannel = tc.plugin, "production"
		channelMut(&s, "production", func(c *Channel) { c.AllowSelfAssign = true })
		got := Decide(s, d)
		ch := ""
		if got.Update != nil {
			ch = got.Update.Channel
		} else {
			ch = got.NoUpdate.Channel
		}
		if ch != tc.want {
			t.Errorf("plugin %s: channel %q, want %q (%+v)", tc.plugin, ch, tc.want, got.NoUpdate)
		}
	}
}

// TestDecidePausedAndDisabled: pause, rollback and disable are different
// states. A paused channel keeps devices on its bundle and brings it to no
// other; a paused rollout still serves the channel's bundle outside it; a
// disabled channel answers everyone no update.
func TestDecidePausedAndDisabled(t *testing.T) {
	paused := func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Paused = true }) }
	disabled := func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Disabled = true }) }
	rollout := func(pause bool) func(*Snapshot) {
		return func(s *Snapshot) {
			channelMut(s, "production", func(c *Channel) {
				c.Rollout = Rollout{ID: "r1", Bundle: "1.2.1", BasisPoints: MaxBasisPoints, Paused: pause}
			})
		}
	}
	onBuiltin := func(d *Device) { d.VersionName = Builtin }
	run(t, []row{
		{"paused: device on the bundle stays", paused, func(d *Device) { d.VersionName = "1.2.0" }, want{code: CodeNoNewVersion, channel: "production"}},
		{"paused: device elsewhere gets no update", paused, nil, want{code: CodeChannelPaused, channel: "production"}},
		{"paused: new device gets no update", paused, onBuiltin, want{code: CodeChannelPaused, channel: "production"}},
		{"disabled: device elsewhere", disabled, nil, want{code: CodeChannelDisabled, channel: "production"}},
		{"disabled: device on the bundle", disabled, func(d *Device) { d.VersionName = "1.2.0" }, want{code: CodeChannelDisabled, channel: "production"}},
		{"rollout at 100%", rollout(false), nil, want{version: "1.2.1", channel: "production"}},
		{"paused rollout: device elsewhere gets the channel's bundle", rollout(true), nil, want{version: "1.2.0", channel: "production"}},
		{"paused rollout: device on the rollout bundle stays", rollout(true), func(d *Device) { d.VersionName = "1.2.1" }, want{code: CodeNoNewVersion, channel: "production"}},
	})
	dec := Decide(func() Snapshot { s := baseSnapshot(); paused(&s); return s }(), baseDevice())
	if n := dec.NoUpdate; n == nil || n.Kind != KindBlocked || n.Message != "No update, because channel production is paused: 1.2.0 reaches no device that does not run it already" {
		t.Errorf("paused refusal = %+v", n)
	}
}
