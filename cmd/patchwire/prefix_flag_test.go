package main

import (
	"strings"
	"testing"
)

// TestTrustedProxyFlag covers issue 14 item 2: --trusted-proxy takes
// comma-separated and repeated CIDR prefixes or single addresses, and
// names what it cannot parse.
func TestTrustedProxyFlag(t *testing.T) {
	tests := []struct {
		values []string
		want   string // String() of the list, or "error: TEXT"
	}{
		{[]string{"10.0.0.0/8"}, "10.0.0.0/8"},
		{[]string{"10.1.2.3/8, 192.0.2.7", "2001:db8::/32"}, "10.0.0.0/8,192.0.2.7/32,2001:db8::/32"},
		{[]string{"::1"}, "::1/128"},
		{[]string{"::ffff:10.0.0.0/104"}, "10.0.0.0/8"},
		{[]string{"::ffff:10.0.0.1"}, "10.0.0.1/32"},
		{[]string{"10.0.0.0/33"}, "error: not a CIDR prefix"},
		{[]string{"proxy.example.com"}, "error: neither an address nor a CIDR prefix"},
		{[]string{"fe80::1%eth0"}, "error: neither an address"},
		{[]string{"::ffff:0.0.0.0/80"}, "error: at least 96 bits"},
	}
	for _, tc := range tests {
		var p prefixList
		var err error
		for _, v := range tc.values {
			if err = p.Set(v); err != nil {
				break
			}
		}
		got := p.String()
		if err != nil {
			got = "error: " + err.Error()
		}
		want, isErr := strings.CutPrefix(tc.want, "error: ")
		if isErr && (err == nil || !strings.Contains(err.Error(), want)) || !isErr && got != want {
			t.Errorf("Set(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}
