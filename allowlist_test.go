package iogate

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAllowedIP(t *testing.T) {
	valid := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7/32"},
		{"203.0.113.0/24", "203.0.113.0/24"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::ffff:203.0.113.7", "203.0.113.7/32"},
		{"::ffff:203.0.113.0/120", "203.0.113.0/24"},
		{"0.0.0.0/0", "0.0.0.0/0"},
	}
	for _, c := range valid {
		got, err := ParseAllowedIP(c.in)
		if err != nil {
			t.Errorf("ParseAllowedIP(%q) error: %v", c.in, err)
			continue
		}
		if got.String() != c.want {
			t.Errorf("ParseAllowedIP(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	invalid := []string{
		"", " 10.0.0.1", "010.0.0.1", "10.0.0.01", "10.0.0.1/24", "10.0.0.0/33", "10.0.0.0/-1",
		"10.0.0.0/08", "fe80::1%eth0", "fe80::/64%eth0", "2001:db8::1/64", "2001:db8::/129",
		"::ffff:10.0.0.0/95", "10.0.0", "example.com", "10.0.0.0/",
	}
	for _, in := range invalid {
		_, err := ParseAllowedIP(in)
		if err == nil {
			t.Errorf("ParseAllowedIP(%q) succeeded, want an error", in)
			continue
		}
		if in != "" && !strings.Contains(err.Error(), in) {
			t.Errorf("ParseAllowedIP(%q) error %q does not name the entry", in, err)
		}
	}
}

func TestIPAllowed(t *testing.T) {
	list, err := ParseAllowedIPs([]string{"127.0.0.1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"127.0.0.2", false},
		{"2001:db8:1::5", true},
		{"::1", false},
	}
	for _, c := range cases {
		if got := IPAllowed(list, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("IPAllowed(%s) = %t, want %t", c.addr, got, c.want)
		}
	}
	if !IPAllowed(nil, netip.MustParseAddr("198.51.100.1")) {
		t.Error("an empty allowlist must allow every address")
	}
	if _, err := ParseAllowedIPs(make([]string, MaxAllowedIPs+1)); err == nil {
		t.Error("more than MaxAllowedIPs entries accepted")
	}
}
