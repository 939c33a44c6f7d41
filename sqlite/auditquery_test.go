package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// TestAuditListQueryUsesIndexes checks that every filter of ListAuditRecords walks an
// index in sequence order, rather than scanning the account's log or sorting it.
func TestAuditListQueryUsesIndexes(t *testing.T) {
	db := openTestDB(t)
	// A client's records: other events by client, token.issued records by the token
	// index's primary key, and the tail above the mark by the log's primary key.
	tail := "SEARCH audit_records USING PRIMARY KEY (account_id=? AND seq>? AND seq<?)"
	byClient := []string{"audit_records_by_client", "SEARCH t USING PRIMARY KEY", tail}
	cases := []struct {
		name   string
		filter iogate.AuditFilter
		want   []string
	}{
		{"none", iogate.AuditFilter{AccountID: "a"}, []string{"USING PRIMARY KEY"}},
		{"key", iogate.AuditFilter{AccountID: "a", ClientID: "k"}, byClient},
		{"key and actor", iogate.AuditFilter{AccountID: "a", ClientID: "k", ActorID: "u"}, byClient},
		{"actor", iogate.AuditFilter{AccountID: "a", ActorID: "u"}, append([]string{"audit_records_by_actor"}, byClient...)},
		{"actor and event", iogate.AuditFilter{AccountID: "a", ActorID: "u", Event: iogate.AuditKeyCreated}, []string{"audit_records_by_actor", "audit_records_by_client"}},
		{"actor and token.issued", iogate.AuditFilter{AccountID: "a", ActorID: "u", Event: iogate.AuditTokenIssued}, append([]string{"audit_records_by_actor"}, byClient...)},
		{"key and event", iogate.AuditFilter{AccountID: "a", ClientID: "k", Event: iogate.AuditKeyRotated}, []string{"audit_records_by_client"}},
		{"key and token.issued", iogate.AuditFilter{AccountID: "a", ClientID: "k", Event: iogate.AuditTokenIssued}, byClient},
		{"event", iogate.AuditFilter{AccountID: "a", Event: iogate.AuditKeyCreated}, []string{"audit_records_by_event"}},
		{"token event", iogate.AuditFilter{AccountID: "a", Event: iogate.AuditTokenIssued}, []string{"USING PRIMARY KEY (account_id=? AND seq<?)"}},
		{"user", iogate.AuditFilter{AccountID: "a", ActorType: iogate.ActorUser, ActorID: "u"}, []string{"audit_records_by_actor (account_id=? AND actor_id=? AND seq<?)"}},
		{"operator and event", iogate.AuditFilter{AccountID: "a", ActorType: iogate.ActorOperator, ActorID: "o", Event: iogate.AuditKeyCreated}, []string{"audit_records_by_actor"}},
		{"system", iogate.AuditFilter{AccountID: "a", ActorType: iogate.ActorSystem}, []string{"audit_records_by_actor (account_id=? AND actor_id=? AND seq<?)"}},
		{"client", iogate.AuditFilter{AccountID: "a", ActorType: iogate.ActorClient, ActorID: "k"}, byClient},
		{"client and event", iogate.AuditFilter{AccountID: "a", ActorType: iogate.ActorClient, ActorID: "k", Event: iogate.AuditTokenDenied}, []string{"audit_records_by_client"}},
		{"key and user", iogate.AuditFilter{AccountID: "a", ClientID: "k", ActorType: iogate.ActorUser, ActorID: "u"}, byClient},
	}
	for _, c := range cases {
		query, args := auditListQuery(c.filter, 100, 51)
		text := strings.Join(explainQueryPlan(t, db, query, args...), "; ")
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: plan %q does not use %s", c.name, text, w)
			}
		}
		// Only token.issued records are in audit_token_clients, so a filter by another
		// event must not walk the client's entries there.
		if c.filter.Event != "" && c.filter.Event != iogate.AuditTokenIssued && strings.Contains(text, "SEARCH t ") {
			t.Errorf("%s: plan %q walks audit_token_clients for an event it never holds", c.name, text)
		}
		// Records of an actor that is not a client are all in audit_records_by_actor.
		if c.filter.ActorType != "" && c.filter.ActorType != iogate.ActorClient && c.filter.ClientID == "" && strings.Contains(text, "audit_records_by_client") {
			t.Errorf("%s: plan %q walks the client index for an actor that is not a client", c.name, text)
		}
		if strings.Contains(text, "TEMP B-TREE") || strings.Contains(text, "SCAN ") {
			t.Errorf("%s: plan %q sorts or scans the table", c.name, text)
		}
	}
}

// TestAuditEventQueriesUsePartialIndex checks the two other queries that look records up
// by event. token.issued records are not in audit_records_by_event (migration 0020), so
// the start-up read of deleted keys must repeat the index's condition to use it, and the
// token indexer reads its range from the log's primary key.
func TestAuditEventQueriesUsePartialIndex(t *testing.T) {
	db := openTestDB(t)
	deleted := strings.Join(explainQueryPlan(t, db, deletedAPIKeysQuery, iogate.AuditKeyDeleted), "; ")
	if !strings.Contains(deleted, "SEARCH r USING INDEX audit_records_by_event (account_id=? AND event=?)") {
		t.Errorf("deleted keys: plan %q does not search audit_records_by_event", deleted)
	}
	tail := strings.Join(explainQueryPlan(t, db, tokenIndexTailQuery, "a", 1, 2), "; ")
	if !strings.Contains(tail, "SEARCH audit_records USING PRIMARY KEY (account_id=? AND seq>? AND seq<?)") {
		t.Errorf("token index: plan %q does not search a range of the primary key", tail)
	}
}

// TestAuditActorFilterPages pages through the records of one actor, found partly by the
// actor index and partly by the client index, newest first.
func TestAuditActorFilterPages(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	chain := newTestChain(t)
	a := createTestAccount(t, db)
	// The same ID as an operator's name and as a client ID, so that both halves of the
	// union hold records.
	const id = "shared-id"
	var want []int64
	for i := range 6 {
		actor := iogate.Actor{Type: iogate.ActorOperator, ID: id}
		client := "other"
		if i%2 == 1 {
			actor = iogate.Actor{Type: iogate.ActorClient, ID: id}
			client = id
		}
		r, err := chain.NewRecord(a, iogate.AuditKeyUpdated, actor, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r.ClientID = client
		if err := db.AppendAuditRecords(ctx, []*iogate.AuditRecord{r}); err != nil {
			t.Fatal(err)
		}
		want = append([]int64{r.Seq}, want...)
	}
	var got []int64
	page := iogate.Page{Limit: 4}
	for range 3 {
		recs, next, err := db.ListAuditRecords(ctx, iogate.AuditFilter{AccountID: a, ActorID: id}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, r.Seq)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if len(got) != len(want) {
		t.Fatalf("records of the actor over all pages = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("records of the actor over all pages = %v, want %v", got, want)
		}
	}
}
