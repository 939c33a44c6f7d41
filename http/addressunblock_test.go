package http

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// unblockLimits block an address at its fourth failure within an hour, for an hour, and
// slow it down from its third.
var unblockLimits = RateLimits{FailuresBeforeSlowdown: 2, FailuresBeforeBlock: 4, FailureWindow: time.Hour, BlockDuration: time.Hour}

const unblockClientID = "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11"

// failTimes records n failed authentications from addr that name unblockClientID.
func failTimes(l *limiter, addr netip.Addr, n int) {
	for range n {
		l.recordFailure(context.Background(), addr, unblockClientID)
	}
}

// unblockChange returns the change that "iogate address unblock" records for prefix.
func unblockChange(seq int64, prefix string) iogate.KeyChange {
	return iogate.KeyChange{Seq: seq, Kind: iogate.ChangeAddressUnblock, Address: prefix, Operator: "alice"}
}

// unblockCall is one call of the limiter's onUnblock.
type unblockCall struct {
	addr         netip.Prefix
	clientIDs    []string
	operator     string
	blockedUntil time.Time
}

func recordUnblocks(l *limiter) *[]unblockCall {
	var calls []unblockCall
	l.onUnblock = func(addr netip.Prefix, clientIDs []string, operator string, blockedUntil time.Time) {
		calls = append(calls, unblockCall{addr, clientIDs, operator, blockedUntil})
	}
	return &calls
}

func TestLimiterUnblockLiftsBlock(t *testing.T) {
	l, clock := newTestLimiter(unblockLimits)
	calls := recordUnblocks(l)
	failTimes(l, attacker, 4)
	until := clock.t.Add(time.Hour)
	if d := l.checkAddress(attacker, false); d == nil || d.limit != rateLimitBlocked {
		t.Fatalf("after 4 failures: denial %+v, want a block", d)
	}

	l.applyUnblock(unblockChange(1, "192.0.2.66/32"))
	if d := l.checkAddress(attacker, false); d != nil {
		t.Fatalf("after the unblock: refused %+v, want allowed", d)
	}
	want := []unblockCall{{netip.MustParsePrefix("192.0.2.66/32"), []string{unblockClientID}, "alice", until}}
	if len(*calls) != 1 || (*calls)[0].addr != want[0].addr || !slices.Equal((*calls)[0].clientIDs, want[0].clientIDs) ||
		(*calls)[0].operator != "alice" || !(*calls)[0].blockedUntil.Equal(until) {
		t.Errorf("onUnblock calls = %+v, want %+v", *calls, want)
	}

	// The failure count starts again from zero: two failures are within the slowdown
	// threshold, and a block needs four again.
	failTimes(l, attacker, 2)
	if d := l.checkAddress(attacker, false); d != nil {
		t.Errorf("two failures after the unblock: refused %+v, want the count to have restarted", d)
	}
	failTimes(l, attacker, 2)
	if d := l.checkAddress(attacker, false); d == nil || d.limit != rateLimitBlocked {
		t.Errorf("four failures after the unblock: denial %+v, want a new block", d)
	}
}

func TestLimiterUnblockLiftsSlowdown(t *testing.T) {
	l, _ := newTestLimiter(unblockLimits)
	calls := recordUnblocks(l)
	failTimes(l, attacker, 3)
	if d := l.checkAddress(attacker, false); d == nil || d.limit != rateLimitSlowdown {
		t.Fatalf("after 3 failures: denial %+v, want a slowdown", d)
	}
	l.applyUnblock(unblockChange(1, "192.0.2.66/32"))
	if d := l.checkAddress(attacker, false); d != nil {
		t.Errorf("after the unblock: refused %+v, want allowed", d)
	}
	if len(*calls) != 0 {
		t.Errorf("onUnblock calls for a slowed-down address = %+v, want none: only blocks have audit records", *calls)
	}
	failTimes(l, attacker, 2)
	if d := l.checkAddress(attacker, false); d != nil {
		t.Errorf("two failures after the unblock: refused %+v, want the count to have restarted", d)
	}
}

