//go:build !linux

package bench

import "os/exec"

// splitCPUs shares every CPU where the load generator cannot pin processes.
func splitCPUs() cpuSplit { return cpuSplit{} }

// pinSelf does nothing where the CPUs are shared.
func (cpuSplit) pinSelf() (func(), error) { return func() {}, nil }

// start starts cmd.
func (cpuSplit) start(cmd *exec.Cmd) error { return cmd.Start() }
