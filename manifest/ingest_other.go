//go:build !unix

package manifest

// openFlags are added when opening a bundle file (nothing off Unix).
const openFlags = 0