func TestLimiterUnblockPrefix(t *testing.T) {
	l, _ := newTestLimiter(unblockLimits)
	calls := recordUnblocks(l)
	inside := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.254")}
	outside := netip.MustParseAddr("198.51.100.7")
	for _, a := range append(slices.Clone(inside), outside) {
		failTimes(l, a, 4)
	}

	l.applyUnblock(unblockChange(1, "192.0.2.0/24"))
	for _, a := range inside {
		if d := l.checkAddress(a, false); d != nil {
			t.Errorf("%s inside the unblocked prefix: refused %+v, want allowed", a, d)
		}
	}
	if d := l.checkAddress(outside, false); d == nil || d.limit != rateLimitBlocked {
		t.Errorf("%s outside the unblocked prefix: denial %+v, want it still blocked", outside, d)
	}
	var lifted []string
	for _, c := range *calls {
		lifted = append(lifted, c.addr.String())
	}
	slices.Sort(lifted)
	if want := []string{"192.0.2.1/32", "192.0.2.254/32"}; !slices.Equal(lifted, want) {
		t.Errorf("onUnblock addresses = %v, want %v", lifted, want)
	}
}

func TestLimiterUnblockIPv6Per64(t *testing.T) {
	l, _ := newTestLimiter(unblockLimits)
	blocked := netip.MustParseAddr("2001:db8:1:2::5")
	sameNetwork := netip.MustParseAddr("2001:db8:1:2::9")
	otherNetwork := netip.MustParseAddr("2001:db8:1:3::5")
	outsideBlock := netip.MustParseAddr("2001:db8:2::5")
	for _, a := range []netip.Addr{blocked, otherNetwork, outsideBlock} {
		failTimes(l, a, 4)
	}

	l.applyUnblock(unblockChange(1, "2001:db8:1:2::/64"))
	if d := l.checkAddress(sameNetwork, false); d != nil {
		t.Errorf("%s in the unblocked /64: refused %+v, want allowed", sameNetwork, d)
	}
	if d := l.checkAddress(otherNetwork, false); d == nil {
		t.Errorf("%s in another /64: allowed, want it still blocked", otherNetwork)
	}

	l.applyUnblock(unblockChange(2, "2001:db8:1::/48"))
	if d := l.checkAddress(otherNetwork, false); d != nil {
		t.Errorf("%s inside the unblocked /48: refused %+v, want allowed", otherNetwork, d)
	}
	if d := l.checkAddress(outsideBlock, false); d == nil {
		t.Errorf("%s outside the unblocked /48: allowed, want it still blocked", outsideBlock)
	}
}

func TestLimiterUnblockIgnoresReloadNotice(t *testing.T) {
	l, _ := newTestLimiter(unblockLimits)
	failTimes(l, attacker, 4)
	l.applyUnblock(iogate.KeyChange{Kind: iogate.ChangeAddressUnblock})
	if d := l.checkAddress(attacker, false); d == nil || d.limit != rateLimitBlocked {
		t.Errorf("after a full reload's notice: denial %+v, want the block kept", d)
	}
}

func TestLimiterUnblockAppliesEachChangeOnce(t *testing.T) {
	l, _ := newTestLimiter(unblockLimits)
	failTimes(l, attacker, 4)
	l.applyUnblock(unblockChange(5, "192.0.2.66/32"))
	failTimes(l, attacker, 4)

	l.applyUnblock(unblockChange(5, "192.0.2.66/32"))
	if d := l.checkAddress(attacker, false); d == nil || d.limit != rateLimitBlocked {
		t.Fatalf("after change 5 arrived again: denial %+v, want the block that followed it kept", d)
	}
	l.applyUnblock(unblockChange(6, "192.0.2.66/32"))
	if d := l.checkAddress(attacker, false); d != nil {
		t.Errorf("after change 6: refused %+v, want allowed", d)
	}
}

func TestLimiterUnblockKeepsRequestRate(t *testing.T) {
	cfg := unblockLimits
	cfg.TokenPerAddress, cfg.TokenPerAddressBurst = 0.001, 1
	l, _ := newTestLimiter(cfg)
	if d := l.checkAddress(attacker, true); d != nil {
		t.Fatalf("first request: refused %+v", d)
	}
	failTimes(l, attacker, 4)
	l.applyUnblock(unblockChange(1, "192.0.2.66/32"))
	if d := l.checkAddress(attacker, true); d == nil || d.limit != rateLimitAddress {
		t.Errorf("second request after the unblock: denial %+v, want the address rate, which an unblock does not reset", d)
	}
}

func TestLimiterUnblockRejectsInvalidPrefix(t *testing.T) {
	l, _ := newTestLimiter(unblockLimits)
	var logs strings.Builder
	l.log = slog.New(slog.NewJSONHandler(&logs, nil))
	failTimes(l, attacker, 4)
	for _, p := range []string{"192.0.2.66", "192.0.2.66/24", "2001:db8::/96"} {
		l.applyUnblock(unblockChange(1, p))
	}
	if d := l.checkAddress(attacker, false); d == nil {
		t.Error("after unblocks with invalid prefixes: allowed, want the block kept")
	}
	if n := strings.Count(logs.String(), "ignoring an address unblock with an invalid prefix"); n != 3 {
		t.Errorf("logged %d invalid unblocks, want 3; log:\n%s", n, logs.String())
	}
}

