// Package manifest describes one bundle version as data: the sorted list of
// its files, each named by the SHA-256 of its bytes.
//
// It owns the Digest type every other package uses, the canonical encoding a
// manifest is hashed and signed in, the diff of two manifests, the rules a
// file path must obey, and the safe ingestion of a build folder or a zip
// (hostile input is refused with an *Error naming the entry and the rule).
//
// The package imports nothing else of patchwire's.
package manifest
