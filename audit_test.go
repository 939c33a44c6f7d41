package iogate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sealedChain returns n records of one account sealed in order, as a store appends them.
func sealedChain(t *testing.T, c *AuditChain, account string, n int) []*AuditRecord {
	t.Helper()
	var out []*AuditRecord
	var prevSeq int64
	var prevHash AuditHash
	at := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	for i := 0; i < n; i++ {
		r, err := c.NewRecord(account, AuditTokenIssued, Actor{Type: ActorClient, ID: "client-1", IP: "127.0.0.1"}, at.Add(time.Duration(i)*time.Second),
			map[string]any{"scopes": []string{"vaults:read"}, "n": i})
		if err != nil {
			t.Fatal(err)
		}
		r.ClientID, r.TokenID = "client-1", "token-"+string(rune('a'+i))
		if err := r.Seal(prevSeq, prevHash); err != nil {
			t.Fatal(err)
		}
		prevSeq, prevHash = r.Seq, r.Hash
		out = append(out, r)
	}
	return out
}

// copyRecord returns a copy of r as a store would read it back: without its chain.
func copyRecord(r *AuditRecord) *AuditRecord {
	c := *r
	c.chain = nil
	c.Details = bytes.Clone(r.Details)
	return &c
}

func verifyAll(c *AuditChain, records []*AuditRecord) error {
	v := c.NewVerifier()
	for _, r := range records {
		if err := v.Add(r); err != nil {
			return err
		}
	}
	return nil
}

func TestAuditChainVerifies(t *testing.T) {
	c, err := NewAuditChain(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a := sealedChain(t, c, "account-a", 3)
	b := sealedChain(t, c, "account-b", 2)
	if a[0].Seq != 1 || a[0].PrevHash != (AuditHash{}) || a[1].PrevHash != a[0].Hash {
		t.Fatalf("first records seq %d, prevHash %s; second links to %s, want seq 1, zero hash, link to %s",
			a[0].Seq, a[0].PrevHash, a[1].PrevHash, a[0].Hash)
	}

	v := c.NewVerifier()
	for _, r := range []*AuditRecord{a[0], b[0], a[1], b[1], a[2]} {
		if err := v.Add(copyRecord(r)); err != nil {
			t.Fatalf("Add(record %d of %s): %v", r.Seq, r.AccountID, err)
		}
	}
	heads := v.Heads()
	if len(heads) != 2 || heads[0].Records != 3 || heads[0].Hash != a[2].Hash || heads[1].Records != 2 {
		t.Errorf("Heads() = %+v, want account-a with 3 records ending in %s, then account-b with 2", heads, a[2].Hash)
	}
}

func TestAuditChainDetectsTampering(t *testing.T) {
	c, err := NewAuditChain(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewAuditChain(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		chain   *AuditChain
		tamper  func([]*AuditRecord) []*AuditRecord
		seq     int64
		problem string
	}{
		{"reason edited", c, func(rs []*AuditRecord) []*AuditRecord { rs[1].Reason = "x"; return rs }, 2, "edited"},
		{"actor address edited", c, func(rs []*AuditRecord) []*AuditRecord { rs[2].Actor.IP = "10.0.0.1"; return rs }, 3, "edited"},
		{"time edited", c, func(rs []*AuditRecord) []*AuditRecord { rs[0].Time = rs[0].Time.Add(time.Microsecond); return rs }, 1, "edited"},
		{"details edited", c, func(rs []*AuditRecord) []*AuditRecord {
			rs[1].Details = []byte(strings.Replace(string(rs[1].Details), "vaults:read", "vaults:write", 1))
			return rs
		}, 2, "edited"},
		{"event edited", c, func(rs []*AuditRecord) []*AuditRecord { rs[3].Event = AuditTokenDenied; return rs }, 4, "edited"},
		{"record removed", c, func(rs []*AuditRecord) []*AuditRecord { return append(rs[:1], rs[2:]...) }, 3, "removed"},
		{"first record removed", c, func(rs []*AuditRecord) []*AuditRecord { return rs[1:] }, 2, "earlier records were removed"},
		{"hash recomputed without the key", c, func(rs []*AuditRecord) []*AuditRecord {
			rs[1].Reason = "x"
			rs[1].Hash = other.hash(rs[1])
			return rs
		}, 2, "edited"},
		{"record replaced and chain relinked", c, func(rs []*AuditRecord) []*AuditRecord {
			rs[1].Reason = "x"
			rs[1].Hash = other.hash(rs[1])
			rs[2].PrevHash = rs[1].Hash
			return rs
		}, 2, "edited"},
		{"verified with another key", other, func(rs []*AuditRecord) []*AuditRecord { return rs }, 1, "edited"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var records []*AuditRecord
			for _, r := range sealedChain(t, c, "account-a", 5) {
				records = append(records, copyRecord(r))
			}
			err := verifyAll(tc.chain, tc.tamper(records))
			var ce *AuditChainError
			if !errors.As(err, &ce) {
				t.Fatalf("verify = %v, want an *AuditChainError", err)
			}
			if ce.Seq != tc.seq || ce.AccountID != "account-a" || !strings.Contains(ce.Problem, tc.problem) {
				t.Errorf("verify error = %v, want record %d of account-a with a problem containing %q", err, tc.seq, tc.problem)
			}
		})
	}
}

func TestAuditRecordSealNeedsChain(t *testing.T) {
	r := &AuditRecord{AccountID: "a", ID: "x"}
	if err := r.Seal(0, AuditHash{}); err == nil {
		t.Error("Seal of a record not made by an AuditChain succeeded, want an error")
	}
}

func TestAuditHashJSON(t *testing.T) {
	h := AuditHash{0xab, 0x01}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `"ab01`) || len(b) != 66 {
		t.Errorf("json.Marshal(hash) = %s, want 64 hex digits in quotes", b)
	}
	var back AuditHash
	if err := json.Unmarshal(b, &back); err != nil || back != h {
		t.Errorf("json.Unmarshal = %s, %v, want %s", back, err, h)
	}
}

