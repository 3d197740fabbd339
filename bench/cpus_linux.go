package bench

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// splitCPUs halves the CPUs this process may run on.
func splitCPUs() cpuSplit {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return cpuSplit{}
	}
	return halves(cpusOf(&set))
}

// cpusOf is the CPU numbers in set, in order.
func cpusOf(set *unix.CPUSet) []int {
	var cpus []int
	for c := 0; c < len(set)*64 && len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// cpuSet is cpus as a kernel CPU mask.
func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// pinSelf moves every thread of this process onto the load CPUs and sizes
// GOMAXPROCS to them; the threads the runtime starts later inherit the
// mask. It returns what undoes both.
func (s cpuSplit) pinSelf() (restore func(), err error) {
	if !s.pinned() {
		return func() {}, nil
	}
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, err
	}
	if err := setThreads(cpuSet(s.load)); err != nil {
		setThreads(&old)
		return nil, err
	}
	procs := runtime.GOMAXPROCS(len(s.load))
	return func() {
		setThreads(&old)
		runtime.GOMAXPROCS(procs)
	}, nil
}

// setThreads sets the mask of every thread of this process, twice over so
// a thread started during the first pass by an unpinned one is caught.
func setThreads(set *unix.CPUSet) error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			// A thread may exit between the listing and here.
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return err
			}
		}
	}
	return nil
}

// start starts cmd on the target CPUs: the child inherits the mask of the
// thread that forks it, so this goroutine's thread takes the target mask
// for the fork and then its own back. A Go child sizes GOMAXPROCS to it.
func (s cpuSplit) start(cmd *exec.Cmd) error {
	if !s.pinned() {
		return cmd.Start()
	}
	// Unlocked at the end, not left locked: a locked thread ends with its
	// goroutine, and the kernel sends a child its Pdeathsig when the
	// thread that forked it ends (dieWithParent).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		return err
	}
	if err := unix.SchedSetaffinity(0, cpuSet(s.target)); err != nil {
		return err
	}
	err := cmd.Start()
	unix.SchedSetaffinity(0, &own) // the mask this thread had: fails only if its CPUs went away
	return err
}
