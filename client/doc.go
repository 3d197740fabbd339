// Package client is the Go client of patchwire's admin and upload API, used
// by the CLI and by tests: it speaks HTTPS (or HTTP/3, or cleartext HTTP to
// a local listener), authenticates with an API key, and uploads a bundle by
// sending its manifest and then only the objects the server lacks.
//
// The reference device updater lives in client/device and shares none of
// this package's state.
package client
