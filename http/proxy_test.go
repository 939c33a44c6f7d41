package http

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestResolveClient(t *testing.T) {
	trust := proxyTrust{trusted: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8:ffff::/48"),
	}}
	cases := []struct {
		name      string
		peer      string
		header    map[string][]string
		wantAddr  string
		wantPlain bool
	}{
		{"untrusted peer without headers", "192.0.2.10:5000", nil, "192.0.2.10", false},
		{"untrusted peer with forwarding headers", "192.0.2.10:5000", map[string][]string{
			"X-Forwarded-For":   {"198.51.100.1"},
			"X-Real-Ip":         {"198.51.100.2"},
			"Forwarded":         {"for=198.51.100.3;proto=http"},
			"X-Forwarded-Proto": {"http"},
		}, "192.0.2.10", false},
		{"trusted peer, one hop", "10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1", false},
		{"trusted peer, client-supplied entries on the left are ignored", "10.1.1.1:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.66, 198.51.100.1"}}, "198.51.100.1", false},
		{"trusted chain is skipped right to left", "10.1.1.1:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.66, 198.51.100.1, 10.2.2.2"}}, "198.51.100.1", false},
		{"several header lines read as one list", "10.1.1.1:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.66, 198.51.100.1", "10.2.2.2"}}, "198.51.100.1", false},
		{"all hops trusted gives the leftmost", "10.1.1.1:5000",
			map[string][]string{"X-Forwarded-For": {"10.3.3.3, 10.2.2.2"}}, "10.3.3.3", false},
		{"garbage stops the walk at the last parsed hop", "10.1.1.1:5000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.1, not-an-ip, 10.2.2.2"}}, "10.2.2.2", false},
		{"garbage right after the peer keeps the peer", "10.1.1.1:5000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.1, unknown"}}, "10.1.1.1", false},
		{"entry with a port", "10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1:4711"}}, "198.51.100.1", false},
		{"IPv6 entry with a port", "10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"[2001:db8::7]:4711"}}, "2001:db8::7", false},
		{"IPv4-mapped entry is unmapped", "10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.1"}}, "198.51.100.1", false},
		{"zoned entry is not an address", "10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"fe80::1%eth0"}}, "10.1.1.1", false},
		{"IPv6 trusted peer", "[2001:db8:ffff::1]:443", map[string][]string{"X-Forwarded-For": {"2001:db8:1::5"}}, "2001:db8:1::5", false},
		{"trusted peer ignores X-Real-IP and Forwarded", "10.1.1.1:5000", map[string][]string{
			"X-Real-Ip": {"198.51.100.2"},
			"Forwarded": {"for=198.51.100.3"},
		}, "10.1.1.1", false},
		{"trusted peer reports plain HTTP", "10.1.1.1:5000", map[string][]string{"X-Forwarded-Proto": {"http"}}, "10.1.1.1", true},
		{"plain HTTP from the trusted hop counts", "10.1.1.1:5000", map[string][]string{"X-Forwarded-Proto": {"https, HTTP"}}, "10.1.1.1", true},
		{"plain HTTP written by the client is ignored", "10.1.1.1:5000", map[string][]string{"X-Forwarded-Proto": {"HTTP, https"}}, "10.1.1.1", false},
		{"trusted peer reports HTTPS", "10.1.1.1:5000", map[string][]string{"X-Forwarded-Proto": {"https"}}, "10.1.1.1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			r.Header = http.Header{}
			for k, vs := range c.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got := trust.resolve(r)
			if got.addr.String() != c.wantAddr {
				t.Errorf("resolve: addr = %s, want %s", got.addr, c.wantAddr)
			}
			if got.forwardedPlainHTTP != c.wantPlain {
				t.Errorf("resolve: forwardedPlainHTTP = %t, want %t", got.forwardedPlainHTTP, c.wantPlain)
			}
			if want := netip.MustParseAddrPort(c.peer).Addr(); got.peer != want {
				t.Errorf("resolve: peer = %s, want %s", got.peer, want)
			}
		})
	}
}

func TestResolveClientTrustsNobodyByDefault(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	r.Header.Set("X-Forwarded-Proto", "http")
	got := proxyTrust{}.resolve(r)
	if got.addr.String() != "127.0.0.1" || got.forwardedPlainHTTP {
		t.Errorf("resolve with no trusted proxies = %+v, want the peer 127.0.0.1 and no plain-HTTP report", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"})
	if err != nil {
		t.Fatalf("ParseTrustedProxies: %v", err)
	}
	if len(got) != 3 || got[1] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("ParseTrustedProxies = %v, want three prefixes with 192.0.2.1/32 second", got)
	}
	for _, bad := range []string{"10.0.0.1/8", "010.0.0.1", "fe80::1%eth0", "", "10.0.0.0/33"} {
		_, err := ParseTrustedProxies([]string{bad})
		if err == nil {
			t.Errorf("ParseTrustedProxies(%q) succeeded, want an error", bad)
			continue
		}
		// The entry is a proxy, not an entry of a key's allowlist.
		if msg := err.Error(); !strings.HasPrefix(msg, fmt.Sprintf("invalid trusted proxy %q: ", bad)) || strings.Contains(msg, "allowed IP") {
			t.Errorf("ParseTrustedProxies(%q) error = %q, want it to call the entry a trusted proxy only", bad, msg)
		}
	}
}

// TestTrustedProxiesWarning checks that a trusted proxy entry of prefix length 0 gets a
// warning naming it, because it lets every client of its family choose its address with
// X-Forwarded-For, and that proxies' own addresses and prefixes get none.
func TestTrustedProxiesWarning(t *testing.T) {
	cases := []struct {
		name    string
		entries []string
		want    string
	}{
		{"none", nil, ""},
		{"addresses and prefixes", []string{"10.0.0.0/24", "192.0.2.7", "2001:db8::/48"}, ""},
		{"IPv4 catch-all", []string{"10.0.0.0/24", "0.0.0.0/0"}, "0.0.0.0/0"},
		{"IPv6 catch-all", []string{"::/0"}, "::/0"},
		{"both catch-alls", []string{"0.0.0.0/0", "::/0"}, "0.0.0.0/0, ::/0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trusted, err := ParseTrustedProxies(c.entries)
			if err != nil {
				t.Fatalf("ParseTrustedProxies(%q): %v", c.entries, err)
			}
			got := TrustedProxiesWarning(trusted)
			if c.want == "" {
				if got != "" {
					t.Errorf("TrustedProxiesWarning(%q) = %q, want none", c.entries, got)
				}
				return
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("TrustedProxiesWarning(%q) = %q, want it to name %s", c.entries, got, c.want)
			}
			if !strings.Contains(got, "X-Forwarded-For") {
				t.Errorf("TrustedProxiesWarning(%q) = %q, want it to name X-Forwarded-For", c.entries, got)
			}
		})
	}
}
