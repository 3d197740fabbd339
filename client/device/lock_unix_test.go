//go:build unix

package device_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/patchwire/patchwire/client/device"
)

// TestStateLocked: a second command on a state directory in use waits a
// little, then gives up with a clear error; read-only status still works.
func TestStateLocked(t *testing.T) {
	v1 := fixture(t, "v1", "1.0.0")
	dir := seeded(t, v1)
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Skip(err)
	}
	if _, err := device.Ready(dir); err == nil || !strings.Contains(err.Error(), "another device command") {
		t.Fatalf("ready while locked: %v", err)
	}
	status(t, dir)
}
