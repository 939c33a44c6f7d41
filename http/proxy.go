package http

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/iogate/iogate"
)

// ParseTrustedProxies parses the entries of --trusted-proxies: IP addresses or CIDR
// prefixes in the canonical form that ParseAllowedIP accepts.
func ParseTrustedProxies(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		p, err := iogate.ParseIPEntry(e, "trusted proxy")
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// TrustedProxiesWarning returns a warning about the entries of trusted with a prefix length
// of 0, such as 0.0.0.0/0 or ::/0, or "" when trusted has none. Such an entry trusts every
// peer of its family, so any client can write the address that key allowlists and rate
// limits see into X-Forwarded-For. The entry stays valid for a network that only proxies
// can reach, as in a private load-balancer subnet.
func TrustedProxiesWarning(trusted []netip.Prefix) string {
	var catchAll []string
	for _, p := range trusted {
		if p.Bits() == 0 {
			catchAll = append(catchAll, p.String())
		}
	}
	if len(catchAll) == 0 {
		return ""
	}
	return "--trusted-proxies " + strings.Join(catchAll, ", ") + " trusts every peer, so any client that reaches the listener can choose, " +
		"with X-Forwarded-For, the address that API key allowlists and rate limits check; name only the proxies' own addresses"
}

// clientInfo is the origin of a request, worked out once per request by the middleware.
type clientInfo struct {
	// addr is the client's address: the TCP peer, or the address that trusted proxies
	// reported in X-Forwarded-For.
	addr netip.Addr
	// peer is the TCP peer.
	peer netip.Addr
	// forwardedPlainHTTP is set when a trusted proxy reported, in X-Forwarded-Proto, that
	// the client reached it over plain HTTP.
	forwardedPlainHTTP bool
}

// proxyTrust decides which forwarding headers to believe.
type proxyTrust struct {
	trusted []netip.Prefix
}

func (p proxyTrust) isTrusted(a netip.Addr) bool {
	for _, t := range p.trusted {
		if t.Contains(a) {
			return true
		}
	}
	return false
}

// resolve returns where r came from. Forwarding headers are read only when the TCP peer is
// a trusted proxy. From any other peer they are all ignored (X-Forwarded-For,
// X-Forwarded-Proto, X-Real-IP, Forwarded and the rest), so that no header can dodge an IP
// restriction or a rate limit. X-Real-IP and Forwarded are never read: proxies that set
// them also set X-Forwarded-For, and one source of truth is easier to reason about.
func (p proxyTrust) resolve(r *http.Request) clientInfo {
	peer := peerAddr(r)
	info := clientInfo{addr: peer, peer: peer}
	if len(p.trusted) == 0 || !peer.IsValid() || !p.isTrusted(peer) {
		return info
	}
	var hops int
	info.addr, hops = p.forwardedFor(peer, r.Header.Values("X-Forwarded-For"))
	info.forwardedPlainHTTP = forwardedPlainHTTP(r.Header.Values("X-Forwarded-Proto"), hops)
	return info
}

// forwardedFor reads X-Forwarded-For right to left: each proxy appends the address it
// received the request from, so entries on the right were written by hops closer to this
// server. It skips entries that are trusted proxies and returns the first that is not.
// Everything to the left of that entry was written by the client and is ignored. An entry
// that does not parse ends the walk at the last address that did, because nothing left of
// it can be attributed to a trusted hop. It also returns how many trusted proxies the
// request passed through: the peer and every trusted entry skipped.
func (p proxyTrust) forwardedFor(peer netip.Addr, values []string) (netip.Addr, int) {
	addr, hops := peer, 1
	for i := len(values) - 1; i >= 0; i-- {
		entries := strings.Split(values[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := parseForwardedAddr(entries[j])
			if !ok {
				return addr, hops
			}
			addr = a
			if !p.isTrusted(a) {
				return addr, hops
			}
			hops++
		}
	}
	return addr, hops
}

// parseForwardedAddr parses one X-Forwarded-For entry: an IP address, optionally with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711"), as some proxies write it.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// forwardedPlainHTTP reports whether one of the trusted hops recorded "http" in
// X-Forwarded-Proto. Each proxy appends the scheme it received, so only the rightmost hops
// entries were written by trusted proxies. Entries to their left came from the client, and
// reading them would let anyone holding a token write "http" there and get the key marked
// exposed, or deleted under --revoke-exposed-credentials.
func forwardedPlainHTTP(values []string, hops int) bool {
	var entries []string
	for _, v := range values {
		entries = append(entries, strings.Split(v, ",")...)
	}
	if len(entries) > hops {
		entries = entries[len(entries)-hops:]
	}
	for _, proto := range entries {
		if strings.EqualFold(strings.TrimSpace(proto), "http") {
			return true
		}
	}
	return false
}

// peerAddr returns the TCP peer's address, unmapped from IPv4-in-IPv6 form.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}

func clientInfoFrom(ctx context.Context) (clientInfo, bool) {
	if st := stateFrom(ctx); st != nil {
		return st.client, true
	}
	return clientInfo{}, false
}

// clientAddr returns the client's address as the middleware resolved it, with trusted
// proxies taken into account. Outside the middleware (in handler tests) it is the TCP peer.
func clientAddr(r *http.Request) netip.Addr {
	if info, ok := clientInfoFrom(r.Context()); ok {
		return info.addr
	}
	return peerAddr(r)
}
