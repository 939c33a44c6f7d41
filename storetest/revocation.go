package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// revocationCases check that a token's first revocation appends its token.revoked record
// in the same transaction, and that no other call to RevokeToken appends one.
var revocationCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"TokenRevokedRecord", testTokenRevokedRecord},
	{"TokenRevokedRecordMismatch", testTokenRevokedRecordMismatch},
	{"TokenRevokedOfMissingKey", testTokenRevokedOfMissingKey},
	{"TokenRevokedConcurrently", testTokenRevokedConcurrently},
	{"RevokeKeepsExpiredRevocations", testRevokeKeepsExpiredRevocations},
	{"DeleteExpiredRevocations", testDeleteExpiredRevocations},
	{"RevocationsDuringKeyDeletions", testRevocationsDuringKeyDeletions},
}

// revocationActor is the client that revokes its token in the suite's records.
func revocationActor(clientID string) iogate.Actor {
	return iogate.Actor{Type: iogate.ActorClient, ID: clientID, IP: "192.0.2.7"}
}

// revokedRec returns a token.revoked record of tok for accountID's log, by tok's client.
func revokedRec(t *testing.T, accountID string, tok *iogate.RevokedToken) *iogate.AuditRecord {
	t.Helper()
	r, err := chain.NewRecord(accountID, iogate.AuditTokenRevoked, revocationActor(tok.ClientID), tok.RevokedAt,
		map[string]any{"expiresAt": tok.ExpiresAt})
	if err != nil {
		t.Fatal(err)
	}
	r.ClientID, r.TokenID = tok.ClientID, tok.TokenID
	return r
}

// liveToken returns a revocation of a token of clientID that expires in an hour.
func liveToken(clientID, tokenID string) *iogate.RevokedToken {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &iogate.RevokedToken{TokenID: tokenID, ClientID: clientID, ExpiresAt: now.Add(time.Hour), RevokedAt: now}
}

// storedKey creates a key of accountID with its key.created record.
func storedKey(t *testing.T, s iogate.Store, accountID string) *iogate.APIKey {
	t.Helper()
	k := newKey(accountID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctxFor(t), k, created(t, k)))
	return k
}

// revokedTokenIDs returns the IDs of clientID's revoked tokens that have not expired.
func revokedTokenIDs(t *testing.T, s iogate.Store, clientID string) []string {
	t.Helper()
	got, err := s.ListRevokedTokens(ctxFor(t), clientID, time.Now())
	must(t, "ListRevokedTokens", err)
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.TokenID
	}
	return ids
}

// eventRecords returns the records of event in accountID's log.
func eventRecords(t *testing.T, s iogate.Store, accountID, event string) []*iogate.AuditRecord {
	t.Helper()
	var out []*iogate.AuditRecord
	for _, r := range allAuditRecords(t, s, accountID) {
		if r.Event == event {
			out = append(out, r)
		}
	}
	return out
}

// testTokenRevokedRecord revokes one token twice: the first revocation appends its record
// to the chain, right after the key's key.created record, and the second appends nothing.
func testTokenRevokedRecord(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := storedKey(t, s, a.ID)

	tok := liveToken(k.ClientID, "jti-revoked")
	rec := revokedRec(t, a.ID, tok)
	must(t, "RevokeToken", s.RevokeToken(ctx, tok, rec))

	records := allAuditRecords(t, s, a.ID)
	if len(records) != 3 {
		t.Fatalf("account's audit log has %d records, want account.created, key.created and token.revoked", len(records))
	}
	if diff := recordDiff([]*iogate.AuditRecord{rec}, records[2:]); diff != "" {
		t.Errorf("token.revoked record (-appended +stored):\n%s", diff)
	}
	got := records[2]
	if got.Seq != 3 {
		t.Errorf("token.revoked record has seq %d, want 3", got.Seq)
	}
	if got.PrevHash != records[1].Hash {
		t.Errorf("token.revoked record links to %s, want the key.created record's hash %s", got.PrevHash, records[1].Hash)
	}
	if got.Event != iogate.AuditTokenRevoked {
		t.Errorf("record event = %s, want %s", got.Event, iogate.AuditTokenRevoked)
	}
	if got.Actor != revocationActor(k.ClientID) {
		t.Errorf("token.revoked actor = %+v, want %+v", got.Actor, revocationActor(k.ClientID))
	}
	if got.ClientID != k.ClientID || got.TokenID != tok.TokenID {
		t.Errorf("token.revoked record names client %q and token %q, want %q and %q", got.ClientID, got.TokenID, k.ClientID, tok.TokenID)
	}
	verifyChain(t, records)

	// The client revokes the same token again, with a record of its own.
	must(t, "RevokeToken(again)", s.RevokeToken(ctx, tok, revokedRec(t, a.ID, tok)))
	again := allAuditRecords(t, s, a.ID)
	if diff := recordDiff(records, again); diff != "" {
		t.Errorf("a repeated revocation changed the audit log (-before +after):\n%s", diff)
	}

	// A second token of the key is a new revocation with its own record, linked to the
	// first token's.
	second := liveToken(k.ClientID, "jti-second")
	must(t, "RevokeToken(second token)", s.RevokeToken(ctx, second, revokedRec(t, a.ID, second)))
	revoked := eventRecords(t, s, a.ID, iogate.AuditTokenRevoked)
	if len(revoked) != 2 {
		t.Fatalf("account's audit log has %d token.revoked records after a second token, want 2", len(revoked))
	}
	if revoked[1].TokenID != second.TokenID {
		t.Errorf("last token.revoked record names token %q, want %q", revoked[1].TokenID, second.TokenID)
	}
	if revoked[1].PrevHash != revoked[0].Hash {
		t.Errorf("second token.revoked record links to %s, want the first one's hash %s", revoked[1].PrevHash, revoked[0].Hash)
	}
	verifyChain(t, allAuditRecords(t, s, ""))
}

