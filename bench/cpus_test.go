package bench

import (
	"slices"
	"testing"
)

func TestHalves(t *testing.T) {
	for _, c := range []struct {
		cpus         []int
		target, load []int
		desc         string
	}{
		{nil, nil, nil, "the load generator, the server and each ceiling share this machine's CPUs"},
		{[]int{3}, nil, nil, "the load generator, the server and each ceiling share this machine's CPUs"},
		{[]int{0, 1}, []int{0}, []int{1}, "the server and each ceiling run on CPU 0, the load generator (and h2load) on CPU 1"},
		{[]int{0, 1, 2}, []int{0}, []int{1, 2}, "the server and each ceiling run on CPU 0, the load generator (and h2load) on CPUs 1,2"},
		{[]int{0, 2, 4, 6}, []int{0, 2}, []int{4, 6}, "the server and each ceiling run on CPUs 0,2, the load generator (and h2load) on CPUs 4,6"},
	} {
		s := halves(c.cpus)
		if !slices.Equal(s.target, c.target) || !slices.Equal(s.load, c.load) {
			t.Errorf("halves(%v) = %v, %v; want %v, %v", c.cpus, s.target, s.load, c.target, c.load)
		}
		if s.pinned() != (c.target != nil) {
			t.Errorf("halves(%v).pinned() = %v", c.cpus, s.pinned())
		}
		if got := s.String(); got != c.desc {
			t.Errorf("halves(%v): %q, want %q", c.cpus, got, c.desc)
		}
	}
	// The target's half cannot grow into the generator's.
	s := halves([]int{0, 1, 2, 3})
	_ = append(s.target, 9)
	if s.load[0] != 2 {
		t.Errorf("appending to the target half overwrote the load half: %v", s.load)
	}
}
