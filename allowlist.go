package iogate

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxAllowedIPs is the most IP allowlist entries one key can have.
const MaxAllowedIPs = 100

// ParseAllowedIP parses one IP allowlist entry: an address or a prefix in canonical form.
// It rejects, rather than rewrites, anything ambiguous: leading zeros, zones, host bits set
// below the prefix length, and out-of-range prefix lengths. Each error names the entry and
// states what is wrong with it. An IPv4-mapped IPv6 address is returned as its IPv4 form,
// because that is how the server sees such a client's address. A single address becomes a
// prefix of full length.
func ParseAllowedIP(entry string) (netip.Prefix, error) {
	return ParseIPEntry(entry, "allowed IP")
}

// ParseIPEntry parses entry as ParseAllowedIP does, for lists other than a key's allowlist:
// its errors call the entry a kind, such as "trusted proxy".
func ParseIPEntry(entry, kind string) (netip.Prefix, error) {
	invalid := func(format string, args ...any) (netip.Prefix, error) {
		return netip.Prefix{}, Errorf(CodeInvalid, "invalid %s %s: %s", kind, QuoteInput(entry), fmt.Sprintf(format, args...))
	}
	if entry == "" || strings.TrimSpace(entry) != entry {
		return invalid("expected an IP address or CIDR prefix without spaces")
	}
	if strings.Contains(entry, ",") {
		return invalid("expected one IP address or CIDR prefix per entry; give each its own entry, such as --allow-ip once per address")
	}
	if addrText, zone, ok := strings.Cut(entry, "%"); ok {
		zone, bitsText, hasBits := strings.Cut(zone, "/")
		if hasBits {
			addrText += "/" + bitsText
		}
		return invalid("zones are not allowed: remove %s, as in %s", QuoteInput("%"+zone), QuoteInput(addrText))
	}
	addrText, bitsText, hasBits := strings.Cut(entry, "/")
	addr, err := netip.ParseAddr(addrText)
	if err != nil {
		if hasLeadingZeroOctet(addrText) {
			return invalid("leading zeros are not allowed, because some tools read them as octal")
		}
		return invalid("%s is not an IPv4 or IPv6 address", QuoteInput(addrText))
	}
	if !hasBits {
		addr = addr.Unmap()
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}

	bits, err := strconv.Atoi(bitsText)
	switch {
	case err != nil || bitsText == "" || bitsText[0] < '0' || bitsText[0] > '9':
		return invalid("the prefix length %s is not a decimal number", QuoteInput(bitsText))
	case len(bitsText) > 1 && bitsText[0] == '0':
		return invalid("the prefix length %s has a leading zero", QuoteInput(bitsText))
	case bits > addr.BitLen():
		return invalid("the prefix length %d is out of range: at most %d for this address", bits, addr.BitLen())
	}
	if addr.Is4In6() && bits < 96 {
		return invalid("an IPv4-mapped prefix must be /96 or longer")
	}
	p := netip.PrefixFrom(addr, bits)
	if p.Masked() != p {
		return invalid("host bits are set; the network is %s", p.Masked())
	}
	if addr.Is4In6() {
		p = netip.PrefixFrom(addr.Unmap(), bits-96)
	}
	return p, nil
}

// hasLeadingZeroOctet reports whether s looks like a dotted IPv4 address with a part that
// starts with 0 and has more digits after it, such as 010.0.0.1.
func hasLeadingZeroOctet(s string) bool {
	if strings.Contains(s, ":") {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		// A part such as 0x7f is hexadecimal, not a leading zero, and gets the generic error.
		if len(part) > 1 && part[0] == '0' && part[1] >= '0' && part[1] <= '9' {
			return true
		}
	}
	return false
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

// CatchAllWarning returns a warning about the entries of allowed with a prefix length of 0,
// such as 0.0.0.0/0 or ::/0, or "" when allowed has none. Such an entry allows every address
// of its family. It stays valid, because scripts use it, but a user who types it probably
// means any address, which an empty list already means. With only one family's entry, every
// client of the other family is rejected unless another entry covers its address.
func CatchAllWarning(allowed []netip.Prefix) string {
	var allIPv4, allIPv6, someIPv4, someIPv6 bool
	for _, p := range allowed {
		switch {
		case p.Addr().Is4() && p.Bits() == 0:
			allIPv4 = true
		case p.Addr().Is4():
			someIPv4 = true
		case p.Bits() == 0:
			allIPv6 = true
		default:
			someIPv6 = true
		}
	}

	const emptyList = " An empty list of allowed IPs already allows any address."
	switch {
	case allIPv4 && allIPv6:
		return "the allowed IPs 0.0.0.0/0 and ::/0 allow every IPv4 and IPv6 address." + emptyList
	case allIPv4:
		return catchAllFamily("0.0.0.0/0", "IPv4", "IPv6", someIPv6) + emptyList
	case allIPv6:
		return catchAllFamily("::/0", "IPv6", "IPv4", someIPv4) + emptyList
	}
	return ""
}

// catchAllFamily returns the sentence of CatchAllWarning about entry, the catch-all entry of
// family. otherListed reports whether other entries cover addresses of the other family.
func catchAllFamily(entry, family, other string, otherListed bool) string {
	rejected := "every " + other + " address is rejected"
	if otherListed {
		rejected = other + " addresses are rejected unless another entry covers them"
	}
	return fmt.Sprintf("the allowed IP %s allows every %s address, but %s.", entry, family, rejected)
}