// testTokenRevokedRecordMismatch gives RevokeToken records that are not the token's:
// each call fails with CodeInternal and writes neither the revocation nor the record.
func testTokenRevokedRecordMismatch(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := storedKey(t, s, a.ID)
	tok := liveToken(k.ClientID, "jti-mismatch")
	before := allAuditRecords(t, s, a.ID)

	otherToken := revokedRec(t, a.ID, tok)
	otherToken.TokenID = "jti-other"
	otherClient := revokedRec(t, a.ID, tok)
	otherClient.ClientID = iogate.NewClientID()
	cases := []struct {
		name string
		rec  *iogate.AuditRecord
	}{
		{"no record", nil},
		{"record of another event", record(t, a.ID, iogate.AuditKeyUpdated, k.ClientID)},
		{"record of another token", otherToken},
		{"record of another client", otherClient},
	}
	for _, c := range cases {
		wantCode(t, "RevokeToken("+c.name+")", s.RevokeToken(ctx, tok, c.rec), iogate.CodeInternal)
	}
	if ids := revokedTokenIDs(t, s, k.ClientID); len(ids) != 0 {
		t.Errorf("revoked tokens after rejected revocations = %v, want none", ids)
	}
	if diff := recordDiff(before, allAuditRecords(t, s, a.ID)); diff != "" {
		t.Errorf("rejected revocations changed the audit log (-before +after):\n%s", diff)
	}
}

// testTokenRevokedOfMissingKey revokes tokens of a key that never existed, of a deleted
// key, and of a key of another account than the record's: each is CodeNotFound, and no
// log gains a record.
func testTokenRevokedOfMissingKey(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	k, doomed := newKey(a.ID, base), newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	must(t, "CreateAPIKey(doomed)", s.CreateAPIKey(ctx, doomed, created(t, doomed)))
	must(t, "DeleteAPIKey(doomed)", s.DeleteAPIKey(ctx, doomed.ClientID, deleted(t, doomed)))
	start, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	before := allAuditRecords(t, s, "")

	unknown := liveToken(iogate.NewClientID(), "jti-unknown")
	wantCode(t, "RevokeToken(unknown key)", s.RevokeToken(ctx, unknown, revokedRec(t, a.ID, unknown)), iogate.CodeNotFound)
	ofDeleted := liveToken(doomed.ClientID, "jti-deleted")
	wantCode(t, "RevokeToken(deleted key)", s.RevokeToken(ctx, ofDeleted, revokedRec(t, a.ID, ofDeleted)), iogate.CodeNotFound)
	ofOther := liveToken(k.ClientID, "jti-other-account")
	wantCode(t, "RevokeToken(record of another account)", s.RevokeToken(ctx, ofOther, revokedRec(t, other.ID, ofOther)), iogate.CodeNotFound)
	missingAccount := liveToken(k.ClientID, "jti-missing-account")
	wantCode(t, "RevokeToken(record of a missing account)",
		s.RevokeToken(ctx, missingAccount, revokedRec(t, iogate.NewID(), missingAccount)), iogate.CodeNotFound)

	if diff := recordDiff(before, allAuditRecords(t, s, "")); diff != "" {
		t.Errorf("failed revocations changed the audit logs (-before +after):\n%s", diff)
	}
	if ids := revokedTokenIDs(t, s, k.ClientID); len(ids) != 0 {
		t.Errorf("revoked tokens of %s after failed revocations = %v, want none", k.ClientID, ids)
	}
	changes, err := s.KeyChangesSince(ctx, start)
	must(t, "KeyChangesSince", err)
	if len(changes) != 0 {
		t.Errorf("failed revocations announced key changes %+v, want none", changes)
	}
}

