package resolver

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// deviceID returns a random lower-case UUID v4, as the plugin generates.
func deviceID(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	a = a&^0xf000 | 0x4000     // version 4
	b = b&^(0xc<<60) | 0x8<<60 // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

func deviceIDs(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = deviceID(r)
	}
	return ids
}

func TestInRolloutDistribution(t *testing.T) {
	ids := deviceIDs(10000, 1)
	for _, bp := range []int{100, 1000, 3000, 5000, 9000} {
		in := 0
		for _, id := range ids {
			if InRollout("rollout-1", id, bp) {
				in++
			}
		}
		// ±2 percentage points of 10,000 devices = ±200 devices.
		if lo, hi := bp-200, bp+200; in < lo || in > hi {
			t.Errorf("%d bp: %d of 10000 devices in, want %d..%d", bp, in, lo, hi)
		}
	}
}

func TestInRolloutSticky(t *testing.T) {
	ids := deviceIDs(2000, 2)
	first := map[string]bool{}
	for _, id := range ids {
		first[id] = InRollout("r", id, 3000)
	}
	for _, id := range ids {
		if InRollout("r", id, 3000) != first[id] {
			t.Fatalf("%s changed its mind", id)
		}
		if InRollout("r", strings.ToUpper(id), 3000) != first[id] {
			t.Fatalf("%s: case of the device id matters", id)
		}
		// Raising the percentage keeps everyone who was in.
		if first[id] && !InRollout("r", id, 3001) {
			t.Fatalf("%s left when the rollout grew", id)
		}
		// Lowering it keeps nobody who was out.
		if !first[id] && InRollout("r", id, 2999) {
			t.Fatalf("%s entered when the rollout shrank", id)
		}
	}
}

func TestInRolloutNewIDRedraws(t *testing.T) {
	ids := deviceIDs(10000, 3)
	both, a, b := 0, 0, 0
	for _, id := range ids {
		ia, ib := InRollout("rollout-a", id, 3000), InRollout("rollout-b", id, 3000)
		if ia {
			a++
		}
		if ib {
			b++
		}
		if ia && ib {
			both++
		}
	}
	// Independent draws overlap on about 30 % × 30 % = 9 % of devices.
	if both < 700 || both > 1100 {
		t.Errorf("overlap of two rollouts %d (a=%d b=%d), want about 900", both, a, b)
	}
}

func TestInRolloutEdges(t *testing.T) {
	for _, id := range deviceIDs(500, 4) {
		if InRollout("r", id, 0) || InRollout("r", id, -5) {
			t.Fatal("0 bp selected a device")
		}
		if !InRollout("r", id, 10000) || !InRollout("r", id, 20000) {
			t.Fatal("10000 bp left a device out")
		}
		if b := Bucket("r", id); b < 0 || b >= MaxBasisPoints {
			t.Fatalf("bucket %d out of range", b)
		}
	}
	// The bucket is a fixed function (devices must not be re-drawn by a
	// server upgrade): pin values, computed independently with
	// printf 'r\x00<id>' | sha256sum, first 16 hex digits mod 10000.
	for _, tc := range []struct {
		rollout, device string
		want            int
	}{
		{"r", "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", 4775},
		{"r", "3F1C2A4E-5B6D-4E7F-8A9B-0C1D2E3F4A5B", 4775},
		{"rollout-1", "00000000-0000-4000-8000-000000000000", 2875},
	} {
		if got := Bucket(tc.rollout, tc.device); got != tc.want {
			t.Errorf("Bucket(%q, %q) = %d, want %d", tc.rollout, tc.device, got, tc.want)
		}
	}
}

// findDevice returns a generated device id for which pred holds.
func findDevice(t *testing.T, pred func(id string) bool) string {
	t.Helper()
	for _, id := range deviceIDs(1000, 5) {
		if pred(id) {
			return id
		}
	}
	t.Fatal("no device found")
	return ""
}

