//go:build linux

package store

import "syscall"

// freeBytes is the space on dir's file system that an unprivileged writer
// may still use (statfs f_bavail × f_bsize): the root-reserved blocks of
// ext4 are left out, so the guard errs on the safe side.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
