package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Address ranges a webhook may not reach unless bridge.allow_private_targets
// is set: the ones an attacker would point a webhook at to reach the
// bridge's own network (SSRF).
var guardBlocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network", unspecified
	netip.MustParsePrefix("10.0.0.0/8"),     // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),  // CGNAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, incl. cloud metadata 169.254.169.254
	netip.MustParsePrefix("172.16.0.0/12"),  // RFC 1918
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"), // RFC 1918
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("fc00::/7"),       // unique local, incl. AWS metadata fd00:ec2::254
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

// BlockedAddr reports whether ip is in a range webhooks may not reach by
// default: loopback, private (RFC 1918, fc00::/7), link-local, CGNAT,
// unspecified, multicast, cloud metadata. IPv4-mapped IPv6 addresses are
// judged as the IPv4 address they carry.
func BlockedAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return true
	}
	for _, p := range guardBlocked {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// guardControl is a net.Dialer Control hook that refuses blocked addresses.
// It runs on the resolved address actually being connected to, after DNS, so
// a name that resolves to a public address when checked and to a private one
// when dialled (DNS rebinding) is still refused.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		host, _, serr := net.SplitHostPort(address)
		if serr != nil {
			return fmt.Errorf("%w: unparsable address %q", ErrPrivateTarget, address)
		}
		ip, perr := netip.ParseAddr(host)
		if perr != nil {
			return fmt.Errorf("%w: unparsable address %q", ErrPrivateTarget, address)
		}
		ap = netip.AddrPortFrom(ip, 0)
	}
	if BlockedAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s (%s)", ErrPrivateTarget, ap.Addr(), network)
	}
	return nil
}
