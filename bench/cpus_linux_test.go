package bench

import (
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// allowedCPUs parses a kernel CPU list ("0-2,4") as /proc's
// Cpus_allowed_list writes it.
func allowedCPUs(t *testing.T, list string) []int {
	t.Helper()
	var cpus []int
	for _, part := range strings.Split(strings.TrimSpace(list), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			t.Fatalf("CPU list %q: %v", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				t.Fatalf("CPU list %q: %v", list, err)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// threadCPUs is the CPUs the calling thread may run on.
func threadCPUs(t *testing.T) []int {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	return cpusOf(&set)
}

// pinnedSplit is this machine's split, or skips the test on one CPU.
func pinnedSplit(t *testing.T) cpuSplit {
	s := splitCPUs()
	if !s.pinned() {
		t.Skip("one CPU: the load generator shares it")
	}
	return s
}

// TestCPUSplitStart starts a process on the target CPUs and checks that it
// runs there while the starting thread keeps its own.
func TestCPUSplitStart(t *testing.T) {
	s := pinnedSplit(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadCPUs(t)
	var out strings.Builder
	cmd := exec.Command("grep", "Cpus_allowed_list", "/proc/self/status")
	cmd.Stdout = &out
	if err := s.start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	_, list, _ := strings.Cut(out.String(), ":")
	if got := allowedCPUs(t, list); !slices.Equal(got, s.target) {
		t.Errorf("child runs on %v, want the target's %v", got, s.target)
	}
	if after := threadCPUs(t); !slices.Equal(after, before) {
		t.Errorf("the starting thread runs on %v after the start, %v before", after, before)
	}
}

// TestCPUSplitPinSelf pins this process to the load CPUs and back.
func TestCPUSplitPinSelf(t *testing.T) {
	s := pinnedSplit(t)
	before, procs := threadCPUs(t), runtime.GOMAXPROCS(0)
	restore, err := s.pinSelf()
	if err != nil {
		t.Fatal(err)
	}
	if got := threadCPUs(t); !slices.Equal(got, s.load) {
		t.Errorf("pinned to %v, want the load half %v", got, s.load)
	}
	if got := runtime.GOMAXPROCS(0); got != len(s.load) {
		t.Errorf("GOMAXPROCS %d, want %d", got, len(s.load))
	}
	restore()
	if got := threadCPUs(t); !slices.Equal(got, before) {
		t.Errorf("after restore on %v, want %v", got, before)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after restore, want %d", got, procs)
	}
}
