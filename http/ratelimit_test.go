package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// fakeClock is a settable clock for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(cfg RateLimits) (*limiter, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(cfg, slog.New(slog.DiscardHandler), nil)
	l.now = clock.now
	return l, clock
}

var (
	attacker   = netip.MustParseAddr("192.0.2.66")
	legitimate = netip.MustParseAddr("198.51.100.7")
)

func TestLimiterPerAddress(t *testing.T) {
	l, clock := newTestLimiter(RateLimits{TokenPerAddress: 2, TokenPerAddressBurst: 3})
	for i := range 3 {
		if d := l.checkAddress(attacker, true); d != nil {
			t.Fatalf("request %d within the burst refused: %+v", i+1, d)
		}
	}
	d := l.checkAddress(attacker, true)
	if d == nil || d.limit != rateLimitAddress {
		t.Fatalf("request past the burst: denial %+v, want the address limit", d)
	}
	if d.retryAfter <= 0 || d.retryAfter > time.Second {
		t.Errorf("retryAfter = %v, want up to 500ms at 2 requests per second", d.retryAfter)
	}
	if l.checkAddress(legitimate, true) != nil {
		t.Error("another address was refused by the first address's limit")
	}
	clock.advance(d.retryAfter)
	if d := l.checkAddress(attacker, true); d != nil {
		t.Errorf("after waiting Retry-After: refused again: %+v", d)
	}
	if l.checkAddress(attacker, false) != nil {
		t.Error("an unrated request was counted against the address rate")
	}
}

func TestLimiterIPv6CountsPer64(t *testing.T) {
	l, _ := newTestLimiter(RateLimits{TokenPerAddress: 1, TokenPerAddressBurst: 1})
	if l.checkAddress(netip.MustParseAddr("2001:db8:1:2::1"), true) != nil {
		t.Fatal("first request refused")
	}
	if l.checkAddress(netip.MustParseAddr("2001:db8:1:2::ffff"), true) == nil {
		t.Error("another address in the same /64 got its own budget, want it shared")
	}
	if l.checkAddress(netip.MustParseAddr("2001:db8:1:3::1"), true) != nil {
		t.Error("an address in another /64 was refused")
	}
}

func TestLimiterPerClientTreatsUnknownIDsAlike(t *testing.T) {
	cfg := RateLimits{TokenPerClient: 1, TokenPerClientBurst: 2}
	// The limiter never learns which client IDs exist, so the same sequence of requests
	// must get the same results for any ID. This checks that directly.
	for _, id := range []string{"6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", "no-such-client", ""} {
		l, _ := newTestLimiter(cfg)
		var got []bool
		for range 4 {
			got = append(got, l.checkClient(attacker, id) == nil)
		}
		want := []bool{true, true, false, false}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("client %q: request %d allowed = %t, want %t", id, i+1, got[i], want[i])
			}
		}
		if l.checkClient(legitimate, id) != nil {
			t.Errorf("client %q from another address was refused: the pair limit must be per address", id)
		}
	}
}

