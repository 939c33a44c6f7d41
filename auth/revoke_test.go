package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
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

// TestRevokeExpiredTokenOfOtherClient checks that revoking an expired token succeeds for any
// client, because the token no longer works (RFC 7009 section 2.2). Only a token that is
// still valid is rejected as another client's.
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

// closingStore is a real SQLite store that closes itself right after a token revocation
// or an account status change commits, as closeAfter names. The Sync that follows then
// fails as it fails when the database goes away between two statements.
type closingStore struct {
	*sqlite.DB
	closeAfter string
	closeErr   error
}

func (s *closingStore) RevokeToken(ctx context.Context, t *iogate.RevokedToken, rec *iogate.AuditRecord) error {
	if err := s.DB.RevokeToken(ctx, t, rec); err != nil {
		return err
	}
	if s.closeAfter == "RevokeToken" {
		s.closeErr = s.DB.Close()
	}
	return nil
}

func (s *closingStore) SetAccountStatus(ctx context.Context, accountID, status string, rec *iogate.AuditRecord) error {
	if err := s.DB.SetAccountStatus(ctx, accountID, status, rec); err != nil {
		return err
	}
	if s.closeAfter == "SetAccountStatus" {
		s.closeErr = s.DB.Close()
	}
	return nil
}

// newClosingEngine starts an engine on a closingStore that closes after the operation
// closeAfter, with one account and one key. It returns the engine, the store, the key
// with its secret, and the buffer that receives the engine's JSON log.
func newClosingEngine(t *testing.T, closeAfter string) (*testEngine, *closingStore, *iogate.APIKey, string, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	var store *closingStore
	e, k, secret := startWrappedEngine(t, slog.New(slog.NewJSONHandler(&logs, nil)), func(db *sqlite.DB) iogate.Store {
		store = &closingStore{DB: db, closeAfter: closeAfter}
		return store
	})
	return e, store, k, secret, &logs
}

// TestRevokeTokenSyncFailure checks that a committed revocation succeeds even when reading
// it back into the view fails. This process rejects the token at once, logs the failure at
// error level with the IDs and without the token, and owes a reload.
func TestRevokeTokenSyncFailure(t *testing.T) {
	ctx := context.Background()
	e, store, k, secret, logs := newClosingEngine(t, "RevokeToken")
	svc, path, account := e.svc, e.path, &iogate.Account{ID: e.accountID}
	tok := e.issue(t, k.ClientID, secret)
	claims, ok := svc.IntrospectToken(ctx, k.ClientID, tok)
	if !ok {
		t.Fatal("IntrospectToken of a fresh token = inactive, want active")
	}

	if err := svc.RevokeToken(ctx, k.ClientID, tok, netip.MustParseAddr("192.0.2.9")); err != nil {
		t.Fatalf("RevokeToken with Sync failing after the commit = %v, want nil", err)
	}
	if store.closeErr != nil {
		t.Fatalf("closing the store after the revocation: %v", store.closeErr)
	}
	if _, err := svc.Authenticate(ctx, tok, netip.MustParseAddr("192.0.2.9")); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("Authenticate of the revoked token = %v, want ErrInvalidToken", err)
	}
	if !svc.health.owed() {
		t.Error("no key reload owed after the failed Sync")
	}

	line := logs.String()
	for _, want := range []string{`"level":"ERROR"`, `"client_id":"` + k.ClientID + `"`, `"account_id":"` + account.ID + `"`, `"token_id":"` + claims.ID + `"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(line, tok) {
		t.Error("log holds the revoked token")
	}

	// The revocation is stored: a new connection to the file reads it.
	reopened, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	revoked, err := reopened.ListRevokedTokens(ctx, k.ClientID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 1 || revoked[0].TokenID != claims.ID {
		t.Errorf("stored revocations of the key = %d, want the one of token %s", len(revoked), claims.ID)
	}
}
