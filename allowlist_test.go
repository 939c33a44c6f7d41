package iogate

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAllowedIP(t *testing.T) {
	accepted := []struct {
		name, entry, want string
	}{
		{"IPv4 address", "127.0.0.1", "127.0.0.1/32"},
		{"IPv4 prefix", "10.0.0.0/8", "10.0.0.0/8"},
		{"IPv4 full-length prefix", "192.0.2.7/32", "192.0.2.7/32"},
		{"any IPv4 address", "0.0.0.0/0", "0.0.0.0/0"},
		{"IPv6 address", "::1", "::1/128"},
		{"IPv6 prefix", "2001:db8::/32", "2001:db8::/32"},
		{"IPv6 in upper case", "2001:DB8::/32", "2001:db8::/32"},
		{"IPv4-mapped address", "::ffff:192.0.2.1", "192.0.2.1/32"},
		{"IPv4-mapped prefix", "::ffff:10.0.0.0/104", "10.0.0.0/8"},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseAllowedIP(c.entry)
			if err != nil {
				t.Fatalf("ParseAllowedIP(%q) failed: %v", c.entry, err)
			}
			if got.String() != c.want {
				t.Errorf("ParseAllowedIP(%q) = %s, want %s", c.entry, got, c.want)
			}
		})
	}

	rejected := []struct {
		name, entry, reason string
	}{
		{"leading zero in an octet", "127.0.0.01", "leading zeros"},
		{"leading zero in the first octet", "010.0.0.0/8", "leading zeros"},
		{"hexadecimal octet", "0x7f.0.0.1", "is not an IPv4 or IPv6 address"},
		{"two addresses in one entry", "127.0.0.3,127.0.0.4", "one IP address or CIDR prefix per entry"},
		{"zone", "fe80::1%eth0", `zones are not allowed: remove "%eth0", as in "fe80::1"`},
		{"zone on a prefix", "fe80::%lo/64", `zones are not allowed: remove "%lo", as in "fe80::/64"`},
		{"host bits set", "10.0.0.1/8", "host bits are set; the network is 10.0.0.0/8"},
		{"IPv6 host bits set", "2001:db8::1/32", "host bits are set"},
		{"IPv4 prefix too long", "10.0.0.0/33", "out of range"},
		{"IPv6 prefix too long", "::/129", "out of range"},
		{"negative prefix length", "10.0.0.0/-1", "not a decimal number"},
		{"empty prefix length", "10.0.0.0/", "not a decimal number"},
		{"prefix length with a sign", "10.0.0.0/+8", "not a decimal number"},
		{"prefix length with a leading zero", "10.0.0.0/08", "leading zero"},
		{"two prefix lengths", "10.0.0.0/8/8", "not a decimal number"},
		{"short IPv4 address", "10.1", "is not an IPv4 or IPv6 address"},
		{"host name", "localhost", "is not an IPv4 or IPv6 address"},
		{"mapped prefix shorter than /96", "::ffff:0.0.0.0/95", "/96 or longer"},
		{"empty", "", "without spaces"},
		{"space around", " 10.0.0.1", "without spaces"},
	}
	for _, c := range rejected {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseAllowedIP(c.entry)
			if err == nil {
				t.Fatalf("ParseAllowedIP(%q) = %s, want an error", c.entry, got)
			}
			if code := ErrorCodeOf(err); code != CodeInvalid {
				t.Errorf("ParseAllowedIP(%q) error code = %s, want %s", c.entry, code, CodeInvalid)
			}
			msg := ErrorMessageOf(err)
			if !strings.Contains(msg, `"`+c.entry+`"`) {
				t.Errorf("ParseAllowedIP(%q) error %q does not name the entry", c.entry, msg)
			}
			if !strings.Contains(msg, c.reason) {
				t.Errorf("ParseAllowedIP(%q) error %q does not say %q", c.entry, msg, c.reason)
			}
		})
	}
}

