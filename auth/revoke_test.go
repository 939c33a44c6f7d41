package auth

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// TestRevokeTokenRecordsFirstRevocation checks that only a token's first revocation writes
// a token.revoked record, with the client as actor, and that repeated, foreign, expired
// and malformed revocations write none.
func TestRevokeTokenRecordsFirstRevocation(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	k, secret := e.createKey(t)
	other, otherSecret := e.createKey(t)
	from := netip.MustParseAddr("192.0.2.9")

	tok := e.issue(t, k.ClientID, secret)
	claims, ok := e.svc.IntrospectToken(ctx, k.ClientID, tok)
	if !ok {
		t.Fatal("IntrospectToken of a fresh token = inactive, want active")
	}
	if err := e.svc.RevokeToken(ctx, k.ClientID, tok, from); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if err := e.svc.RevokeToken(ctx, k.ClientID, tok, from); err != nil {
		t.Fatalf("RevokeToken(again): %v", err)
	}
	if err := e.svc.RevokeToken(ctx, k.ClientID, "not-a-token", from); err != nil {
		t.Fatalf("RevokeToken(not a token): %v", err)
	}
	othersToken := e.issue(t, other.ClientID, otherSecret)
	if err := e.svc.RevokeToken(ctx, k.ClientID, othersToken, from); err != ErrNotOwnToken {
		t.Fatalf("RevokeToken(another client's token) = %v, want ErrNotOwnToken", err)
	}
	expiring := e.issue(t, k.ClientID, secret)
	e.clock.advance(2 * time.Hour)
	if err := e.svc.RevokeToken(ctx, k.ClientID, expiring, from); err != nil {
		t.Fatalf("RevokeToken(expired token): %v", err)
	}

	records, _, err := e.store.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: e.accountID, Event: iogate.AuditTokenRevoked}, iogate.Page{})
	if err != nil {
		t.Fatalf("ListAuditRecords: %v", err)
	}
	if len(records) != 1 {
		t.Fatalf("token.revoked records = %d, want 1", len(records))
	}
	got := records[0]
	want := iogate.Actor{Type: iogate.ActorClient, ID: k.ClientID, IP: from.String()}
	if got.Actor != want {
		t.Errorf("token.revoked actor = %+v, want %+v", got.Actor, want)
	}
	if got.AccountID != e.accountID || got.ClientID != k.ClientID || got.TokenID != claims.ID {
		t.Errorf("token.revoked record of account %q, client %q, token %q; want %q, %q, %q",
			got.AccountID, got.ClientID, got.TokenID, e.accountID, k.ClientID, claims.ID)
	}
	var details struct{ ExpiresAt time.Time }
	if err := json.Unmarshal(got.Details, &details); err != nil {
		t.Fatalf("token.revoked details %s: %v", got.Details, err)
	}
	if details.ExpiresAt.Unix() != claims.Expiry {
		t.Errorf("token.revoked details name expiry %v, want the token's %v", details.ExpiresAt, time.Unix(claims.Expiry, 0).UTC())
	}
	encoded, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(encoded), tok) || strings.Contains(string(encoded), secret) {
		t.Error("the token.revoked record holds the token or the client secret")
	}
	if _, err := e.svc.VerifyAudit(ctx, e.accountID); err != nil {
		t.Errorf("VerifyAudit: %v", err)
	}
}

// An expired token no longer works for anyone, so revoking it succeeds whoever asks (RFC
// 7009 section 2.2). Only a token that is still valid may be refused as another client's.
func TestRevokeExpiredTokenOfOtherClient(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	k, _ := e.createKey(t)
	other, otherSecret := e.createKey(t)
	from := netip.MustParseAddr("192.0.2.9")

	othersToken := e.issue(t, other.ClientID, otherSecret)
	e.clock.advance(2 * time.Hour)
	if err := e.svc.RevokeToken(ctx, k.ClientID, othersToken, from); err != nil {
		t.Errorf("RevokeToken(another client's expired token) = %v, want nil", err)
	}
}
