package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// The SSRF guard: a hook's URL is checked when it is added (CheckHost) and
// every connection the worker makes is checked again on the address it
// actually dials (dialControl), so a name that resolved to a public
// address at add time and to an internal one later (DNS rebinding) is
// still refused.

// ErrRefusedAddress is what either check returns for an address the
// server does not send to.
var ErrRefusedAddress = errors.New("refused address")

// extraRefused are ranges net/netip has no predicate for.
var extraRefused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),      // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking
	netip.MustParsePrefix("255.255.255.255/32"), // broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),     // local-use NAT64
}

// nat64 is the well-known NAT64 prefix: its addresses carry an IPv4
// address in their last 32 bits, judged as that address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusedKind names why ip is refused ("" when it is not).
func refusedKind(ip netip.Addr) string {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, p := range extraRefused {
		if p.Contains(ip) {
			return "reserved"
		}
	}
	return ""
}

// refusal is the error for ip of host.
func refusal(host string, ip netip.Addr, kind string) error {
	what := fmt.Sprintf("%s is", host)
	if host != ip.String() {
		what = fmt.Sprintf("%s resolves to %s,", host, ip)
	}
	return fmt.Errorf("%w: %s a %s address; webhooks are not sent to loopback, private, link-local, unspecified or multicast addresses unless the server runs with --webhook-allow-private",
		ErrRefusedAddress, what, kind)
}

// CheckHost checks the host of a hook URL: an IP address, or a name that
// resolves, none of whose addresses is refused (allowPrivate: any address).
func CheckHost(ctx context.Context, host string, allowPrivate bool) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if kind := refusedKind(ip); kind != "" && !allowPrivate {
			return refusal(host, ip, kind)
		}
		return nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("webhook host %q does not resolve: %v", host, err)
	}
	for _, ip := range ips {
		if kind := refusedKind(ip); kind != "" && !allowPrivate {
			return refusal(host, ip, kind)
		}
	}
	return nil
}

// dialControl is the net.Dialer Control of the worker's connections: it
// sees the address after resolution, just before connecting.
func dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrRefusedAddress, address)
	}
	if kind := refusedKind(ap.Addr()); kind != "" {
		return refusal(ap.Addr().String(), ap.Addr(), kind)
	}
	return nil
}
