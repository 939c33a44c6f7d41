package user

// Tests for weaknesses an adversarial review found in sign-in, setup and reset links.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// An attacker at another address must not be able to stop the owner from signing in with
// the right password by sending wrong passwords for the owner's email.
func TestSignInNotLockedFromElsewhere(t *testing.T) {
	f := newFixture(t)
	for i := range 2 * accountBurst {
		f.svc.SignIn(f.ctx, "owner@acme.test", fmt.Sprintf("wrong password %d", i), "203.0.113.9")
	}
	if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "198.51.100.1"); err != nil {
		t.Errorf("owner's correct password from 198.51.100.1 after an attacker's failures from 203.0.113.9: %v, want success", err)
	}
}

// The per-address sign-in limit must count an IPv6 client per /64 network, as the API's
// rate limits do; otherwise one host rotates addresses inside its /64 and is never limited.
func TestSignInLimitPerIPv6Network(t *testing.T) {
	f := newFixture(t)
	limited := false
	for i := range addressBurst + 5 {
		addr := fmt.Sprintf("2001:db8:1:2::%x", i+1)
		_, err := f.svc.SignIn(f.ctx, fmt.Sprintf("user%d@spray.test", i), "some password 123", addr)
		if errors.Is(err, ErrRateLimited) {
			limited = true
			break
		}
	}
	if !limited {
		t.Errorf("%d sign-ins from one /64 (2001:db8:1:2::/64) were never rate limited; the address burst is %d", addressBurst+5, addressBurst)
	}
}

// A setup request with a link token that does not exist must fail before the password is
// hashed: argon2id costs 19 MiB and tens of milliseconds, and the setup page has no rate limit.
func TestSetupChecksLinkBeforeHash(t *testing.T) {
	f := newFixture(t)
	unknown := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	start := time.Now()
	_, err := f.svc.CompleteSetup(f.ctx, unknown, SetupRequest{AccountName: "X", Email: "x@x.test", Password: "a long enough password"})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("CompleteSetup with an unknown token succeeded")
	}
	if elapsed > 10*time.Millisecond {
		t.Errorf("CompleteSetup with an unknown token took %s; want it rejected before the argon2id hash (well under 10ms)", elapsed)
	}
}

// Using one reset link must make the user's other unused reset links invalid: after the
// password is reset, an older link (for example from a mailbox or a chat log) must not reset it again.
func TestResetLinkEndsOtherLinks(t *testing.T) {
	f := newFixture(t)
	first, _, err := f.svc.CreateResetLink(f.ctx, "owner@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := f.svc.CreateResetLink(f.ctx, "owner@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ResetPassword(f.ctx, second, "the owner's new password", "192.0.2.1"); err != nil {
		t.Fatalf("ResetPassword with the newer link: %v", err)
	}
	if _, err := f.svc.ResetPassword(f.ctx, first, "the attacker's password!", "192.0.2.1"); err == nil {
		t.Error("the older reset link still reset the password after the newer one was used")
	}
}

// TestSignInLimitsSurviveFlood floods sign-in from one address with made-up emails after
// the owner's email has used up its limit across addresses. The flooding address is
// itself rate limited, so its attempts must not fill the limiter tables until they are
// cleared, which would give the owner's email a fresh limit for more guesses.
func TestSignInLimitsSurviveFlood(t *testing.T) {
	f := newFixture(t)
	for i := range accountGlobalBurst + 10 {
		f.svc.SignIn(f.ctx, "owner@acme.test", "a wrong password", fmt.Sprintf("203.0.113.%d", i+1))
	}
	if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "198.51.100.1"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("sign-in after %d guesses from as many addresses: %v, want %v", accountGlobalBurst+10, err, ErrRateLimited)
	}

	for i := range maxLimiters + 1 {
		f.svc.SignIn(f.ctx, fmt.Sprintf("spray%d@example.test", i), "a wrong password", "192.0.2.50")
	}

	if _, err := f.svc.SignIn(f.ctx, "owner@acme.test", ownerPassword, "198.51.100.2"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("sign-in of the limited email after a flood of %d made-up emails from 192.0.2.50: %v, want %v", maxLimiters+1, err, ErrRateLimited)
	}
}

// TestLimiterMapFullKeepsLimits fills a limiter map with buckets in use, one of them used
// up as an attacked account's is. A new key then makes room by dropping the fullest half
// of the buckets, so it gets a bucket of its own, and the used-up bucket stays refused.
func TestLimiterMapFullKeepsLimits(t *testing.T) {
	m := &limiterMap{every: rate.Every(time.Second), burst: 5, entries: map[string]*limiterEntry{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 5 {
		m.allow("target", now)
	}
	for i := range maxLimiters - 1 {
		m.allow(fmt.Sprintf("key%d", i), now)
	}
	if m.allow("target", now) {
		t.Error("target allowed a sixth attempt at once, want its bucket used up")
	}

	if !m.allow("new", now) {
		t.Error("new key refused while the map was full, want room made for it")
	}
	if m.allow("target", now) {
		t.Error("target allowed an attempt after the eviction, want its used-up bucket kept")
	}
	if n := len(m.entries); n != maxLimiters/2+1 {
		t.Errorf("map holds %d entries after the eviction, want %d", n, maxLimiters/2+1)
	}
}