func TestLimiterFailuresSlowThenBlock(t *testing.T) {
	l, clock := newTestLimiter(RateLimits{FailuresBeforeSlowdown: 3, FailuresBeforeBlock: 6, FailureWindow: time.Hour, BlockDuration: 10 * time.Minute})
	var blocks int
	l.onBlock = func(_ context.Context, addr netip.Prefix, clientIDs []string, failures int, until time.Time) {
		blocks++
		if addr != netip.MustParsePrefix("192.0.2.66/32") || failures != 6 || !until.Equal(clock.t.Add(10*time.Minute)) {
			t.Errorf("onBlock(%s, %d, %v), want 192.0.2.66/32, 6 failures, until now+10m", addr, failures, until)
		}
		if len(clientIDs) != 1 || clientIDs[0] != "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11" {
			t.Errorf("onBlock client IDs = %v, want the one client ID the failures named", clientIDs)
		}
	}
	ctx := context.Background()

	for range 3 {
		l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	}
	if d := l.checkAddress(attacker, false); d != nil {
		t.Fatalf("after 3 failures (the slowdown threshold): refused %+v, want allowed", d)
	}

	wantWaits := []time.Duration{time.Second, 2 * time.Second}
	for i, want := range wantWaits {
		l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
		d := l.checkAddress(attacker, false)
		if d == nil || d.limit != rateLimitSlowdown || d.retryAfter != want {
			t.Fatalf("after failure %d: denial %+v, want a slowdown of %v", 4+i, d, want)
		}
		clock.advance(want)
		if d := l.checkAddress(attacker, false); d != nil {
			t.Fatalf("after waiting %v: refused %+v", want, d)
		}
	}

	l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	d := l.checkAddress(attacker, true)
	if d == nil || d.limit != rateLimitBlocked || d.retryAfter != 10*time.Minute {
		t.Fatalf("after 6 failures: denial %+v, want a 10m block", d)
	}
	if blocks != 1 {
		t.Errorf("onBlock called %d times, want 1", blocks)
	}
	if l.checkAddress(legitimate, true) != nil || l.checkClient(legitimate, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11") != nil {
		t.Error("a client at another address was refused while the attacker is blocked")
	}

	clock.advance(10*time.Minute - time.Second)
	if l.checkAddress(attacker, false) == nil {
		t.Error("block lifted a second early")
	}
	clock.advance(time.Second)
	if d := l.checkAddress(attacker, false); d != nil {
		t.Errorf("block not lifted after its duration: %+v", d)
	}
	l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	if d := l.checkAddress(attacker, false); d != nil {
		t.Errorf("first failure after the block: refused %+v, want a fresh window", d)
	}
}

// TestBlockLogGivesUnblockCommand checks that the log line of a block gives the command
// that lifts it, for IPv4 and for an IPv6 /64. The command must accept its argument and
// lift the blocked address, and the line must name no client ID that the caller sent.
func TestBlockLogGivesUnblockCommand(t *testing.T) {
	cases := []struct {
		name, addr, wantArg string
	}{
		{"IPv4", "192.0.2.66", "192.0.2.66"},
		{"IPv6", "2001:db8:1:2::7", "2001:db8:1:2::/64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, _ := newTestLimiter(RateLimits{FailuresBeforeBlock: 2, FailureWindow: time.Hour, BlockDuration: time.Hour})
			var logs strings.Builder
			l.log = slog.New(slog.NewJSONHandler(&logs, nil))
			for range 2 {
				l.recordFailure(context.Background(), netip.MustParseAddr(c.addr), "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
			}

			var entry struct {
				Msg      string `json:"msg"`
				NextStep string `json:"next_step"`
			}
			if err := json.Unmarshal([]byte(logs.String()), &entry); err != nil {
				t.Fatalf("block line %q is not one JSON object: %v", logs.String(), err)
			}
			if entry.Msg != "address blocked after repeated failed authentication" {
				t.Errorf("msg = %q, want the block message", entry.Msg)
			}
			command, ok := strings.CutPrefix(entry.NextStep, "to lift the block before it ends, run: ")
			if !ok {
				t.Fatalf("next_step = %q, want the unblock command", entry.NextStep)
			}
			arg, ok := strings.CutPrefix(command, "iogate address unblock ")
			if !ok || arg != c.wantArg {
				t.Errorf("command %q, want iogate address unblock %s", command, c.wantArg)
			}
			prefix, err := iogate.ParseBlockedAddress(arg)
			if err != nil {
				t.Fatalf("the unblock command rejects its argument %q: %v", arg, err)
			}
			if want := addressKey(netip.MustParseAddr(c.addr)); prefix != want {
				t.Errorf("the unblock command lifts %s, want the blocked %s", prefix, want)
			}
			if strings.Contains(logs.String(), "6f1c2a7e") {
				t.Errorf("block line %q names a client ID", logs.String())
			}
		})
	}
}

func TestLimiterFailureWindowExpires(t *testing.T) {
	l, clock := newTestLimiter(RateLimits{FailuresBeforeSlowdown: 2, FailuresBeforeBlock: 3, FailureWindow: time.Minute, BlockDuration: time.Hour})
	ctx := context.Background()
	l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	clock.advance(2 * time.Minute)
	l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	if d := l.checkAddress(attacker, false); d != nil {
		t.Errorf("failures from an expired window still counted: %+v", d)
	}
}

