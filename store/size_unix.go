//go:build unix

package store

import (
	"io/fs"
	"syscall"
)

// diskSize is the space a file occupies: Badger preallocates value-log
// files (sparse, twice ValueLogFileSize), so the length overstates it.
func diskSize(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return min(int64(st.Blocks)*512, info.Size())
	}
	return info.Size()
}
