package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// prefixList is a repeatable, comma-separated flag of CIDR prefixes or
// single addresses (--trusted-proxy 10.0.0.0/8,192.0.2.7).
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	s := make([]string, len(*p))
	for i, x := range *p {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

// Set adds the prefixes of v; IPv4-mapped IPv6 forms become IPv4, since
// client addresses are compared unmapped.
func (p *prefixList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		x, err := parsePrefix(f)
		if err != nil {
			return err
		}
		*p = append(*p, x)
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a CIDR prefix (e.g. 10.0.0.0/8)", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	x, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix (e.g. 10.0.0.0/8): %v", s, err)
	}
	if a := x.Addr(); a.Is4In6() {
		if x.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q: an IPv4-mapped prefix needs at least 96 bits", s)
		}
		x = netip.PrefixFrom(a.Unmap(), x.Bits()-96)
	}
	return x.Masked(), nil
}
