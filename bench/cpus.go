package bench

import (
	"fmt"
	"strings"
)

// cpuSplit keeps the load generator off its targets' CPUs: the server,
// nginx and the ceilings run on target, the generator (and h2load, its
// child) on load. On a small machine this is what measures the target
// rather than the contest between the two: sharing 2 cores, each
// process's threads preempt the other's and a request waits for both
// to be scheduled, which inflated every target's p99 and varied rates by
// up to 30 % between runs. The zero value shares every CPU.
type cpuSplit struct {
	target, load []int // CPU numbers; both nil when the CPUs are shared
}

// pinned reports whether the split keeps the two apart.
func (s cpuSplit) pinned() bool { return len(s.target) > 0 && len(s.load) > 0 }

// String describes the split for the report.
func (s cpuSplit) String() string {
	if !s.pinned() {
		return "the load generator, the server and each ceiling share this machine's CPUs"
	}
	return fmt.Sprintf("the server and each ceiling run on %s, the load generator (and h2load) on %s", cpuList(s.target), cpuList(s.load))
}

// cpuList is "CPU 0" or "CPUs 0,1".
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = fmt.Sprint(c)
	}
	if len(cpus) == 1 {
		return "CPU " + s[0]
	}
	return "CPUs " + strings.Join(s, ",")
}

// halves splits cpus into the target's first half and the generator's
// second (the larger when odd: a generator spends more per request than
// the targets it measures); nil halves when there are fewer than 2.
func halves(cpus []int) cpuSplit {
	if len(cpus) < 2 {
		return cpuSplit{}
	}
	n := len(cpus) / 2
	return cpuSplit{target: cpus[:n:n], load: cpus[n:]}
}