func TestLimiterUnblockLogs(t *testing.T) {
	l, _ := newTestLimiter(unblockLimits)
	var logs strings.Builder
	l.log = slog.New(slog.NewJSONHandler(&logs, nil))
	lastLine := func() map[string]any {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		var entry map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", lines[len(lines)-1], err)
		}
		return entry
	}

	failTimes(l, attacker, 4)
	failTimes(l, netip.MustParseAddr("192.0.2.67"), 1)
	l.applyUnblock(unblockChange(1, "192.0.2.0/24"))
	entry := lastLine()
	if entry["level"] != "WARN" || entry["msg"] != "address unblocked by an operator" {
		t.Errorf("unblock line = %v, want WARN \"address unblocked by an operator\"", entry)
	}
	if entry["address"] != "192.0.2.0/24" || entry["operator"] != "alice" || entry["blocked"] != 1.0 || entry["cleared"] != 2.0 {
		t.Errorf("unblock line = %v, want address 192.0.2.0/24, operator alice, 1 blocked and 2 cleared", entry)
	}
	listed, _ := entry["addresses"].([]any)
	if len(listed) != 2 || !slices.Contains(listed, any("192.0.2.66/32")) || !slices.Contains(listed, any("192.0.2.67/32")) {
		t.Errorf("unblock line addresses = %v, want 192.0.2.66/32 and 192.0.2.67/32", entry["addresses"])
	}
	if strings.Contains(logs.String(), unblockClientID) {
		t.Errorf("the unblock line names a client ID: %s", logs.String())
	}

	l.applyUnblock(unblockChange(2, "203.0.113.9/32"))
	entry = lastLine()
	if entry["level"] != "INFO" || entry["msg"] != "address unblock matched no blocked or slowed-down address on this server" || entry["address"] != "203.0.113.9/32" {
		t.Errorf("line of an unblock that matched nothing = %v, want INFO naming 203.0.113.9/32", entry)
	}
}

func TestLimiterUnblockLogListsAtMost20(t *testing.T) {
	l, _ := newTestLimiter(unblockLimits)
	var logs strings.Builder
	l.log = slog.New(slog.NewJSONHandler(&logs, nil))
	for i := range 25 {
		failTimes(l, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 4)
	}
	logs.Reset()
	l.applyUnblock(unblockChange(1, "10.0.0.0/8"))
	var entry map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs.String())), &entry); err != nil {
		t.Fatalf("unblock line %q is not one JSON line: %v", logs.String(), err)
	}
	if listed, _ := entry["addresses"].([]any); len(listed) != maxLoggedUnblocks {
		t.Errorf("unblock line lists %d addresses, want %d", len(listed), maxLoggedUnblocks)
	}
	if entry["addresses_not_listed"] != 5.0 || entry["blocked"] != 25.0 {
		t.Errorf("unblock line = %v, want 25 blocked and 5 not listed", entry)
	}
}

// TestServerAppliesUnblockFromChangeFeed blocks an address through the token endpoint,
// records an unblock in the store as the CLI does, and lets the engine read it: the
// server's limiter, which SetOptions registered for the change, lets the address in.
func TestServerAppliesUnblockFromChangeFeed(t *testing.T) {
	f := newFailureAPIWithLimits(t, RateLimits{FailuresBeforeBlock: 3, FailureWindow: time.Hour, BlockDuration: time.Hour})
	ctx := context.Background()
	from := netip.MustParseAddr("192.0.2.66")
	for i := range 3 {
		if rec := f.serve(accessTokenRequest(f.clientID, "iogs_wrong"), from); rec.Code != 401 {
			t.Fatalf("wrong secret %d: status %d, want 401", i+1, rec.Code)
		}
	}
	if rec := f.serve(accessTokenRequest(f.clientID, f.secret), from); rec.Code != 429 {
		t.Fatalf("right secret from the blocked address: status %d, want 429", rec.Code)
	}

	if err := f.srv.store.RecordAddressUnblock(ctx, netip.MustParsePrefix("192.0.2.0/24"), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := f.serve(accessTokenRequest(f.clientID, f.secret), from); rec.Code != 200 {
		t.Errorf("right secret after the unblock: status %d, want 200", rec.Code)
	}
}
