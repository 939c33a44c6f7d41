package iogate

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseBlockedAddress(t *testing.T) {
	accepted := []struct {
		name, entry, want string
	}{
		{"IPv4 address", "192.0.2.7", "192.0.2.7/32"},
		{"IPv4 full-length prefix", "192.0.2.7/32", "192.0.2.7/32"},
		{"IPv4 prefix", "198.51.100.0/24", "198.51.100.0/24"},
		{"every IPv4 address", "0.0.0.0/0", "0.0.0.0/0"},
		{"IPv6 address widens to its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"IPv6 loopback widens to its /64", "::1", "::/64"},
		{"IPv6 /64", "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
		{"IPv6 /48", "2001:db8:1::/48", "2001:db8:1::/48"},
		{"IPv6 in upper case", "2001:DB8::/32", "2001:db8::/32"},
		{"IPv4-mapped address", "::ffff:192.0.2.7", "192.0.2.7/32"},
		{"IPv4-mapped prefix", "::ffff:198.51.100.0/120", "198.51.100.0/24"},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseBlockedAddress(c.entry)
			if err != nil {
				t.Fatalf("ParseBlockedAddress(%q) failed: %v", c.entry, err)
			}
			if got.String() != c.want {
				t.Errorf("ParseBlockedAddress(%q) = %s, want %s", c.entry, got, c.want)
			}
			if err := CheckUnblockPrefix(got); err != nil {
				t.Errorf("CheckUnblockPrefix(%s) of a parsed address: %v", got, err)
			}
		})
	}

	rejected := []struct {
		name, entry, reason string
	}{
		{"IPv6 prefix longer than /64", "2001:db8::/96", "give 2001:db8::/64"},
		{"IPv6 full-length prefix", "2001:db8::1/128", "give 2001:db8::/64"},
		{"host bits set", "192.0.2.7/24", "host bits are set; the network is 192.0.2.0/24"},
		{"leading zero", "192.0.2.07", "leading zeros"},
		{"zone", "fe80::1%eth0", "zones are not allowed"},
		{"host name", "office.example", "is not an IPv4 or IPv6 address"},
		{"two addresses", "192.0.2.7,192.0.2.8", "one IP address or CIDR prefix"},
		{"empty", "", "without spaces"},
	}
	for _, c := range rejected {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseBlockedAddress(c.entry)
			if err == nil {
				t.Fatalf("ParseBlockedAddress(%q) = %s, want an error", c.entry, got)
			}
			if ErrorCodeOf(err) != CodeInvalid {
				t.Errorf("ParseBlockedAddress(%q) error code = %q, want %q", c.entry, ErrorCodeOf(err), CodeInvalid)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("ParseBlockedAddress(%q) error %q does not say %q", c.entry, err, c.reason)
			}
			if !strings.Contains(err.Error(), "invalid address") {
				t.Errorf("ParseBlockedAddress(%q) error %q does not name the argument as an address", c.entry, err)
			}
		})
	}
}

func TestCheckUnblockPrefix(t *testing.T) {
	for _, p := range []netip.Prefix{
		{},
		netip.PrefixFrom(netip.MustParseAddr("192.0.2.7"), 24),
		netip.MustParsePrefix("::ffff:192.0.2.0/120"),
		netip.MustParsePrefix("2001:db8::/65"),
	} {
		if err := CheckUnblockPrefix(p); ErrorCodeOf(err) != CodeInvalid {
			t.Errorf("CheckUnblockPrefix(%s) = %v, want a %s error", p, err, CodeInvalid)
		}
	}
}
