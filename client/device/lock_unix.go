//go:build unix

package device

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// lockWait is how long lockDir waits for another holder to let go. Besides
// a concurrent command finishing, a process forked (for another purpose)
// in the instant the lock was held keeps a copy of it until it execs.
const lockWait = 2 * time.Second

// lockDir takes an exclusive flock on DIR/lock, so two commands never work
// on one state directory at once.
func lockDir(root *os.Root) (io.Closer, error) {
	f, err := root.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("device: lock: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return f, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			f.Close()
			return nil, fmt.Errorf("device: lock: %w", err)
		case time.Now().After(deadline):
			f.Close()
			return nil, errors.New("device: another device command is using this state directory")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