// testTokenRevokedConcurrently revokes one token from several goroutines at once, as
// several nodes may: every call succeeds and the log gains exactly one record.
func testTokenRevokedConcurrently(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := storedKey(t, s, a.ID)
	tok := liveToken(k.ClientID, "jti-raced")

	const callers = 8
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		rec := revokedRec(t, a.ID, tok)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.RevokeToken(ctx, tok, rec)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("RevokeToken from goroutine %d: %v", i, err)
		}
	}
	if n := len(eventRecords(t, s, a.ID, iogate.AuditTokenRevoked)); n != 1 {
		t.Errorf("%d concurrent revocations of one token appended %d token.revoked records, want 1", callers, n)
	}
	verifyChain(t, allAuditRecords(t, s, a.ID))
}

// revokedToken returns a revocation of a token of clientID that expires at expires.
func revokedToken(clientID, tokenID string, expires time.Time) *iogate.RevokedToken {
	return &iogate.RevokedToken{TokenID: tokenID, ClientID: clientID, ExpiresAt: expires, RevokedAt: expires.Add(-time.Hour)}
}

// storedRevocationIDs returns the IDs of clientID's stored revocations, expired ones
// included.
func storedRevocationIDs(t *testing.T, s iogate.Store, clientID string) []string {
	t.Helper()
	got, err := s.ListRevokedTokens(ctxFor(t), clientID, time.Time{})
	must(t, "ListRevokedTokens", err)
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.TokenID
	}
	slices.Sort(ids)
	return ids
}

// testRevokeKeepsExpiredRevocations revokes a token after another of the same key has
// expired: the expired revocation stays until DeleteExpiredRevocations deletes it, because
// RevokeToken deletes no rows but its own token's.
func testRevokeKeepsExpiredRevocations(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := storedKey(t, s, a.ID)
	expired := revokedToken(k.ClientID, "jti-expired", time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond))
	must(t, "RevokeToken(expired)", s.RevokeToken(ctx, expired, revokedRec(t, a.ID, expired)))
	live := liveToken(k.ClientID, "jti-live")
	must(t, "RevokeToken(live)", s.RevokeToken(ctx, live, revokedRec(t, a.ID, live)))
	if got, want := storedRevocationIDs(t, s, k.ClientID), []string{"jti-expired", "jti-live"}; !slices.Equal(got, want) {
		t.Errorf("stored revocations after a second revocation = %v, want %v", got, want)
	}
	// A repeated revocation of the expired token is still recognised as one.
	must(t, "RevokeToken(expired, again)", s.RevokeToken(ctx, expired, revokedRec(t, a.ID, expired)))
	if n := len(eventRecords(t, s, a.ID, iogate.AuditTokenRevoked)); n != 2 {
		t.Errorf("account's audit log has %d token.revoked records after revoking the expired token again, want 2", n)
	}
}

// testDeleteExpiredRevocations deletes revocations in batches: those of tokens that
// expired at or before the given time go, the others stay.
func testDeleteExpiredRevocations(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k, other := storedKey(t, s, a.ID), storedKey(t, s, a.ID)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, tok := range []*iogate.RevokedToken{
		revokedToken(k.ClientID, "jti-expired-now", now),
		revokedToken(k.ClientID, "jti-expired-earlier", now.Add(-time.Hour)),
		revokedToken(other.ClientID, "jti-other-key", now.Add(-time.Minute)),
		revokedToken(k.ClientID, "jti-expires-in-1us", now.Add(time.Microsecond)),
		revokedToken(other.ClientID, "jti-live", now.Add(time.Hour)),
	} {
		must(t, "RevokeToken "+tok.TokenID, s.RevokeToken(ctx, tok, revokedRec(t, a.ID, tok)))
	}

	n, err := s.DeleteExpiredRevocations(ctx, now, 0)
	must(t, "DeleteExpiredRevocations with limit 0", err)
	if n != 0 {
		t.Errorf("DeleteExpiredRevocations with limit 0 deleted %d revocations, want 0", n)
	}
	wantBatches(t, "DeleteExpiredRevocations", func(limit int) (int, error) { return s.DeleteExpiredRevocations(ctx, now, limit) },
		[]int{2, 2, 2}, []int{2, 1, 0})
	if got, want := storedRevocationIDs(t, s, k.ClientID), []string{"jti-expires-in-1us"}; !slices.Equal(got, want) {
		t.Errorf("revocations of %s after the sweep = %v, want %v", k.ClientID, got, want)
	}
	if got, want := storedRevocationIDs(t, s, other.ClientID), []string{"jti-live"}; !slices.Equal(got, want) {
		t.Errorf("revocations of %s after the sweep = %v, want %v", other.ClientID, got, want)
	}
}

