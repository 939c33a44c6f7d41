package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// signingKeyEntry is what TestSigningKeyAuditRecords checks of each record of the
// signing-key log.
type signingKeyEntry struct {
	Event, Actor, KID string
}

// TestSigningKeyAuditRecords changes the signing keys in every way the engine does and
// checks the signing-key log. It expects one record per change, with the server as the
// actor of the keys it creates and the operator as that of the others. The records hold
// the keys' schedules and no private key, and their chain verifies.
func TestSigningKeyAuditRecords(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	db := openTestStore(t)
	s := newTestServiceOn(t, db, clock, time.Hour, token.EdDSA)
	ctx := iogate.WithActor(context.Background(), iogate.Actor{Type: iogate.ActorOperator, ID: "alice"})
	first := s.Keyring().ActiveKeyID()
	// The keys created from now on are younger than the first, so the stores list them
	// after it.
	now := start.Add(time.Minute)
	clock.Set(now)

	rs, err := s.RotateSigningKey(ctx, token.RS256, 0)
	if err != nil {
		t.Fatalf("RotateSigningKey(RS256): %v", err)
	}
	ed, err := s.RotateSigningKey(ctx, token.EdDSA, 10*time.Minute)
	if err != nil {
		t.Fatalf("RotateSigningKey(EdDSA): %v", err)
	}
	if _, err := s.RetireSigningKeys(ctx, token.EdDSA, 0); err != nil {
		t.Fatalf("RetireSigningKeys(EdDSA): %v", err)
	}
	// The engine still signs with EdDSA, so its next reload creates a key of its own.
	s.reloadKeyringIfDue(context.Background())
	created := s.Keyring().ActiveKeyID()
	revocation, err := s.RevokeSigningKey(ctx, rs.KID)
	if err != nil {
		t.Fatalf("RevokeSigningKey: %v", err)
	}

	var records []*iogate.AuditRecord
	if err := db.AuditRecords(ctx, iogate.SigningKeyLogID, func(r *iogate.AuditRecord) error {
		records = append(records, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	details := make([]map[string]any, len(records))
	var got []signingKeyEntry
	for i, r := range records {
		if err := json.Unmarshal(r.Details, &details[i]); err != nil {
			t.Fatalf("record %d: details are not a JSON object: %v", r.Seq, err)
		}
		kid, _ := details[i]["kid"].(string)
		got = append(got, signingKeyEntry{r.Event, r.Actor.Type + ":" + r.Actor.ID, kid})
	}
	want := []signingKeyEntry{
		{iogate.AuditSigningKeyCreated, "system:", first},
		{iogate.AuditSigningKeyRotated, "operator:alice", rs.KID},
		{iogate.AuditSigningKeyRotated, "operator:alice", ed.KID},
		{iogate.AuditSigningKeyRetired, "operator:alice", first},
		{iogate.AuditSigningKeyRetired, "operator:alice", ed.KID},
		{iogate.AuditSigningKeyCreated, "system:", created},
		{iogate.AuditSigningKeyRevoked, "operator:alice", rs.KID},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("records of the signing-key log (-want +got):\n%s", diff)
	}

	activation := now.Add(10 * time.Minute).Format(time.RFC3339Nano)
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"algorithm of the RS256 rotation", details[1]["algorithm"], token.RS256},
		{"keys retired by the RS256 rotation", details[1]["retired"], []any{}},
		{"activation of the EdDSA rotation", details[2]["activeAt"], activation},
		{"keys retired by the EdDSA rotation", details[2]["retired"],
			[]any{map[string]any{"kid": first, "algorithm": token.EdDSA, "activeAt": start.Format(time.RFC3339Nano), "retiredAt": activation}}},
		{"retirement of the scheduled key", details[4]["retiredAt"], now.Format(time.RFC3339Nano)},
		{"replacement of the revoked key", details[6]["replacement"].(map[string]any)["kid"], revocation.Replacement.KID},
		{"retirement of the revoked key", details[6]["retiredAt"], nil},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}

	keys, err := db.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		for _, k := range append(keys, rs) {
			if sealed := base64.StdEncoding.EncodeToString(k.PrivateKeyEncrypted); strings.Contains(string(r.Details), sealed) {
				t.Errorf("record %d holds the sealed private key of %s", r.Seq, k.KID)
			}
		}
	}

	report, err := s.VerifyAudit(ctx, "")
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	if !slices.ContainsFunc(report.Heads, func(h iogate.AuditHead) bool {
		return h.AccountID == iogate.SigningKeyLogID && h.Records == int64(len(want))
	}) {
		t.Errorf("VerifyAudit heads = %+v, want the signing-key log with %d records", report.Heads, len(want))
	}
}
