package http

import (
	"net/netip"
	"time"

	"github.com/iogate/iogate"
)

// maxLoggedUnblocks bounds the addresses that the log line of one unblock lists, because a
// short prefix may cover thousands of addresses.
const maxLoggedUnblocks = 20

// unblockedAddress is an address whose block, slowdown or failure count an unblock
// cleared.
type unblockedAddress struct {
	key netip.Prefix
	// blockedUntil is the end of the block that was lifted, or zero when the address was
	// not blocked.
	blockedUntil time.Time
	// blockTargets are the client IDs that the lifted block's failed attempts named.
	blockTargets []string
}

// applyUnblock is the engine's listener for iogate.ChangeAddressUnblock. It clears the
// block, the slowdown and the failure count of every address in the change's prefix, then
// logs what it cleared, counts the lifted blocks and calls onUnblock for each of them.
// The notice of a full reload carries no address and changes nothing, because blocks
// live only in this process and no other change could have lifted one.
func (l *limiter) applyUnblock(c iogate.KeyChange) {
	if c.Address == "" {
		return
	}
	prefix, err := netip.ParsePrefix(c.Address)
	if err == nil {
		err = iogate.CheckUnblockPrefix(prefix)
	}
	if err != nil {
		l.log.Error("ignoring an address unblock with an invalid prefix", "address", c.Address, "seq", c.Seq, "error", err)
		return
	}
	cleared, applied := l.unblock(prefix, c.Seq)
	if !applied {
		return
	}
	l.logUnblock(prefix, c.Operator, cleared)

	blocked := 0
	for _, u := range cleared {
		if u.blockedUntil.IsZero() {
			continue
		}
		blocked++
		if l.onUnblock != nil {
			l.onUnblock(u.key, u.blockTargets, c.Operator, u.blockedUntil)
		}
	}
	l.metrics.AddressesUnblocked(blocked)
}

// unblock clears the block, the slowdown and the failure count of every address in prefix
// and returns the addresses that had one. The per-address request rate stays as it was,
// because it is not a penalty. applied is false, and nothing is cleared, when seq is not
// above that of the last unblock applied: the change was delivered before. A seq of 0
// is always applied.
func (l *limiter) unblock(prefix netip.Prefix, seq int64) (cleared []unblockedAddress, applied bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq != 0 {
		if seq <= l.lastUnblockSeq {
			return nil, false
		}
		l.lastUnblockSeq = seq
	}
	clear := func(key netip.Prefix, st *addressState) {
		blocked := now.Before(st.blockedUntil)
		penalised := blocked || now.Before(st.nextAttempt) ||
			st.failures > 0 && now.Sub(st.windowStart) <= l.cfg.FailureWindow
		if !penalised {
			return
		}
		u := unblockedAddress{key: key}
		if blocked {
			u.blockedUntil, u.blockTargets = st.blockedUntil, st.blockTargets
		}
		cleared = append(cleared, u)
		st.failures, st.windowStart, st.nextAttempt, st.blockedUntil = 0, time.Time{}, time.Time{}, time.Time{}
		st.targets, st.blockTargets = nil, nil
	}

	// An IPv4 address or an IPv6 /64 is one entry of the table, so it needs no scan.
	if prefix == addressKey(prefix.Addr()) {
		if st := l.addresses[prefix]; st != nil {
			clear(prefix, st)
		}
		return cleared, true
	}
	for key, st := range l.addresses {
		if key.Bits() >= prefix.Bits() && prefix.Contains(key.Addr()) {
			clear(key, st)
		}
	}
	return cleared, true
}

// logUnblock logs one line for an unblock of prefix: at warn level with the addresses it
// cleared, at most maxLoggedUnblocks of them, or at info level when it cleared none.
func (l *limiter) logUnblock(prefix netip.Prefix, operator string, cleared []unblockedAddress) {
	if len(cleared) == 0 {
		l.log.Info("address unblock matched no blocked or slowed-down address on this server", "address", prefix.String(), "operator", operator)
		return
	}
	blocked := 0
	listed := make([]string, 0, min(len(cleared), maxLoggedUnblocks))
	for _, u := range cleared {
		if !u.blockedUntil.IsZero() {
			blocked++
		}
		if len(listed) < maxLoggedUnblocks {
			listed = append(listed, u.key.String())
		}
	}
	attrs := []any{"address", prefix.String(), "operator", operator, "blocked", blocked, "cleared", len(cleared), "addresses", listed}
	if len(cleared) > len(listed) {
		attrs = append(attrs, "addresses_not_listed", len(cleared)-len(listed))
	}
	l.log.Warn("address unblocked by an operator", attrs...)
}