// TestLimiterLogsSlowdownOncePerWindow checks that an address entering the slowdown is
// logged once, with its address and failure count, and again only in a later window.
func TestLimiterLogsSlowdownOncePerWindow(t *testing.T) {
	l, clock := newTestLimiter(RateLimits{FailuresBeforeSlowdown: 2, FailuresBeforeBlock: 10, FailureWindow: time.Minute, BlockDuration: time.Hour})
	var logs strings.Builder
	l.log = slog.New(slog.NewJSONHandler(&logs, nil))
	ctx := context.Background()
	lines := func() []string {
		var out []string
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "address slowed down after repeated failed authentication") {
				out = append(out, line)
			}
		}
		return out
	}

	for range 2 {
		l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	}
	if got := lines(); len(got) != 0 {
		t.Fatalf("slowdown lines after 2 failures (the threshold) = %q, want none", got)
	}
	for range 3 {
		l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	}
	got := lines()
	if len(got) != 1 {
		t.Fatalf("slowdown lines after 5 failures = %d, want 1", len(got))
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(got[0]), &entry); err != nil {
		t.Fatalf("slowdown line %q is not JSON: %v", got[0], err)
	}
	if entry["level"] != "WARN" || entry["address"] != "192.0.2.66/32" || entry["failures"] != 3.0 || entry["window_ends"] == nil {
		t.Errorf("slowdown line = %v, want WARN with address 192.0.2.66/32, 3 failures and window_ends", entry)
	}
	if strings.Contains(got[0], "6f1c2a7e") {
		t.Errorf("slowdown line %q names a client ID", got[0])
	}

	clock.advance(2 * time.Minute)
	for range 3 {
		l.recordFailure(ctx, attacker, "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	}
	if got := lines(); len(got) != 2 {
		t.Errorf("slowdown lines after the next window's third failure = %d, want 2", len(got))
	}
}

func TestLimiterForgetsIdleEntries(t *testing.T) {
	l, clock := newTestLimiter(RateLimits{TokenPerAddress: 10, TokenPerAddressBurst: 10, TokenPerClient: 1, TokenPerClientBurst: 1,
		APIPerKey: 1, APIPerKeyBurst: 1, FailuresBeforeBlock: 5, FailureWindow: time.Minute, BlockDuration: time.Hour})
	l.checkAddress(attacker, true)
	l.checkClient(attacker, "a")
	l.checkKey("k")
	for range 5 {
		l.recordFailure(context.Background(), legitimate, "")
	}
	clock.advance(10 * time.Minute)
	l.checkAddress(netip.MustParseAddr("203.0.113.1"), true)
	if _, ok := l.addresses[addressKey(attacker)]; ok {
		t.Error("idle address entry kept after the sweep")
	}
	if _, ok := l.addresses[addressKey(legitimate)]; !ok {
		t.Error("blocked address forgotten while its block lasts")
	}
	if len(l.clients) != 0 || len(l.keys) != 0 {
		t.Errorf("idle client and key entries kept: %d and %d", len(l.clients), len(l.keys))
	}
}

func TestLimiterPerKey(t *testing.T) {
	l, clock := newTestLimiter(RateLimits{APIPerKey: 1, APIPerKeyBurst: 2})
	l.checkKey("a")
	l.checkKey("a")
	d := l.checkKey("a")
	if d == nil || d.limit != rateLimitKey {
		t.Fatalf("third request in a burst of 2: denial %+v, want the key limit", d)
	}
	if l.checkKey("b") != nil {
		t.Error("another key was refused")
	}
	clock.advance(time.Second)
	if l.checkKey("a") != nil {
		t.Error("refused after the bucket refilled")
	}
}

func TestRateLimitsValidate(t *testing.T) {
	if err := DefaultRateLimits().Validate(); err != nil {
		t.Errorf("DefaultRateLimits().Validate() = %v", err)
	}
	if err := (RateLimits{}).Validate(); err != nil {
		t.Errorf("zero RateLimits (all off).Validate() = %v", err)
	}
	bad := []RateLimits{
		{TokenPerAddress: -1},
		{TokenPerAddress: 1, TokenPerAddressBurst: 0},
		{FailuresBeforeBlock: 3},
		{FailuresBeforeBlock: -1},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v.Validate() = nil, want an error", c)
		}
	}
}

