package testserver

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	l.Close()
}

func TestRandomHex(t *testing.T) {
	for _, n := range []int{1, 6, 20} {
		a, b := RandomHex(t, n), RandomHex(t, n)
		if len(a) != 2*n || a == b {
			t.Errorf("RandomHex(%d): %q and %q: want %d hex digits, different", n, a, b, 2*n)
		}
	}
}
