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
		p, err := iogate.ParseAllowedIP(e)
		if err != nil {
			return nil, iogate.Errorf(iogate.CodeInvalid, "invalid trusted proxy %q: %s", e, iogate.ErrorMessageOf(err))
		}
		out = append(out, p)
	}
	return out, nil
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
	info.addr = p.forwardedFor(peer, r.Header.Values("X-Forwarded-For"))
	info.forwardedPlainHTTP = forwardedPlainHTTP(r.Header.Values("X-Forwarded-Proto"))
	return info
}

// forwardedFor reads X-Forwarded-For right to left: each proxy appends the address it
// received the request from, so entries on the right were written by hops closer to this
// server. It skips entries that are trusted proxies and returns the first that is not.
// Everything to the left of that entry was written by the client and is ignored. An entry
// that does not parse ends the walk at the last address that did, because nothing left of
// it can be attributed to a trusted hop.
func (p proxyTrust) forwardedFor(peer netip.Addr, values []string) netip.Addr {
	addr := peer
	for i := len(values) - 1; i >= 0; i-- {
		entries := strings.Split(values[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := parseForwardedAddr(entries[j])
			if !ok {
				return addr
			}
			addr = a
			if !p.isTrusted(a) {
				return addr
			}
		}
	}
	return addr
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

// forwardedPlainHTTP reports whether X-Forwarded-Proto contains "http" anywhere. A chain
// of proxies may list one scheme per hop, and if any hop was plain HTTP, the credentials
// crossed a network in clear text.
func forwardedPlainHTTP(values []string) bool {
	for _, v := range values {
		for _, proto := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(proto), "http") {
				return true
			}
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

func withClientInfo(ctx context.Context, info clientInfo) context.Context {
	return context.WithValue(ctx, clientInfoKey, info)
}

func clientInfoFrom(ctx context.Context) (clientInfo, bool) {
	info, ok := ctx.Value(clientInfoKey).(clientInfo)
	return info, ok
}

// clientAddr returns the client's address as the middleware resolved it, with trusted
// proxies taken into account. Outside the middleware (in handler tests) it is the TCP peer.
func clientAddr(r *http.Request) netip.Addr {
	if info, ok := clientInfoFrom(r.Context()); ok {
		return info.addr
	}
	return peerAddr(r)
}
