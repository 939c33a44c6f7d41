package http

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
)

// closeAfterRevoke is a real SQLite store that closes itself right after a token
// revocation commits, so that the engine's Sync right after it fails as it fails when the
// database goes away.
type closeAfterRevoke struct {
	*sqlite.DB
	closeErr error
}

func (s *closeAfterRevoke) RevokeToken(ctx context.Context, t *iogate.RevokedToken, rec *iogate.AuditRecord) error {
	if err := s.DB.RevokeToken(ctx, t, rec); err != nil {
		return err
	}
	s.closeErr = s.DB.Close()
	return nil
}

// TestRevokeSucceedsWhenSyncFails checks that POST /oauth2/revoke returns 200 once the
// revocation is stored, even though the engine cannot read it back into its view. This
// server rejects the token at once and logs the failure at error level with the IDs and
// without the token.
func TestRevokeSucceedsWhenSyncFails(t *testing.T) {
	ctx := context.Background()
	var store *closeAfterRevoke
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	api := newTestAPIOnStore(t, Options{}, log, auth.Config{Logger: log}, func(db *sqlite.DB) iogate.Store {
		store = &closeAfterRevoke{DB: db}
		return store
	})
	k, err := store.FindAPIKey(ctx, api.clientID)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := api.engine.IssueToken(ctx, auth.TokenRequest{ClientID: api.clientID, ClientSecret: api.secret})
	if err != nil {
		t.Fatal(err)
	}
	claims, ok := api.engine.IntrospectToken(ctx, api.clientID, issued.AccessToken)
	if !ok {
		t.Fatal("IntrospectToken of a fresh token = inactive, want active")
	}
	handler := api.srv.Handler()

	form := url.Values{"token": {issued.AccessToken}}
	r := httptest.NewRequest("POST", "/oauth2/revoke", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(api.clientID, api.secret)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Fatalf("POST /oauth2/revoke with Sync failing after the commit: status %d with %d body bytes, want 200 and no body", rec.Code, rec.Body.Len())
	}
	if store.closeErr != nil {
		t.Fatalf("closing the store after the revocation: %v", store.closeErr)
	}

	// This server refuses the token without reading the closed store.
	r = httptest.NewRequest("GET", "/v1/vaults", nil)
	r.Header.Set("Authorization", "Bearer "+issued.AccessToken)
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /v1/vaults with the revoked token: status %d, want 401", rec.Code)
	}

	var failure string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, "revocation") {
			failure = line
		}
	}
	if failure == "" {
		t.Fatal("no error-level log line about the revocation")
	}
	for _, want := range []string{`"client_id":"` + api.clientID + `"`, `"account_id":"` + k.AccountID + `"`, `"token_id":"` + claims.ID + `"`} {
		if !strings.Contains(failure, want) {
			t.Errorf("revocation error line lacks %s", want)
		}
	}
	if strings.Contains(logs.String(), issued.AccessToken) {
		t.Error("the log holds the revoked token")
	}

	// The revocation is stored: a new connection to the file reads it.
	reopened, err := sqlite.Open(ctx, store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	revoked, err := reopened.ListRevokedTokens(ctx, api.clientID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 1 || revoked[0].TokenID != claims.ID {
		t.Errorf("stored revocations of the key = %d, want the one of token %s", len(revoked), claims.ID)
	}
}
