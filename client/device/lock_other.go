//go:build !unix

package device

import (
	"fmt"
	"io"
	"os"
)

// lockDir opens DIR/lock; without flock, concurrent commands are not
// prevented on this platform.
func lockDir(root *os.Root) (io.Closer, error) {
	f, err := root.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("device: lock: %w", err)
	}
	return f, nil
}
