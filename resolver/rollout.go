package resolver

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
)

// MaxBasisPoints is 100 % in basis points.
const MaxBasisPoints = 10000

// Bucket returns the device's bucket, 0..9999, for one rollout: the first 8
// bytes of SHA-256(rolloutID, 0x00, lower-case deviceID) read big-endian,
// modulo 10000. The same pair always gives the same bucket, on every server
// and across restarts; another rollout id gives an independent draw. (The
// modulo bias, below 10^-15, is irrelevant.)
func Bucket(rolloutID, deviceID string) int {
	h := sha256.New()
	h.Write([]byte(rolloutID))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(deviceID)))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return int(binary.BigEndian.Uint64(sum[:8]) % MaxBasisPoints)
}

// InRollout reports whether deviceID is among the basisPoints/10000 share of
// devices selected by rollout rolloutID: Bucket(rolloutID, deviceID) <
// basisPoints. basisPoints is clamped to 0..10000, so 0 selects nobody and
// 10000 everybody. Because the bucket is fixed, raising basisPoints keeps
// every device already in, and lowering it removes only devices above the new
// threshold.
func InRollout(rolloutID, deviceID string, basisPoints int) bool {
	if basisPoints <= 0 {
		return false
	}
	if basisPoints >= MaxBasisPoints {
		return true
	}
	return Bucket(rolloutID, deviceID) < basisPoints
}

// rolloutID returns the id the channel's rollout draws with.
func rolloutID(c Channel) string {
	if c.Rollout.ID != "" {
		return c.Rollout.ID
	}
	return "channel:" + c.Name + ":" + c.Rollout.Bundle
}

// rolloutPick decides whether the device gets the rollout bundle of c. The
// caller has checked that the rollout is active and its bundle live.
//
//   - paused: only a device already running the rollout bundle stays on it
//     (freeze: nobody enters, nobody is pulled back);
//   - otherwise: the bucket decides (InRollout).
func rolloutPick(c Channel, d Device, currentVersion string) bool {
	if c.Rollout.Paused {
		return runs(d, currentVersion, c.Rollout.Bundle)
	}
	return InRollout(rolloutID(c), d.DeviceID, c.Rollout.BasisPoints)
}

// rolloutDrawn reports whether rolloutPick reads the device id for c:
// unpaused, and a share strictly between nobody and everybody.
func rolloutDrawn(c Channel) bool {
	return !c.Rollout.Paused && c.Rollout.BasisPoints > 0 && c.Rollout.BasisPoints < MaxBasisPoints
}

// runs reports whether the device runs bundle version v. currentVersion is
// its version_name after the builtin substitution.
func runs(d Device, currentVersion, v string) bool {
	if v == Builtin {
		return d.VersionName == Builtin
	}
	return currentVersion == v
}