func TestActorFromContext(t *testing.T) {
	if got := ActorFrom(context.Background()); got.Type != ActorSystem {
		t.Errorf("ActorFrom(empty context) = %+v, want type %s", got, ActorSystem)
	}
	want := Actor{Type: ActorOperator, ID: "alice"}
	if got := ActorFrom(WithActor(context.Background(), want)); got != want {
		t.Errorf("ActorFrom(WithActor(%+v)) = %+v", want, got)
	}
}

func TestSealRejectsClientActingForAnother(t *testing.T) {
	chain, err := NewAuditChain(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		actor    Actor
		clientID string
		ok       bool
	}{
		{"client for itself", Actor{Type: ActorClient, ID: "key-1"}, "key-1", true},
		{"client for another", Actor{Type: ActorClient, ID: "key-1"}, "key-2", false},
		{"client for none", Actor{Type: ActorClient, ID: "key-1"}, "", false},
		{"operator for a key", Actor{Type: ActorOperator, ID: "root"}, "key-2", true},
	}
	for _, c := range cases {
		r, err := chain.NewRecord("account", AuditTokenIssued, c.actor, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r.ClientID = c.clientID
		if err := r.Seal(0, AuditHash{}); (err == nil) != c.ok {
			t.Errorf("%s: Seal error %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// TestAuditHashEncoding pins the bytes that a record's hash covers, so that a change in
// how they are gathered cannot break the chains of logs written before it.
func TestAuditHashEncoding(t *testing.T) {
	chain, err := NewAuditChain(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	r, err := chain.NewRecord("account-1", AuditTokenIssued, Actor{Type: ActorClient, ID: "key-1", IP: "192.0.2.1"},
		time.UnixMicro(1_700_000_000_123_456), map[string]any{"scopes": []string{"vaults:read"}})
	if err != nil {
		t.Fatal(err)
	}
	r.ClientID, r.TokenID, r.ID = "key-1", "jti-1", "id-1"
	if err := r.Seal(41, AuditHash{1, 2, 3}); err != nil {
		t.Fatal(err)
	}

	// The encoding, field by field: its length as 8 bytes, big-endian, then its bytes.
	m := hmac.New(sha256.New, bytes.Repeat([]byte{7}, 32))
	for _, field := range []string{"iogate-audit-v1", "account-1", "42", "id-1", "1700000000123456", AuditTokenIssued,
		ActorClient, "key-1", "192.0.2.1", "key-1", "jti-1", "", `{"scopes":["vaults:read"]}`, string(r.PrevHash[:])} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(field)))
		m.Write(n[:])
		m.Write([]byte(field))
	}
	var want AuditHash
	m.Sum(want[:0])
	if r.Hash != want {
		t.Errorf("record hash = %s, want %s", r.Hash, want)
	}
}

// TestAuditEventsListsEveryEvent parses the package's sources and checks that AuditEvents
// holds the value of every Audit* string constant once, so that the CLI and the dashboard
// can filter by an event as soon as it is declared. The AuditSigningKey* events belong to
// the signing-key log, so SigningKeyAuditEvents holds them instead.
func TestAuditEventsListsEveryEvent(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	declared := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Audit") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						value, _ := strconv.Unquote(lit.Value)
						declared[name.Name] = value
					}
				}
			}
		}
	}
	if declared["AuditAccountCreated"] != "account.created" || declared["AuditVaultCreated"] != "vault.created" {
		t.Fatalf("parsed Audit constants %v lack account.created or vault.created", declared)
	}
	listed := map[string]int{}
	for _, e := range AuditEvents {
		listed[e]++
	}
	signingKeyListed := map[string]int{}
	for _, e := range SigningKeyAuditEvents {
		signingKeyListed[e]++
	}
	signingKeyEvents := 0
	for name, value := range declared {
		if strings.HasPrefix(name, "AuditSigningKey") {
			signingKeyEvents++
			if signingKeyListed[value] != 1 || listed[value] != 0 {
				t.Errorf("SigningKeyAuditEvents holds %s (%s) %d times and AuditEvents %d times, want once and none",
					value, name, signingKeyListed[value], listed[value])
			}
			continue
		}
		if listed[value] != 1 {
			t.Errorf("AuditEvents holds %s (%s) %d times, want once", value, name, listed[value])
		}
	}
	if want := len(declared) - signingKeyEvents; len(AuditEvents) != want {
		t.Errorf("AuditEvents has %d events, want the %d declared Audit constants of accounts", len(AuditEvents), want)
	}
}
