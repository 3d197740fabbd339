package s3test

import "syscall"

// procAttr makes the kernel kill versitygw when the test binary dies, so a
// panic or a timeout, which skip Stop and the cleanups, leaves no server
// behind.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
