package iogate

import (
	"net/netip"
	"strings"
)

// IPv6BlockBits is the prefix length of the unit in which the rate limits count IPv6
// source addresses: failures, slowdowns and blocks apply to a whole /64, because one host
// commonly holds one.
const IPv6BlockBits = 64

// ParseBlockedAddress parses the argument of "iogate address unblock": an IP address or a
// CIDR prefix, in the canonical form that ParseIPEntry requires. It returns the prefix of
// the addresses whose blocks the command lifts. An IPv6 address becomes its /64, the unit
// that the rate limits count. An IPv6 prefix longer than /64 covers only part of such a
// unit, so it returns CodeInvalid and names the /64 to give instead.
func ParseBlockedAddress(entry string) (netip.Prefix, error) {
	p, err := ParseIPEntry(entry, "address")
	if err != nil {
		return netip.Prefix{}, err
	}
	if !p.Addr().Is6() || p.Bits() <= IPv6BlockBits {
		return p, nil
	}
	unit, _ := p.Addr().Prefix(IPv6BlockBits)
	if !strings.Contains(entry, "/") {
		return unit, nil
	}
	return netip.Prefix{}, Errorf(CodeInvalid, "invalid address %s: the rate limits count IPv6 addresses per /64, so a block can be lifted "+
		"only for a whole /64: give %s, a shorter prefix, or an address without a prefix length", QuoteInput(entry), unit)
}

// CheckUnblockPrefix returns CodeInvalid unless prefix is one that ParseBlockedAddress
// returns: valid, without host bits, IPv4 rather than IPv4-mapped, and no longer than /64
// for IPv6. Stores check it before they record an unblock, so that no server reads a
// change it cannot apply.
func CheckUnblockPrefix(prefix netip.Prefix) error {
	switch {
	case !prefix.IsValid() || prefix.Masked() != prefix:
		return Errorf(CodeInvalid, "invalid address prefix %s to unblock: it must be a CIDR prefix without host bits", QuoteInput(prefix.String()))
	case prefix.Addr().Is4In6():
		return Errorf(CodeInvalid, "invalid address prefix %s to unblock: give the IPv4 form, which is how servers count such addresses", prefix)
	case prefix.Addr().Is6() && prefix.Bits() > IPv6BlockBits:
		return Errorf(CodeInvalid, "invalid address prefix %s to unblock: IPv6 blocks apply to whole /%d networks", prefix, IPv6BlockBits)
	}
	return nil
}
