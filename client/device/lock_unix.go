//go:build unix

package device

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// lockDir takes an exclusive flock on DIR/lock, so two commands never work
// on one state directory at once. It fails at once when another holds it.
func lockDir(root *os.Root) (io.Closer, error) {
	f, err := root.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("device: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errors.New("device: another device command is using this state directory")
		}
		return nil, fmt.Errorf("device: lock: %w", err)
	}
	return f, nil
}
