package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel send cmd SIGTERM when the load generator
// dies, so no child server or ceiling outlives a killed run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
