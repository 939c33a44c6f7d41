package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
)

// testChain hashes this package's audit records under a fixed key.
var testChain = func() *iogate.AuditChain {
	c, err := iogate.NewAuditChain(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		panic(err)
	}
	return c
}()

// auditRecord returns a new audit record of event for accountID by an operator.
func auditRecord(t *testing.T, accountID, event, clientID string) *iogate.AuditRecord {
	t.Helper()
	r, err := testChain.NewRecord(accountID, event, iogate.Actor{Type: iogate.ActorOperator, ID: "postgres-test"}, time.Now().UTC(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.ClientID = clientID
	return r
}

// TestRevocationsDuringKeyDeletions revokes tokens of keys of several accounts while other
// keys of those accounts are deleted and the sweep deletes revocations of expired tokens,
// with thousands of those stored. A key's deletion cascades to its revocations in the order
// of the index on (client_id, expires_at), and a sequential scan meets the same rows in the
// order they were stored, which the seeding makes the reverse. A statement that deletes
// expired revocations and waits for locked rows would then lock them in the opposite order
// to a deletion, and PostgreSQL would abort one of the two with a deadlock. A delete of
// expired revocations inside RevokeToken's transaction deadlocked in most rounds of this
// test. Every call must succeed, and every revocation must be stored.
func TestRevocationsDuringKeyDeletions(t *testing.T) {
	url := pgtest.NewDatabase(t)
	// More connections than the default of four, so that more transactions overlap.
	db := open(t, url+"&pool_max_conns=12")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const (
		rounds                = 20
		accounts              = 4
		doomedPerAccount      = 3
		revocationsPerAccount = 4
		expiredRows           = 8000
	)
	var owners []string
	for range accounts {
		a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
		if err := db.CreateAccount(ctx, a, auditRecord(t, a.ID, iogate.AuditAccountCreated, "")); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		owners = append(owners, a.ID)
	}

	var mu sync.Mutex
	var failures []string
	for round := range rounds {
		surviving := createKeys(t, db, owners, 1)
		doomed := createKeys(t, db, owners, doomedPerAccount)
		seedExpiredRevocations(t, url, round, surviving, doomed, expiredRows)

		fail := func(err error, format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, fmt.Sprintf("round %d: %s: %v", round+1, fmt.Sprintf(format, args...), err))
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, k := range surviving {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for j := range revocationsPerAccount {
					tok := liveRevocation(k.ClientID, fmt.Sprintf("jti-%d-%d-%d", round, i, j))
					if err := db.RevokeToken(ctx, tok, revocationRecord(t, k, tok)); err != nil {
						fail(err, "RevokeToken %d of account %d", j+1, i+1)
					}
				}
			}()
		}
		for i, k := range doomed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := db.DeleteAPIKey(ctx, k.ClientID, auditRecord(t, k.AccountID, iogate.AuditKeyDeleted, k.ClientID)); err != nil {
					fail(err, "DeleteAPIKey of key %d", i+1)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Batches of 500, as the sweep deletes, until none is left.
			for range expiredRows/500 + 1 {
				n, err := db.DeleteExpiredRevocations(ctx, time.Now(), 500)
				if err != nil {
					fail(err, "DeleteExpiredRevocations")
				}
				if n == 0 {
					return
				}
			}
		}()
		close(start)
		wg.Wait()

		for i, k := range surviving {
			got, err := db.ListRevokedTokens(ctx, k.ClientID, time.Now())
			if err != nil {
				t.Fatalf("ListRevokedTokens: %v", err)
			}
			if len(got) != revocationsPerAccount {
				t.Errorf("round %d: surviving key of account %d has %d live revocations, want %d", round+1, i+1, len(got), revocationsPerAccount)
			}
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d calls failed:\n%s", len(failures), strings.Join(failures, "\n"))
	}
}

// liveRevocation returns a revocation of a token of clientID that expires in an hour.
func liveRevocation(clientID, tokenID string) *iogate.RevokedToken {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &iogate.RevokedToken{TokenID: tokenID, ClientID: clientID, ExpiresAt: now.Add(time.Hour), RevokedAt: now}
}

// revocationRecord returns the token.revoked record of tok, a token of k.
func revocationRecord(t *testing.T, k *iogate.APIKey, tok *iogate.RevokedToken) *iogate.AuditRecord {
	t.Helper()
	rec := auditRecord(t, k.AccountID, iogate.AuditTokenRevoked, k.ClientID)
	rec.TokenID = tok.TokenID
	return rec
}

// createKeys creates perAccount keys in each account.
func createKeys(t *testing.T, db *postgres.DB, accountIDs []string, perAccount int) []*iogate.APIKey {
	t.Helper()
	var keys []*iogate.APIKey
	for _, id := range accountIDs {
		for range perAccount {
			now := time.Now().UTC().Truncate(time.Microsecond)
			k := &iogate.APIKey{ClientID: iogate.NewClientID(), AccountID: id, Name: "ci", Scopes: []string{iogate.ScopeVaultsRead},
				CreatedAt: now, UpdatedAt: now, SecretGeneration: 1, SecretCreatedAt: now}
			if err := db.CreateAPIKey(context.Background(), k, auditRecord(t, id, iogate.AuditKeyCreated, k.ClientID)); err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
			keys = append(keys, k)
		}
	}
	return keys
}

// seedExpiredRevocations stores n revocations of expired tokens, one in 40 of a doomed key
// and the others of surviving keys. Each row expires a second before the row stored before
// it, so the rows of one key are stored in the reverse of their expiry order. ANALYZE then
// gives the planner the table's size, as on a database that has run for a while.
func seedExpiredRevocations(t *testing.T, url string, round int, surviving, doomed []*iogate.APIKey, n int) {
	t.Helper()
	ids := func(keys []*iogate.APIKey) []string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = k.ClientID
		}
		return out
	}
	pgtest.Exec(t, url, `INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at)
		SELECT 'expired-' || $1::int || '-' || i,
			CASE WHEN i % 40 = 0 THEN ($2::text[])[(i / 40) % cardinality($2::text[]) + 1]
				ELSE ($3::text[])[i % cardinality($3::text[]) + 1] END,
			now() - i * interval '1 second', now() - interval '1 day'
		FROM generate_series(1, $4::int) AS i ORDER BY i`, round, ids(doomed), ids(surviving), n)
	pgtest.Exec(t, url, `ANALYZE revoked_tokens`)
}
