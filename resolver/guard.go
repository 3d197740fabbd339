package resolver

import (
	"fmt"
	"math"
)

// GuardZ is the normal quantile of the release guard's bound: 1.96, a
// two-sided 95 % interval.
const GuardZ = 1.96

// GuardCounts are the counters of one bundle on one channel the release
// guard judges, as the stats store keeps them: Installs counts "set"
// events (a device switched to the bundle), Failures every failure event
// but update_fail (download_fail, decrypt_fail, checksum_fail, unzip_fail,
// ...), Rollbacks the update_fail events (the device switched to the
// bundle, it failed to start, and the plugin went back).
type GuardCounts struct {
	Installs, Failures, Rollbacks int64
}

// Attempts is the guard's denominator: Installs + Failures. A rollback
// follows a "set" the device already reported, so it is among the
// installs; a download, decrypt or checksum failure never reaches "set",
// so it is added. The counters count events, not devices: a device that
// fails the same download twice counts twice on both sides.
func (c GuardCounts) Attempts() int64 { return max(c.Installs+c.Failures, 0) }

// Bad is the guard's numerator: Failures + Rollbacks, at most Attempts.
func (c GuardCounts) Bad() int64 { return min(max(c.Failures+c.Rollbacks, 0), c.Attempts()) }

// WilsonLower returns the Wilson score interval's lower bound of the share
// bad/n at normal quantile z: (p + z²/2n − z·√(p(1−p)/n + z²/4n²)) / (1 +
// z²/n) with p = bad/n. It is 0 when n is 0, and bad is clamped to 0..n.
// Unlike bad/n it is small for few samples: 2 of 3 gives 0.21, 50 of
// 1,000 gives 0.038.
func WilsonLower(bad, n int64, z float64) float64 {
	if n <= 0 {
		return 0
	}
	bad = min(max(bad, 0), n)
	nf := float64(n)
	p := float64(bad) / nf
	z2 := z * z
	lo := (p + z2/(2*nf) - z*math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))) / (1 + z2/nf)
	return max(lo, 0)
}

// GuardRule is a channel's guard threshold: trip when the lower bound of
// the failure share exceeds FailureRateBP basis points, once at least
// MinAttempts attempts were reported.
type GuardRule struct {
	FailureRateBP int
	MinAttempts   int64
}

// GuardVerdict is the guard's judgement of one bundle.
type GuardVerdict struct {
	Attempts, Bad int64
	// LowerBound is WilsonLower(Bad, Attempts, GuardZ).
	LowerBound float64
	// Trip is true when the guard must act.
	Trip bool
	// Reason says why, in words: "18 of 60 attempts failed (30%), lower
	// bound 19.9% > 5%".
	Reason string
}

// JudgeGuard decides whether rule trips on c. tripped reports that the
// guard already tripped on this bundle: a trip is made once per bundle,
// so it never trips again.
func JudgeGuard(rule GuardRule, c GuardCounts, tripped bool) GuardVerdict {
	v := GuardVerdict{Attempts: c.Attempts(), Bad: c.Bad()}
	v.LowerBound = WilsonLower(v.Bad, v.Attempts, GuardZ)
	limit := float64(rule.FailureRateBP) / MaxBasisPoints
	share := 0.0
	if v.Attempts > 0 {
		share = float64(v.Bad) / float64(v.Attempts)
	}
	counted := fmt.Sprintf("%d of %d attempts failed (%s)", v.Bad, v.Attempts, percent(share))
	switch {
	case tripped:
		v.Reason = "already tripped on this bundle"
	case v.Attempts < rule.MinAttempts:
		v.Reason = fmt.Sprintf("%s: too few to judge (fewer than %d)", counted, rule.MinAttempts)
	case v.LowerBound <= limit:
		v.Reason = fmt.Sprintf("%s, lower bound %s <= %s", counted, percent(v.LowerBound), percent(limit))
	default:
		v.Trip = true
		v.Reason = fmt.Sprintf("%s, lower bound %s > %s", counted, percent(v.LowerBound), percent(limit))
	}
	return v
}

// percent renders a share as a percentage with at most one decimal.
func percent(f float64) string {
	s := fmt.Sprintf("%.1f", f*100)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + "%"
}