func TestDecideRollout(t *testing.T) {
	const rid = "rollout-7"
	withRollout := func(r Rollout) func(*Snapshot) {
		return func(s *Snapshot) { channelMut(s, "production", func(c *Channel) { c.Rollout = r }) }
	}
	active := Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: 3000}
	paused := active
	paused.Paused = true
	in := findDevice(t, func(id string) bool { return InRollout(rid, id, 3000) })
	out := findDevice(t, func(id string) bool { return !InRollout(rid, id, 3000) })
	dev := func(id, running string) func(*Device) {
		return func(d *Device) { d.DeviceID, d.VersionName = id, running }
	}
	run(t, []row{
		{"in rollout gets rollout bundle", withRollout(active), dev(in, "1.1.0"), want{version: "1.3.0"}},
		{"out of rollout gets stable bundle", withRollout(active), dev(out, "1.1.0"), want{version: "1.2.0"}},
		{"in rollout and on it: up to date", withRollout(active), dev(in, "1.3.0"), want{code: CodeNoNewVersion}},
		{"lowered below the device: back to stable", withRollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: Bucket(rid, in)}),
			dev(in, "1.3.0"), want{version: "1.2.0"}},
		{"0 bp: stable", withRollout(Rollout{ID: rid, Bundle: "1.3.0"}), dev(in, "1.1.0"), want{version: "1.2.0"}},
		{"10000 bp: everyone", withRollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: 10000}), dev(out, "1.1.0"), want{version: "1.3.0"}},
		{"paused: device on rollout keeps it", withRollout(paused), dev(in, "1.3.0"), want{code: CodeNoNewVersion}},
		{"paused: device on rollout outside its bucket keeps it", withRollout(paused), dev(out, "1.3.0"), want{code: CodeNoNewVersion}},
		{"paused: new device in bucket does not enter", withRollout(paused), dev(in, "1.1.0"), want{version: "1.2.0"}},
		{"rollout bundle deleted: ignored", func(s *Snapshot) {
			withRollout(Rollout{ID: rid, Bundle: "1.3.0", BasisPoints: 10000})(s)
			delete(s.Bundles, "1.3.0")
		}, dev(in, "1.1.0"), want{version: "1.2.0"}},
		{"rollout bundle still checked against policies", withRollout(Rollout{ID: rid, Bundle: "2.0.0", BasisPoints: 10000}),
			dev(in, "1.1.0"), want{code: CodeDisableMajor, version: "2.0.0", old: "1.0.0"}},
		{"rollout on an override channel", func(s *Snapshot) {
			s.Override = "internal"
			channelMut(s, "internal", func(c *Channel) { c.Rollout = Rollout{ID: "x", Bundle: "1.3.0", BasisPoints: 10000} })
		}, dev(out, "1.0.0"), want{version: "1.3.0", channel: "internal"}},
		{"rollout to builtin", withRollout(Rollout{ID: rid, Bundle: Builtin, BasisPoints: 10000}), dev(in, "1.1.0"), want{version: Builtin}},
		{"paused rollout to builtin keeps builtin devices", withRollout(Rollout{ID: rid, Bundle: Builtin, BasisPoints: 10000, Paused: true}),
			dev(in, Builtin), want{code: CodeAlreadyOnBuiltin, version: Builtin}},
	})

	s, d := baseSnapshot(), baseDevice()
	withRollout(active)(&s)
	d.DeviceID = in
	u := Decide(s, d).Update
	if u == nil || !u.InRollout || u.RolloutID != rid {
		t.Errorf("update %+v, want InRollout with id %s", u, rid)
	}
	d.DeviceID = out
	if u := Decide(s, d).Update; u == nil || u.InRollout || u.RolloutID != rid {
		t.Errorf("update %+v, want stable with rollout id %s", u, rid)
	}
}

// TestRolloutDefaultID: without an ID the draw depends on channel and bundle,
// so a new rollout bundle re-draws.
func TestRolloutDefaultID(t *testing.T) {
	a := Channel{Name: "production", Rollout: Rollout{Bundle: "1.3.0"}}
	b := Channel{Name: "production", Rollout: Rollout{Bundle: "1.4.0"}}
	if rolloutID(a) == rolloutID(b) || rolloutID(a) != "channel:production:1.3.0" {
		t.Errorf("ids %q %q", rolloutID(a), rolloutID(b))
	}
}

func BenchmarkDecide(b *testing.B) {
	s, d := baseSnapshot(), baseDevice()
	channelMut(&s, "production", func(c *Channel) { c.Rollout = Rollout{ID: "r", Bundle: "1.3.0", BasisPoints: 5000} })
	for b.Loop() {
		Decide(s, d)
	}
}
