package webhooks

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestRefusedKind: every internal range is refused by name, public
// addresses pass, IPv4-mapped IPv6 is judged as the IPv4 address.
func TestRefusedKind(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.9.9.9": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.0.0.1": "private", "172.16.5.4": "private", "192.168.1.1": "private", "fd00::1": "private",
		"169.254.169.254": "link-local", "fe80::1": "link-local",
		"0.0.0.0": "unspecified", "::": "unspecified",
		"224.0.0.1": "multicast", "ff02::1": "multicast", "ff01::1": "multicast",
		"0.1.2.3": "reserved", "100.64.0.1": "reserved", "255.255.255.255": "reserved", "198.18.0.1": "reserved",
		"64:ff9b::7f00:1": "loopback", "64:ff9b::a00:1": "private", "64:ff9b::5db8:d822": "",
		"93.184.216.34": "", "8.8.8.8": "", "2606:4700::1111": "", "192.0.2.10": "",
	} {
		if got := refusedKind(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

// TestCheckHostAndDial: the add-time check refuses internal literals and
// names (localhost) unless allowed; the dial-time check refuses the
// resolved address whatever name led to it.
func TestCheckHostAndDial(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		host  string
		allow bool
		want  error
	}{
		{"127.0.0.1", false, ErrRefusedAddress},
		{"localhost", false, ErrRefusedAddress},
		{"::1", false, ErrRefusedAddress},
		{"10.1.1.1", false, ErrRefusedAddress},
		{"127.0.0.1", true, nil},
		{"localhost", true, nil},
		{"192.0.2.10", false, nil},
	}
	for _, tc := range tests {
		err := CheckHost(ctx, tc.host, tc.allow)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckHost(%s, allow %t) = %v, want %v", tc.host, tc.allow, err, tc.want)
		}
	}
	if err := CheckHost(ctx, "no-such-host.invalid", true); err == nil || !strings.Contains(err.Error(), "does not resolve") {
		t.Errorf("unresolvable host: %v", err)
	}
	for addr, refused := range map[string]bool{"127.0.0.1:80": true, "[::1]:443": true, "[fe80::1%eth0]:80": true, "192.0.2.10:443": false, "junk": true} {
		if err := dialControl("tcp", addr, nil); (err != nil) != refused || refused && !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("dialControl(%s) = %v, want refused %t", addr, err, refused)
		}
	}
}

// TestBackoffAfter: the wait doubles from Backoff and stops at MaxBackoff.
func TestBackoffAfter(t *testing.T) {
	c := DefaultConfig()
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 10: 512 * time.Second, 11: 10 * time.Minute, 50: 10 * time.Minute} {
		if got := c.BackoffAfter(n); got != want {
			t.Errorf("after attempt %d: %s, want %s", n, got, want)
		}
	}
}
