package iogate

import (
	"net/netip"
	"strings"
)

// MaxAllowedIPs is the most IP allowlist entries one key can have.
const MaxAllowedIPs = 100

// ParseAllowedIP parses one IP allowlist entry: an address or a prefix in canonical form.
// It rejects, rather than rewrites, anything ambiguous: leading zeros, zones, host bits set
// below the prefix length, and out-of-range prefix lengths. An IPv4-mapped IPv6 address is
// returned as its IPv4 form, because that is how the server sees such a client's address.
// A single address becomes a prefix of full length.
func ParseAllowedIP(entry string) (netip.Prefix, error) {
	if entry == "" || strings.TrimSpace(entry) != entry {
		return netip.Prefix{}, Errorf(CodeInvalid, "invalid allowed IP %q: expected an IP address or CIDR prefix without spaces", entry)
	}
	if strings.Contains(entry, "%") {
		return netip.Prefix{}, Errorf(CodeInvalid, "invalid allowed IP %q: zones are not allowed", entry)
	}
	if !strings.Contains(entry, "/") {
		addr, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, Errorf(CodeInvalid, "invalid allowed IP %q: not an IP address in canonical form", entry)
		}
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(entry)
	if err != nil {
		return netip.Prefix{}, Errorf(CodeInvalid, "invalid allowed IP %q: not a CIDR prefix in canonical form (address/length)", entry)
	}
	if p.Masked() != p {
		return netip.Prefix{}, Errorf(CodeInvalid, "invalid allowed IP %q: host bits are set; the network is %s", entry, p.Masked())
	}
	if p.Addr().Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, Errorf(CodeInvalid, "invalid allowed IP %q: an IPv4-mapped prefix must be /96 or longer", entry)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), bits)
	}
	return p, nil
}

// ParseAllowedIPs parses a list of allowlist entries with ParseAllowedIP, rejects more than
// MaxAllowedIPs, and drops exact duplicates. An empty list means any address is allowed.
func ParseAllowedIPs(entries []string) ([]netip.Prefix, error) {
	if len(entries) > MaxAllowedIPs {
		return nil, Errorf(CodeInvalid, "too many allowed IPs: %d given, at most %d", len(entries), MaxAllowedIPs)
	}
	out := make([]netip.Prefix, 0, len(entries))
	seen := make(map[netip.Prefix]bool, len(entries))
	for _, e := range entries {
		p, err := ParseAllowedIP(e)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// IPAllowed reports whether addr matches one of the prefixes, or whether the list is empty.
func IPAllowed(allowed []netip.Prefix, addr netip.Addr) bool {
	if len(allowed) == 0 {
		return true
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// FormatAllowedIPs returns the entries as strings, single addresses without a prefix length.
func FormatAllowedIPs(allowed []netip.Prefix) []string {
	out := make([]string, len(allowed))
	for i, p := range allowed {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}
