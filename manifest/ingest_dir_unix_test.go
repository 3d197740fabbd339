//go:build unix

package manifest

import "syscall"

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

// mknodNull makes a character device like /dev/null (needs CAP_MKNOD).
func mknodNull(path string) error { return syscall.Mknod(path, syscall.S_IFCHR|0o644, 0x0103) }