func testRevocationsDuringKeyDeletions(t *testing.T, s iogate.Store) {
	revokeDuringKeyDeletions(t, s, s)
}

// revokeDuringKeyDeletions revokes tokens through first, of keys of several accounts,
// while second deletes other keys of those accounts and both sweep revocations of expired
// tokens, as a busy cluster does. A deletion removes its key's revocations, which the sweep
// deletes too. Every call must succeed: no deadlock, no busy database. Afterwards every
// live revocation of a surviving key is stored, and no deleted key has one left.
func revokeDuringKeyDeletions(t *testing.T, first, second iogate.Store) {
	s := first
	ctx := ctxFor(t)
	const (
		rounds         = 5
		accounts       = 3
		doomedPerRound = 2
		revocations    = 6
	)
	var owners []string
	var surviving []*iogate.APIKey
	for range accounts {
		a := newAccount(t, s)
		owners = append(owners, a.ID)
		surviving = append(surviving, storedKey(t, s, a.ID))
	}
	expiredAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)

	var mu sync.Mutex
	var failures []string
	fail := func(err error, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...)+": "+err.Error())
	}
	var doomed []*iogate.APIKey
	for round := range rounds {
		var doomedNow []*iogate.APIKey
		for _, id := range owners {
			for range doomedPerRound {
				k := storedKey(t, s, id)
				doomedNow = append(doomedNow, k)
				// Two rows, so that the deletion and the sweep have several rows of the
				// key to lock.
				for j := range 2 {
					tok := revokedToken(k.ClientID, fmt.Sprintf("jti-doomed-%s-%d", k.ClientID, j), expiredAt)
					must(t, "RevokeToken of a doomed key", s.RevokeToken(ctx, tok, revokedRec(t, id, tok)))
				}
			}
		}
		doomed = append(doomed, doomedNow...)

		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, k := range surviving {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for j := range revocations {
					// Every other revocation is of an expired token, which the sweep
					// deletes while the next ones are stored.
					tok := liveToken(k.ClientID, fmt.Sprintf("jti-live-%d-%d-%d", i, round, j))
					if j%2 == 1 {
						tok = revokedToken(k.ClientID, fmt.Sprintf("jti-expired-%d-%d-%d", i, round, j), expiredAt)
					}
					if err := s.RevokeToken(ctx, tok, revokedRec(t, k.AccountID, tok)); err != nil {
						fail(err, "round %d: RevokeToken %d of surviving key %d", round+1, j+1, i+1)
					}
				}
			}()
		}
		for i, k := range doomedNow {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := second.DeleteAPIKey(ctx, k.ClientID, deleted(t, k)); err != nil {
					fail(err, "round %d: DeleteAPIKey of doomed key %d", round+1, i+1)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Small batches, so that the sweep runs beside most of the other calls.
			for i := range revocations * accounts {
				sweeper := []iogate.Store{first, second}[i%2]
				if _, err := sweeper.DeleteExpiredRevocations(ctx, expiredAt, 2); err != nil {
					fail(err, "round %d: DeleteExpiredRevocations", round+1)
				}
			}
		}()
		close(start)
		wg.Wait()
	}
	if len(failures) > 0 {
		t.Fatalf("%d calls failed:\n%s", len(failures), strings.Join(failures, "\n"))
	}

	for i, k := range surviving {
		ids := revokedTokenIDs(t, s, k.ClientID)
		if len(ids) != rounds*revocations/2 {
			t.Errorf("surviving key %d has %d live revocations, want %d", i+1, len(ids), rounds*revocations/2)
		}
	}
	for i, k := range doomed {
		if ids := storedRevocationIDs(t, s, k.ClientID); len(ids) != 0 {
			t.Errorf("deleted key %d still has revocations %v", i+1, ids)
		}
	}
}