func TestParseAllowedIPs(t *testing.T) {
	t.Run("duplicates dropped", func(t *testing.T) {
		got, err := ParseAllowedIPs([]string{"10.0.0.1", "10.0.0.1/32", "::ffff:10.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].String() != "10.0.0.1/32" {
			t.Errorf("ParseAllowedIPs = %v, want [10.0.0.1/32]", got)
		}
	})
	t.Run("first bad entry named", func(t *testing.T) {
		_, err := ParseAllowedIPs([]string{"10.0.0.0/8", "10.0.0.1/8", "127.0.0.01"})
		if err == nil || !strings.Contains(err.Error(), `"10.0.0.1/8"`) {
			t.Errorf("ParseAllowedIPs error = %v, want one naming 10.0.0.1/8", err)
		}
	})
	t.Run("too many", func(t *testing.T) {
		entries := make([]string, MaxAllowedIPs+1)
		for i := range entries {
			entries[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
		}
		if _, err := ParseAllowedIPs(entries); err == nil {
			t.Errorf("ParseAllowedIPs with %d entries succeeded, want an error", len(entries))
		}
		if _, err := ParseAllowedIPs(entries[:MaxAllowedIPs]); err != nil {
			t.Errorf("ParseAllowedIPs with %d entries: %v", MaxAllowedIPs, err)
		}
	})
}

func TestIPAllowed(t *testing.T) {
	list, err := ParseAllowedIPs([]string{"127.0.0.1", "10.0.0.0/8", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.2", false},
		{"10.255.0.1", true},
		{"11.0.0.1", false},
		{"::ffff:127.0.0.1", true},
		{"2001:db8::5", true},
		{"2001:db9::5", false},
		{"::1", false},
		{"fe80::1%lo", false},
	}
	for _, c := range cases {
		if got := IPAllowed(list, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("IPAllowed(%s) = %t, want %t", c.addr, got, c.want)
		}
	}
	if !IPAllowed(nil, netip.MustParseAddr("192.0.2.1")) {
		t.Error("IPAllowed with an empty list = false, want true")
	}
	if IPAllowed(list, netip.Addr{}) {
		t.Error("IPAllowed with no address = true, want false")
	}
}

// FuzzParseAllowedIP checks that every accepted entry is a valid, masked prefix that
// formats back to text which parses to the same prefix.
func FuzzParseAllowedIP(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32", "::ffff:1.2.3.4/120", "1.2.3.4/33", "010.1.1.1", "fe80::1%x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		p, err := ParseAllowedIP(entry)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid allowed IP") {
				t.Fatalf("error %q does not start as expected", err)
			}
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParseAllowedIP(%q) = %s, not a canonical prefix", entry, p)
		}
		again, err := ParseAllowedIP(FormatAllowedIPs([]netip.Prefix{p})[0])
		if err != nil || again != p {
			t.Fatalf("formatted %s parses to %s, %v", p, again, err)
		}
	})
}

func TestCatchAllWarning(t *testing.T) {
	const emptyList = " An empty list of allowed IPs already allows any address."
	cases := []struct {
		name    string
		entries []string
		want    string
	}{
		{"empty list", nil, ""},
		{"no catch-all entry", []string{"10.0.0.0/8", "2001:db8::/32"}, ""},
		{"IPv4 only", []string{"0.0.0.0/0"},
			"the allowed IP 0.0.0.0/0 allows every IPv4 address, but every IPv6 address is rejected." + emptyList},
		{"IPv4 with other IPv4 entries", []string{"10.0.0.0/8", "0.0.0.0/0"},
			"the allowed IP 0.0.0.0/0 allows every IPv4 address, but every IPv6 address is rejected." + emptyList},
		{"IPv4 with an IPv6 entry", []string{"0.0.0.0/0", "2001:db8::/32"},
			"the allowed IP 0.0.0.0/0 allows every IPv4 address, but IPv6 addresses are rejected unless another entry covers them." + emptyList},
		{"IPv4-mapped form", []string{"::ffff:0.0.0.0/96"},
			"the allowed IP 0.0.0.0/0 allows every IPv4 address, but every IPv6 address is rejected." + emptyList},
		{"IPv6 only", []string{"::/0"},
			"the allowed IP ::/0 allows every IPv6 address, but every IPv4 address is rejected." + emptyList},
		{"IPv6 with an IPv4 entry", []string{"::/0", "192.0.2.7"},
			"the allowed IP ::/0 allows every IPv6 address, but IPv4 addresses are rejected unless another entry covers them." + emptyList},
		{"both families", []string{"::/0", "0.0.0.0/0"},
			"the allowed IPs 0.0.0.0/0 and ::/0 allow every IPv4 and IPv6 address." + emptyList},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allowed, err := ParseAllowedIPs(c.entries)
			if err != nil {
				t.Fatalf("ParseAllowedIPs(%q) failed: %v", c.entries, err)
			}
			if got := CatchAllWarning(allowed); got != c.want {
				t.Errorf("CatchAllWarning(%q) = %q, want %q", c.entries, got, c.want)
			}
		})
	}
}
