package storetest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
)

// auditFilterCases check that ListAuditRecords selects, for combinations of filters, the
// records that AuditFilter.Matches selects, which is how exports filter.
var auditFilterCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"AuditFilterByActor", testAuditFilterByActor},
}

func testAuditFilterByActor(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a, other := newAccount(t, s), newAccount(t, s)
	userID, clientID, otherClientID := iogate.NewID(), iogate.NewClientID(), iogate.NewClientID()
	user := iogate.Actor{Type: iogate.ActorUser, ID: userID, IP: "192.0.2.9"}
	client := iogate.Actor{Type: iogate.ActorClient, ID: clientID, IP: "192.0.2.7"}
	// An operator whose name equals the user's ID and another's equal to the client ID, so
	// that only the actor's type distinguishes their records.
	operatorAsUser := iogate.Actor{Type: iogate.ActorOperator, ID: userID}
	operatorAsClient := iogate.Actor{Type: iogate.ActorOperator, ID: clientID}
	alice := iogate.Actor{Type: iogate.ActorOperator, ID: "alice"}
	system := iogate.Actor{Type: iogate.ActorSystem, IP: "198.51.100.4"}

	entries := []struct {
		account  string
		event    string
		actor    iogate.Actor
		clientID string
	}{
		{a.ID, iogate.AuditKeyCreated, alice, clientID},
		{a.ID, iogate.AuditKeyCreated, user, otherClientID},
		{a.ID, iogate.AuditTokenIssued, client, clientID},
		{a.ID, iogate.AuditUserSignedIn, user, ""},
		{a.ID, iogate.AuditTokenDenied, client, clientID},
		{a.ID, iogate.AuditKeyExposed, system, clientID},
		{a.ID, iogate.AuditKeyUpdated, operatorAsUser, clientID},
		{a.ID, iogate.AuditKeyRotated, operatorAsClient, clientID},
		{a.ID, iogate.AuditTokenIssued, client, clientID},
		{a.ID, iogate.AuditKeyUpdated, user, clientID},
		{a.ID, iogate.AuditAddressBlocked, system, ""},
		{other.ID, iogate.AuditUserSignedIn, user, ""},
		{other.ID, iogate.AuditKeyExposed, system, clientID},
		{other.ID, iogate.AuditTokenIssued, client, clientID},
	}
	var batch []*iogate.AuditRecord
	for i, e := range entries {
		r, err := chain.NewRecord(e.account, e.event, e.actor, base, nil)
		must(t, "NewRecord", err)
		r.ClientID = e.clientID
		if e.event == iogate.AuditTokenIssued {
			r.TokenID = fmt.Sprintf("jti-%d", i)
		}
		batch = append(batch, r)
	}
	must(t, "AppendAuditRecords", s.AppendAuditRecords(ctx, batch))
	stored := allAuditRecords(t, s, a.ID)

	cases := []struct {
		name   string
		filter iogate.AuditFilter
		// want is how many records the filter selects, so that a Matches that agreed with a
		// wrong store would still fail the test.
		want int
	}{
		{"actor ID of any type", iogate.AuditFilter{ActorID: userID}, 4},
		{"user", iogate.AuditFilter{ActorType: iogate.ActorUser, ActorID: userID}, 3},
		{"operator named as the user", iogate.AuditFilter{ActorType: iogate.ActorOperator, ActorID: userID}, 1},
		{"client ID as actor of any type", iogate.AuditFilter{ActorID: clientID}, 4},
		{"client", iogate.AuditFilter{ActorType: iogate.ActorClient, ActorID: clientID}, 3},
		{"operator named as the client", iogate.AuditFilter{ActorType: iogate.ActorOperator, ActorID: clientID}, 1},
		{"operator", iogate.AuditFilter{ActorType: iogate.ActorOperator, ActorID: "alice"}, 1},
		{"system", iogate.AuditFilter{ActorType: iogate.ActorSystem}, 2},
		{"operator of no record", iogate.AuditFilter{ActorType: iogate.ActorOperator, ActorID: "bob"}, 0},
		{"user and key", iogate.AuditFilter{ActorType: iogate.ActorUser, ActorID: userID, ClientID: clientID}, 1},
		{"user and event", iogate.AuditFilter{ActorType: iogate.ActorUser, ActorID: userID, Event: iogate.AuditKeyCreated}, 1},
		{"user, key and event", iogate.AuditFilter{ActorType: iogate.ActorUser, ActorID: userID, ClientID: clientID, Event: iogate.AuditKeyCreated}, 0},
		{"client and token.issued", iogate.AuditFilter{ActorType: iogate.ActorClient, ActorID: clientID, Event: iogate.AuditTokenIssued}, 2},
		{"client and its key", iogate.AuditFilter{ActorType: iogate.ActorClient, ActorID: clientID, ClientID: clientID}, 3},
		{"client and another key", iogate.AuditFilter{ActorType: iogate.ActorClient, ActorID: clientID, ClientID: otherClientID}, 0},
		{"system and key", iogate.AuditFilter{ActorType: iogate.ActorSystem, ClientID: clientID}, 1},
		{"system and event", iogate.AuditFilter{ActorType: iogate.ActorSystem, Event: iogate.AuditAddressBlocked}, 1},
	}
	for _, c := range cases {
		c.filter.AccountID = a.ID
		var want []int64
		for i := len(stored) - 1; i >= 0; i-- {
			if c.filter.Matches(stored[i]) {
				want = append(want, stored[i].Seq)
			}
		}
		if len(want) != c.want {
			t.Errorf("%s: AuditFilter.Matches selects records %v, want %d records", c.name, want, c.want)
		}
		// Pages of two records cross the boundaries between the branches of a query.
		var got []int64
		page := iogate.Page{Limit: 2}
		for pages := 0; pages <= len(stored); pages++ {
			records, next, err := s.ListAuditRecords(ctx, c.filter, page)
			must(t, "ListAuditRecords("+c.name+")", err)
			for _, r := range records {
				got = append(got, r.Seq)
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListAuditRecords(%s) differs from AuditFilter.Matches (-want +got):\n%s", c.name, diff)
		}
	}
}
