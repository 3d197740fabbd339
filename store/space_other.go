//go:build !linux

package store

import "errors"

// freeBytes cannot tell the free space on this platform: the disk-space
// guard is off (Open logs it) and only a full disk's errors protect Badger.
func freeBytes(string) (int64, error) {
	return 0, errors.New("free space unknown on this platform")
}
