package resolver

import (
	"testing"

	"github.com/patchwire/patchwire/manifest"
)

// TestBuiltinBundle: how a device reporting "builtin" maps onto a
// registered builtin bundle (issue 8 item 2).
func TestBuiltinBundle(t *testing.T) {
	for _, indexed := range []bool{false, true} {
		t.Run(map[bool]string{false: "scan", true: "indexed"}[indexed], func(t *testing.T) { testBuiltinBundle(t, indexed) })
	}
}

func testBuiltinBundle(t *testing.T, indexed bool) {
	d := func(b byte) manifest.Digest { var x manifest.Digest; x[0] = b; return x }
	snap := Snapshot{Bundles: map[string]Bundle{
		"1.4.0-builtin": {Version: "1.4.0-builtin", Manifest: d(1), Builtin: true, NativeVersion: "1.4"},
		"1.4.1-builtin": {Version: "1.4.1-builtin", Manifest: d(2), Builtin: true, NativeVersion: "1.4.0"},
		"2.0.0-builtin": {Version: "2.0.0-builtin", Manifest: d(3), Builtin: true, NativeVersion: "build-7"},
		"3.0.0-builtin": {Version: "3.0.0-builtin", Manifest: d(4), Builtin: true, NativeVersion: "3.0.0", Deleted: true},
		"1.5.0":         {Version: "1.5.0", Manifest: d(5), NativeVersion: "1.5.0"},
	}}
	if indexed {
		snap = snap.Index()
	}
	for _, c := range []struct {
		name, native string
		want         string // "" none
		manifest     manifest.Digest
	}{
		{"semver match, highest version wins", "1.4.0", "1.4.1-builtin", d(2)},
		{"short form", "1.4", "1.4.1-builtin", d(2)},
		{"v prefix", "v1.4.0", "1.4.1-builtin", d(2)},
		{"exact string when not semver", "build-7", "2.0.0-builtin", d(3)},
		{"deleted", "3.0.0", "", manifest.Digest{}},
		{"not builtin", "1.5.0", "", manifest.Digest{}},
		{"unknown", "9.9", "", manifest.Digest{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, ok := snap.BuiltinBundle(c.native)
			if ok != (c.want != "") || b.Version != c.want {
				t.Fatalf("BuiltinBundle(%q) = %q, %v; want %q", c.native, b.Version, ok, c.want)
			}
			want := c.want
			if want == "" {
				want = Builtin
			}
			if got := snap.RunningBundle(Builtin, c.native); got != want {
				t.Errorf("RunningBundle = %q, want %q", got, want)
			}
			m, ok := snap.RunningManifest(Builtin, c.native, manifest.Digest{})
			if m != c.manifest || ok != (c.want != "") {
				t.Errorf("RunningManifest = %v %v", m, ok)
			}
		})
	}
	if got := snap.RunningBundle("1.5.0", "1.4"); got != "1.5.0" {
		t.Errorf("a device on a version runs it: %q", got)
	}
	if m, ok := snap.RunningManifest("1.5.0", "1.4", d(5)); !ok || m != d(5) {
		t.Errorf("a known reported manifest: %v %v", m, ok)
	}
	if m, ok := snap.RunningManifest("builtin", "1.4", d(9)); !ok || m != d(2) {
		t.Errorf("an unknown reported manifest on builtin: %v %v", m, ok)
	}
	if _, ok := snap.RunningManifest("1.9.0", "1.4", d(9)); ok {
		t.Error("an unknown manifest on a version is unknown")
	}
}

// FuzzRunningBundle: whatever native versions a device reports and CI
// registered, the mapping never panics, and a device on builtin runs
// either "builtin" or a live builtin bundle of a matching native version.
func FuzzRunningBundle(f *testing.F) {
	for _, s := range [][2]string{{"1.4", "1.4.0"}, {"v1.4.0", "1.4"}, {"build-7", "build-7"}, {"", ""}, {"1.4.0-rc.1", "1.4.0"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, device, registered string) {
		var m manifest.Digest
		m[0] = 1
		snap := Snapshot{Bundles: map[string]Bundle{"1.0.0-builtin": {Version: "1.0.0-builtin", Manifest: m, Builtin: true, NativeVersion: registered}}}
		got := snap.RunningBundle(Builtin, device)
		if got != Builtin && got != "1.0.0-builtin" {
			t.Fatalf("RunningBundle(%q) with %q registered = %q", device, registered, got)
		}
		if got == "1.0.0-builtin" && device != registered {
			a, errA := ParseNativeVersion(device)
			b, errB := ParseNativeVersion(registered)
			if errA != nil || errB != nil || a.Compare(b) != 0 {
				t.Fatalf("%q matched %q", device, registered)
			}
		}
	})
}
