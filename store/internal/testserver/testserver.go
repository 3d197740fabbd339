// Package testserver holds what the test servers store/pgtest (PostgreSQL)
// and store/s3test (versitygw) both need to start a private server: a free
// loopback port and random names. It is its own package so that the two
// stay independent of each other and neither repeats it.
package testserver

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"testing"
)

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RandomHex is n random bytes in hex, for names and secrets no two tests
// share; it ends t when the system has no randomness to give.
func RandomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