func TestLimiterUsesClientID(t *testing.T) {
	cases := []struct {
		name string
		cfg  RateLimits
		want bool
	}{
		{"defaults", DefaultRateLimits(), true},
		{"all off", RateLimits{}, false},
		{"per-client limit only", RateLimits{TokenPerClient: 1, TokenPerClientBurst: 1}, true},
		{"blocking only", RateLimits{FailuresBeforeBlock: 5, FailureWindow: time.Minute, BlockDuration: time.Minute}, true},
		{"per-address and per-key limits only", RateLimits{TokenPerAddress: 1, TokenPerAddressBurst: 1, APIPerKey: 1, APIPerKeyBurst: 1}, false},
	}
	for _, c := range cases {
		l, _ := newTestLimiter(c.cfg)
		if got := l.usesClientID(); got != c.want {
			t.Errorf("%s: usesClientID() = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRequestClientID checks that the limiter finds the client ID of every form of token
// request, and that the handler still reads the whole body afterwards.
func TestRequestClientID(t *testing.T) {
	const id = "56ecf0b1-3f9a-484b-b1a3-4c6caaa56bfe"
	for _, c := range []struct {
		name, contentType, body, want string
	}{
		{"plain JSON", "application/json", `{"clientId":"` + id + `","clientSecret":"s"}`, id},
		{"JSON with spaces", "application/json", ` { "clientSecret" : "s" , "clientId" : "` + id + `" } `, id},
		{"JSON with an escape", "application/json", `{"clientId":"\u0035` + id[1:] + `","clientSecret":"s"}`, id},
		{"JSON with another member", "application/json", `{"clientId":"` + id + `","clientSecret":"s","extra":1}`, id},
		{"JSON with a charset", "application/json; charset=utf-8", `{"clientId":"` + id + `"}`, id},
		{"JSON without the ID", "application/json", `{"clientSecret":"s"}`, ""},
		{"malformed JSON", "application/json", `{"clientId":`, ""},
		{"form", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=" + id, id},
		{"other type", "text/plain", id, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/auth/accessToken", strings.NewReader(c.body))
			r.Header.Set("Content-Type", c.contentType)
			if got := requestClientID(r); got != c.want {
				t.Errorf("requestClientID = %q, want %q", got, c.want)
			}
			rest, err := io.ReadAll(r.Body)
			if err != nil || string(rest) != c.body {
				t.Errorf("body after requestClientID = %q, %v; want the whole body", rest, err)
			}
		})
	}

	r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials&client_id=other"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(id, "s")
	if got := requestClientID(r); got != id {
		t.Errorf("requestClientID with Basic authentication = %q, want %q", got, id)
	}

	r = httptest.NewRequest("POST", "/v1/auth/accessToken", strings.NewReader(`{"clientId":"`+id+`","clientSecret":"s"}`))
	r.Header.Set("Content-Type", "application/json")
	r.SetBasicAuth("other", "s")
	if got := requestClientID(r); got != id {
		t.Errorf("requestClientID at /v1/auth/accessToken with a Basic header = %q, want %q from the body, which the endpoint reads", got, id)
	}
}

// TestPerClientLimitIgnoresBasicOnAccessToken checks that a Basic header, which
// /v1/auth/accessToken ignores, cannot give each request its own per-client budget.
func TestPerClientLimitIgnoresBasicOnAccessToken(t *testing.T) {
	api := newTestAPI(t, Options{RateLimitsEnabled: true, RateLimits: RateLimits{TokenPerClient: 1, TokenPerClientBurst: 2}})
	h := api.srv.Handler()
	body := `{"clientId":"` + api.clientID + `","clientSecret":"` + api.secret + `"}`
	var statuses []int
	for i := range 3 {
		r := httptest.NewRequest("POST", "/v1/auth/accessToken", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.SetBasicAuth(fmt.Sprintf("decoy-%d", i), "x")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		statuses = append(statuses, w.Code)
	}
	want := []int{200, 200, 429}
	for i := range want {
		if statuses[i] != want[i] {
			t.Errorf("request %d with a new Basic header: status %d, want %d (statuses %v)", i+1, statuses[i], want[i], statuses)
		}
	}
}
