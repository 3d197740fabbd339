package resolver

import (
	"reflect"
	"testing"
)

// otherDevices are the ids fleetSame re-decides with: enough that a
// rollout of any share between 1 % and 99 % draws at least two of them
// apart.
var otherDevices = deviceIDs(32, 7)

// fleetSame checks the promise of Decision.PerDevice: a decision not made
// per device is the decision of every other device id. Every row of the
// Decide tables runs it.
func fleetSame(t *testing.T, s Snapshot, d Device, got Decision) {
	t.Helper()
	if got.PerDevice {
		return
	}
	for _, id := range otherDevices {
		o := d
		o.DeviceID = id
		if again := Decide(s, o); !reflect.DeepEqual(again, got) {
			t.Fatalf("not per device, yet device %s is decided %+v / %+v, device %s %+v / %+v",
				id, again.Update, again.NoUpdate, d.DeviceID, got.Update, got.NoUpdate)
		}
	}
}

// TestDecidePerDevice walks every branch of Decide that could read
// something only the device has, and the ones that do not.
func TestDecidePerDevice(t *testing.T) {
	const rid = "rollout-9"
	rollout := func(r Rollout) func(*Snapshot) {
		return func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Rollout = r }) }
	}
	both := func(fs ...func(*Snapshot)) func(*Snapshot) {
		return func(s *Snapshot) {
			for _, f := range fs {
				f(s)
			}
		}
	}
	for _, tc := range []struct {
		name string
		snap func(*Snapshot)
		dev  func(*Device)
		code Code // "" = an update
		want bool
	}{
		{"public channel update", nil, nil, "", false},
		{"up to date", nil, func(d *Device) { d.VersionName = "1.2.0" }, CodeNoNewVersion, false},
		{"defaultChannel", nil, func(d *Device) { d.DefaultChannel = "beta" }, "", false},
		{"unknown app", func(s *Snapshot) { s.App.Exists = false }, nil, CodeOnPremiseApp, false},
		{"semver error", nil, func(d *Device) { d.VersionBuild = "x" }, CodeSemverError, false},
		{"unsupported plugin", nil, func(d *Device) { d.PluginVersion = "4.0.0" }, CodeUnsupportedPlugin, false},
		{"channel restriction", func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.AllowProd = false }) }, nil,
			CodeDisableProdBuild, false},
		{"policy refusal", nil, func(d *Device) { d.DefaultChannel = "beta"; d.VersionBuild = "0.9" }, CodeDisableMajor, false},
		{"paused channel", func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Paused = true }) }, nil,
			CodeChannelPaused, false},
		{"no channel", nil, func(d *Device) { d.DefaultChannel = "nope" }, CodeNoChannel, false},

		{"missing device id", nil, func(d *Device) { d.DeviceID = "" }, CodeMissingInfo, true},
		{"missing version name, device id given", nil, func(d *Device) { d.VersionName = "" }, CodeMissingInfo, false},
		{"provider blocked", func(s *Snapshot) { s.App.BlockProviderInfra = true }, func(d *Device) { d.Provider = "google" },
			CodeProviderBlocked, true},
		{"key id mismatch", func(s *Snapshot) { b := s.Bundles["1.2.0"]; b.KeyID = "bundlekey"; s.Bundles["1.2.0"] = b },
			func(d *Device) { d.KeyID = "devicekey" }, CodeKeyIDMismatch, true},

		{"override", func(s *Snapshot) { s.Override = "internal" }, func(d *Device) { d.VersionName = "1.0.0" }, "", true},
		{"override refused by a restriction", func(s *Snapshot) {
			s.Override = "internal"
			channelMut(s, "internal", func(c *Channel) { c.AllowProd = false })
		}, func(d *Device) { d.VersionName = "1.0.0" }, CodeDisableProdBuild, true},
		{"override to a missing channel", func(s *Snapshot) { s.Override = "gone" }, nil, "", true},
		{"self-assignment (old plugin)", func(s *Snapshot) { s.SelfAssigned = "beta" }, oldPluginDevice, "", true},
		{"self-assignment to a private channel (old plugin)", func(s *Snapshot) {
			s.SelfAssigned = "beta"
			channelMut(s, "beta", func(c *Channel) { c.AllowSelfAssign = false })
		}, oldPluginDevice, CodePrivateChannel, true},
		{"self-assignment of a current plugin is ignored", func(s *Snapshot) { s.SelfAssigned = "beta" }, nil, "", false},

		{"rollout draw", rollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: 3000}), nil, "", true},
		{"rollout draw, then a restriction", both(rollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: 3000}),
			func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.AllowProd = false }) }), nil, CodeDisableProdBuild, true},
		{"rollout at 0 %", rollout(Rollout{ID: rid, Bundle: "1.3.0"}), nil, "", false},
		{"rollout at 100 %", rollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: MaxBasisPoints}), nil, "", false},
		{"paused rollout: decided by the running bundle", rollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: 3000, Paused: true}),
			func(d *Device) { d.VersionName = "1.3.0" }, CodeNoNewVersion, false},
		{"paused rollout, device not on it", rollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: 3000, Paused: true}), nil, "", false},
		{"rollout whose bundle is deleted", both(rollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: 3000}),
			func(s *Snapshot) { delete(s.Bundles, "1.3.0") }), nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d := edited(tc.snap, tc.dev)
			got := Decide(s, d)
			switch {
			case tc.code == "" && got.Update == nil:
				t.Fatalf("refusal %s (%s), want an update", got.NoUpdate.Code, got.NoUpdate.Message)
			case tc.code != "" && (got.NoUpdate == nil || got.NoUpdate.Code != tc.code):
				t.Fatalf("decision %+v / %+v, want %s", got.Update, got.NoUpdate, tc.code)
			}
			if got.PerDevice != tc.want {
				t.Errorf("PerDevice %v, want %v", got.PerDevice, tc.want)
			}
			if indexed := Decide(s.Index(), d); indexed.PerDevice != got.PerDevice {
				t.Errorf("indexed snapshot: PerDevice %v", indexed.PerDevice)
			}
			fleetSame(t, s, d, got)
		})
	}
}
