package resolver

import (
	"math"
	"strings"
	"testing"
)

func TestWilsonLower(t *testing.T) {
	for _, tc := range []struct {
		bad, n int64
		want   float64
	}{
		{0, 0, 0},
		{0, 10, 0},
		{2, 3, 0.2077},
		{50, 1000, 0.0382},
		{30, 100, 0.2189},
		{1, 100, 0.0018},
		{10, 10, 0.7225},
		{-1, 10, 0},      // clamped
		{20, 10, 0.7225}, // clamped to n
	} {
		got := WilsonLower(tc.bad, tc.n, GuardZ)
		if math.Abs(got-tc.want) > 0.0005 {
			t.Errorf("WilsonLower(%d, %d) = %.4f, want %.4f", tc.bad, tc.n, got, tc.want)
		}
	}
}

func TestJudgeGuard(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rule    GuardRule
		c       GuardCounts
		tripped bool
		trip    bool
		reason  string
	}{
		{"2 of 3 below the minimum", GuardRule{500, 50}, GuardCounts{Installs: 3, Rollbacks: 2}, false, false, "too few"},
		{"2 of 3 without a minimum: the bound is past 5%", GuardRule{500, 0}, GuardCounts{Installs: 3, Rollbacks: 2}, false, true, "> 5%"},
		{"2 of 3 at a 30% threshold", GuardRule{3000, 0}, GuardCounts{Installs: 3, Rollbacks: 2}, false, false, "<= 30%"},
		{"50 of 1000 at 3%", GuardRule{300, 50}, GuardCounts{Installs: 1000, Rollbacks: 50}, false, true, "lower bound 3.8% > 3%"},
		{"50 of 1000 at 5%", GuardRule{500, 50}, GuardCounts{Installs: 1000, Rollbacks: 50}, false, false, "<= 5%"},
		{"download failures add to both sides", GuardRule{300, 50}, GuardCounts{Installs: 950, Failures: 50}, false, true, "50 of 1000"},
		{"1% failing", GuardRule{500, 50}, GuardCounts{Installs: 200, Rollbacks: 2}, false, false, "<= 5%"},
		{"30% failing", GuardRule{500, 50}, GuardCounts{Installs: 60, Rollbacks: 18}, false, true, "18 of 60 attempts failed (30%)"},
		{"already tripped", GuardRule{500, 50}, GuardCounts{Installs: 60, Rollbacks: 18}, true, false, "already tripped"},
		{"nothing reported", GuardRule{500, 0}, GuardCounts{}, false, false, "0 of 0"},
		{"more rollbacks than attempts", GuardRule{500, 1}, GuardCounts{Installs: 2, Rollbacks: 5}, false, true, "2 of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := JudgeGuard(tc.rule, tc.c, tc.tripped)
			if v.Trip != tc.trip || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("JudgeGuard = trip %t %q, want trip %t with %q", v.Trip, v.Reason, tc.trip, tc.reason)
			}
		})
	}
}
