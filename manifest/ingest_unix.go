//go:build unix

package manifest

import "syscall"

// openFlags are added when opening a bundle file: a FIFO swapped in after
// the directory was listed must not block the open (it is refused after).
const openFlags = syscall.O_NONBLOCK
