//go:build !unix

package store

import "io/fs"

// diskSize is the space a file occupies, here its length.
func diskSize(info fs.FileInfo) int64 { return info.Size() }
