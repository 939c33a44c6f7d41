package auth

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// deletedKeyClient is the address of the token requests in the deleted-key tests.
var deletedKeyClient = netip.MustParseAddr("198.51.100.23")

// otherProcess opens a second store and engine on the engine's SQLite file, as the CLI does,
// so that a change it makes reaches e only through the store.
func (e *testEngine) otherProcess(t *testing.T) *Service {
	t.Helper()
	_, svc := openService(t, e.path, nil)
	return svc
}

// denials returns the token.denied records of every account, after the queued ones are
// written.
func (e *testEngine) denials(t *testing.T) []*iogate.AuditRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.svc.audit.flush(ctx)
	var out []*iogate.AuditRecord
	err := e.store.AuditRecords(ctx, "", func(r *iogate.AuditRecord) error {
		if r.Event == iogate.AuditTokenDenied {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTokenForDeletedKey requests tokens with the secret of a key deleted in each way the
// engine can learn of a deletion. Each request gets the error of an unknown client ID, and
// one token.denied record with reason key_deleted in the log of the key's account. The
// error counts as outdated in each case, because the engine holds the hashes of the key's
// secrets whether it saw the deletion or loaded it at start.
func TestTokenForDeletedKey(t *testing.T) {
	cases := []struct {
		name string
		// remove deletes the key and returns the engine that then serves the request.
		remove func(t *testing.T, e *testEngine, clientID string) *Service
		// outdated is whether the engine that serves the request holds the hash of the
		// deleted key's secret, so that IsOutdatedCredential accepts the error.
		outdated bool
	}{
		{"deleted by this engine", func(t *testing.T, e *testEngine, clientID string) *Service {
			if err := e.svc.DeleteKey(context.Background(), clientID); err != nil {
				t.Fatal(err)
			}
			return e.svc
		}, true},
		{"deleted by another process", func(t *testing.T, e *testEngine, clientID string) *Service {
			if err := e.otherProcess(t).DeleteKey(context.Background(), clientID); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			return e.svc
		}, true},
		{"found missing by a full reload", func(t *testing.T, e *testEngine, clientID string) *Service {
			if err := e.otherProcess(t).DeleteKey(context.Background(), clientID); err != nil {
				t.Fatal(err)
			}
			// A reload after a lost change feed finds the key gone without reading its change.
			if err := e.svc.resync(context.Background()); err != nil {
				t.Fatal(err)
			}
			return e.svc
		}, true},
		// The key's tombstone stores the hashes of its secrets, which Start loads.
		{"deleted before the engine started", func(t *testing.T, e *testEngine, clientID string) *Service {
			if err := e.svc.DeleteKey(context.Background(), clientID); err != nil {
				t.Fatal(err)
			}
			restarted := e.otherProcess(t)
			if err := restarted.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			return restarted
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			e := newTestEngine(t)
			// The key belongs to a second account, so that a record in the first account's
			// log would be in the wrong chain.
			other := &iogate.Account{ID: iogate.NewID(), Name: "Other", Email: "ops@other.test", Status: iogate.AccountActive, CreatedAt: e.clock.now()}
			createAccount(t, e.svc, e.store, other)
			k, secret, err := e.svc.CreateKey(ctx, CreateKeyRequest{AccountID: other.ID, Name: "doomed"})
			if err != nil {
				t.Fatal(err)
			}

			svc := c.remove(t, e, k.ClientID)
			_, err = svc.IssueToken(ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: secret.Reveal(), RemoteAddr: deletedKeyClient})
			if !errors.Is(err, iogate.ErrInvalidClient) {
				t.Fatalf("IssueToken for the deleted key: %v, want ErrInvalidClient, the error of an unknown client ID", err)
			}
			if got := IsOutdatedCredential(err); got != c.outdated {
				t.Errorf("IsOutdatedCredential(%v) = %t for the deleted key's secret, want %t", err, got, c.outdated)
			}
			svc.audit.flush(ctx)

			denials := e.denials(t)
			if len(denials) != 1 {
				t.Fatalf("token.denied records = %d, want 1", len(denials))
			}
			r := denials[0]
			wantActor := iogate.Actor{Type: iogate.ActorClient, ID: k.ClientID, IP: deletedKeyClient.String()}
			if r.AccountID != other.ID {
				t.Errorf("token.denied record in account %s, want the key's account %s", r.AccountID, other.ID)
			}
			if r.Reason != iogate.DenyKeyDeleted || r.ClientID != k.ClientID || r.Actor != wantActor {
				t.Errorf("token.denied record: reason %q, client %q, actor %+v; want %q, %q, %+v",
					r.Reason, r.ClientID, r.Actor, iogate.DenyKeyDeleted, k.ClientID, wantActor)
			}
			if report, err := e.svc.VerifyAudit(ctx, ""); err != nil {
				t.Errorf("VerifyAudit after the denial: %+v, %v", report, err)
			}
		})
	}
}

// TestDeletedKeySecrets requests tokens for a deleted key with each kind of secret. Only a
// secret that the key had when it was deleted gets the outdated error. Any other secret
// gets the error of an unknown client ID, which IsOutdatedCredential rejects, so that a
// caller cannot tell a deleted key's client ID from one that never existed. Every request
// leaves a token.denied record with reason key_deleted in the key's account. Each case
// runs on the engine that deleted the key and on an engine started after the deletion,
// which loads the hashes from the store.
func TestDeletedKeySecrets(t *testing.T) {
	ctx := context.Background()
	// rotate rotates the key of clientID with grace and returns the new secret.
	rotate := func(t *testing.T, e *testEngine, clientID string, grace time.Duration) string {
		t.Helper()
		_, secret, err := e.svc.RotateKey(ctx, clientID, grace)
		if err != nil {
			t.Fatalf("RotateKey: %v", err)
		}
		return secret.Reveal()
	}
	cases := []struct {
		name string
		// secret prepares the key of clientID, created with secret, before its deletion,
		// and returns the secret to send after it.
		secret   func(t *testing.T, e *testEngine, clientID, secret string) string
		outdated bool
	}{
		{"current secret", func(t *testing.T, e *testEngine, clientID, secret string) string {
			return secret
		}, true},
		{"current secret after a rotation", func(t *testing.T, e *testEngine, clientID, secret string) string {
			return rotate(t, e, clientID, time.Hour)
		}, true},
		{"previous secret in its grace period", func(t *testing.T, e *testEngine, clientID, secret string) string {
			rotate(t, e, clientID, time.Hour)
			return secret
		}, true},
		{"previous secret after its grace period", func(t *testing.T, e *testEngine, clientID, secret string) string {
			rotate(t, e, clientID, 0)
			return secret
		}, true},
		{"secret replaced two rotations ago", func(t *testing.T, e *testEngine, clientID, secret string) string {
			rotate(t, e, clientID, time.Hour)
			rotate(t, e, clientID, time.Hour)
			return secret
		}, false},
		{"mistyped secret", func(t *testing.T, e *testEngine, clientID, secret string) string {
			return mistype(secret)
		}, false},
		{"random secret", func(t *testing.T, e *testEngine, clientID, secret string) string {
			random, err := iogate.GenerateSecret()
			if err != nil {
				t.Fatal(err)
			}
			return random.Reveal()
		}, false},
		{"secret of another key", func(t *testing.T, e *testEngine, clientID, secret string) string {
			_, other := e.createKey(t)
			return other
		}, false},
		{"empty secret", func(t *testing.T, e *testEngine, clientID, secret string) string {
			return ""
		}, false},
	}
	engines := []struct {
		name string
		// serve returns the engine that serves the request after e deleted the key.
		serve func(t *testing.T, e *testEngine) *Service
	}{
		{"deleting engine", func(t *testing.T, e *testEngine) *Service { return e.svc }},
		{"restarted engine", func(t *testing.T, e *testEngine) *Service {
			restarted := e.otherProcess(t)
			if err := restarted.Start(ctx); err != nil {
				t.Fatalf("Start after the deletion: %v", err)
			}
			return restarted
		}},
	}
	for _, c := range cases {
		for _, engine := range engines {
			t.Run(c.name+"/"+engine.name, func(t *testing.T) {
				checkDeletedKeySecret(t, engine.serve, c.secret, c.outdated)
			})
		}
	}
}

// checkDeletedKeySecret creates a key, lets secret prepare it and choose the secret to
// send, deletes the key, and requests a token from the engine that serve returns. The
// request must fail with the error of an unknown client ID, which IsOutdatedCredential
// accepts only when outdated is true, and leave one token.denied record with reason
// key_deleted in the key's account.
func checkDeletedKeySecret(t *testing.T, serve func(t *testing.T, e *testEngine) *Service,
	secret func(t *testing.T, e *testEngine, clientID, secret string) string, outdated bool) {
	t.Helper()
	ctx := context.Background()
	e := newTestEngine(t)
	k, created := e.createKey(t)
	sent := secret(t, e, k.ClientID, created)
	if err := e.svc.DeleteKey(ctx, k.ClientID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	svc := serve(t, e)

	_, err := svc.IssueToken(ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: sent, RemoteAddr: deletedKeyClient})
	if !errors.Is(err, iogate.ErrInvalidClient) {
		t.Fatalf("IssueToken for the deleted key: %v, want ErrInvalidClient", err)
	}
	if got := IsOutdatedCredential(err); got != outdated {
		t.Errorf("IsOutdatedCredential(%v) = %t, want %t", err, got, outdated)
	}
	if !outdated && err != iogate.ErrInvalidClient {
		t.Errorf("IssueToken for the deleted key: error %v (%T), want iogate.ErrInvalidClient itself, the error of an unknown client ID", err, err)
	}
	svc.audit.flush(ctx)

	denials := e.denials(t)
	if len(denials) != 1 {
		t.Fatalf("token.denied records = %d, want 1", len(denials))
	}
	if r := denials[0]; r.Reason != iogate.DenyKeyDeleted || r.ClientID != k.ClientID || r.AccountID != e.accountID {
		t.Errorf("token.denied record: reason %q, client %q, account %q; want %q, %q, %q",
			r.Reason, r.ClientID, r.AccountID, iogate.DenyKeyDeleted, k.ClientID, e.accountID)
	}
}

// TestDeletedKeySecretsSurviveStart checks that a second Start, which loads the deletions
// from the store, keeps the hashes of a deletion that the engine saw itself.
func TestDeletedKeySecretsSurviveStart(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, secret := e.createKey(t)
	if err := e.svc.DeleteKey(ctx, k.ClientID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	if err := e.svc.Start(ctx); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	_, err := e.svc.IssueToken(ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: secret, RemoteAddr: deletedKeyClient})
	if !errors.Is(err, iogate.ErrInvalidClient) || !IsOutdatedCredential(err) {
		t.Errorf("IssueToken with the deleted key's secret after Start: %v (outdated %t), want the outdated ErrInvalidClient", err, IsOutdatedCredential(err))
	}
}

// TestDeletedSetReplacesSecrets checks that a second deletion of a client ID replaces the
// hashes of the first, previous secret included, and that a deletion loaded from the store
// without hashes keeps the hashes only when it names the same account.
func TestDeletedSetReplacesSecrets(t *testing.T) {
	hash := func(b byte) iogate.SecretHash {
		var h iogate.SecretHash
		h[0] = b
		return h
	}
	rotated := &keyExtra{previous: &iogate.PreviousSecret{Hash: hash(2)}}
	var s deletedSet[string]

	s.remember("id", keyState{account: 1, current: hash(1)}, rotated)
	account, secrets, ok := s.get("id")
	want := formerSecrets{current: hash(1), previous: hash(2)}
	if !ok || account != 1 || secrets != want {
		t.Fatalf("get after a deletion with a previous secret = %d, %+v, %t; want 1, %+v, true", account, secrets, ok, want)
	}

	s.remember("id", keyState{account: 1, current: hash(3)}, nil)
	want = formerSecrets{current: hash(3)}
	if _, secrets, _ := s.get("id"); secrets != want {
		t.Errorf("get after a second deletion without a previous secret = %+v, want %+v", secrets, want)
	}

	s.rememberLoaded("id", 1, formerSecrets{})
	if _, secrets, _ := s.get("id"); secrets != want {
		t.Errorf("get after loading the deletion for the same account without hashes = %+v, want %+v", secrets, want)
	}

	loaded := formerSecrets{current: hash(4), previous: hash(5)}
	s.rememberLoaded("id", 1, loaded)
	if _, secrets, _ := s.get("id"); secrets != loaded {
		t.Errorf("get after loading the deletion for the same account with hashes = %+v, want %+v", secrets, loaded)
	}

	s.remember("id", keyState{account: 1, current: hash(1)}, rotated)
	s.rememberLoaded("id", 2, formerSecrets{})
	account, secrets, _ = s.get("id")
	if account != 2 || secrets != (formerSecrets{}) {
		t.Errorf("get after loading a deletion for another account = %d, %+v; want 2 and no hashes", account, secrets)
	}
	if len(s.previous) != 0 {
		t.Errorf("previous secrets after the last deletion had none = %d, want 0", len(s.previous))
	}
}

// TestTokenForUnknownClientNotRecorded checks that a client ID that never existed writes no
// record in any account's log, while the engine remembers deleted keys.
func TestTokenForUnknownClientNotRecorded(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, secret := e.createKey(t)
	if err := e.svc.DeleteKey(ctx, k.ClientID); err != nil {
		t.Fatal(err)
	}
	for _, clientID := range []string{iogate.NewClientID(), "acme", "01A2C3D4-0000-7000-8000-000000000000"} {
		_, err := e.svc.IssueToken(ctx, TokenRequest{ClientID: clientID, ClientSecret: secret, RemoteAddr: deletedKeyClient})
		if err != iogate.ErrInvalidClient {
			t.Errorf("IssueToken for unknown client ID %q: %v, want ErrInvalidClient", clientID, err)
		}
	}
	if denials := e.denials(t); len(denials) != 0 {
		t.Errorf("token.denied records after requests for unknown client IDs = %d, want 0", len(denials))
	}
}

// TestDeletedKeyCreatedAgain checks that a client ID created again after its deletion works
// as the new key, and that its next deletion is recorded in the new key's account.
func TestDeletedKeyCreatedAgain(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, secret := e.createKey(t)
	if err := e.svc.DeleteKey(ctx, k.ClientID); err != nil {
		t.Fatal(err)
	}
	other := &iogate.Account{ID: iogate.NewID(), Name: "Other", Email: "ops@other.test", Status: iogate.AccountActive, CreatedAt: e.clock.now()}
	createAccount(t, e.svc, e.store, other)
	_, err := e.svc.ImportKey(ctx, ImportKeyRequest{CreateKeyRequest: CreateKeyRequest{AccountID: other.ID, Name: "again"}, ClientID: k.ClientID, Secret: iogate.Secret(secret)})
	if err != nil {
		t.Fatalf("ImportKey with the deleted client ID: %v", err)
	}
	if _, err := e.svc.IssueToken(ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: secret, RemoteAddr: deletedKeyClient}); err != nil {
		t.Fatalf("IssueToken for the key created again: %v", err)
	}
	if err := e.svc.DeleteKey(ctx, k.ClientID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.IssueToken(ctx, TokenRequest{ClientID: k.ClientID, ClientSecret: secret, RemoteAddr: deletedKeyClient})
	if !errors.Is(err, iogate.ErrInvalidClient) {
		t.Fatalf("IssueToken after the second deletion: %v, want ErrInvalidClient", err)
	}
	denials := e.denials(t)
	if len(denials) != 1 || denials[0].AccountID != other.ID || denials[0].Reason != iogate.DenyKeyDeleted {
		t.Errorf("token.denied records = %+v, want one key_deleted record in account %s", denials, other.ID)
	}
}

// TestImportDeletedClientID checks that a key cannot be imported under the client ID of a
// deleted key of the same account. The deleted key's unexpired tokens carry that client ID
// and would pass verification again. Another account may use the ID, because tokens also
// carry their account.
func TestImportDeletedClientID(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, secret := e.createKey(t)
	from := netip.MustParseAddr("192.0.2.1")
	issued := e.issue(t, k.ClientID, secret)
	revoked := e.issue(t, k.ClientID, secret)
	if err := e.svc.RevokeToken(ctx, k.ClientID, revoked, from); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if err := e.svc.DeleteKey(ctx, k.ClientID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}

	req := ImportKeyRequest{
		CreateKeyRequest: CreateKeyRequest{AccountID: e.accountID, Name: "imported again"},
		ClientID:         k.ClientID,
		Secret:           iogate.Secret("a new secret from the other system"),
	}
	_, err := e.svc.ImportKey(ctx, req)
	if iogate.ErrorCodeOf(err) != iogate.CodeConflict {
		t.Fatalf("ImportKey with the deleted client ID: error %v, want CodeConflict", err)
	}
	if !strings.Contains(err.Error(), "new client ID") {
		t.Errorf("ImportKey error %q does not name the next step", err)
	}
	for name, raw := range map[string]string{"issued": issued, "revoked": revoked} {
		if _, err := e.svc.Authenticate(ctx, raw, from); !errors.Is(err, iogate.ErrInvalidToken) {
			t.Errorf("%s token after the rejected import: error %v, want ErrInvalidToken", name, err)
		}
	}

	other := &iogate.Account{ID: iogate.NewID(), Name: "Other", Email: "ops@other.test", Status: iogate.AccountActive, CreatedAt: time.Now()}
	createAccount(t, e.svc, e.store, other)
	req.AccountID = other.ID
	if _, err := e.svc.ImportKey(ctx, req); err != nil {
		t.Fatalf("ImportKey into another account: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, issued, from); !errors.Is(err, iogate.ErrInvalidToken) {
		t.Errorf("token of the deleted key after an import into another account: error %v, want ErrInvalidToken", err)
	}
}

// TestImportDeletedClientIDAfterAuditPrune checks that ImportKey still rejects a deleted
// key's client ID after audit retention pruned the key.deleted record.
func TestImportDeletedClientIDAfterAuditPrune(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t)
	k, _ := e.createKey(t)
	if err := e.svc.DeleteKey(ctx, k.ClientID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	// The newest record of an account is never pruned, so another key follows.
	e.clock.advance(2 * time.Hour)
	e.createKey(t)
	if _, err := e.svc.PruneAudit(ctx, time.Hour); err != nil {
		t.Fatalf("PruneAudit: %v", err)
	}
	filter := iogate.AuditFilter{AccountID: e.accountID, Event: iogate.AuditKeyDeleted}
	if records, _, err := e.store.ListAuditRecords(ctx, filter, iogate.Page{}); err != nil || len(records) != 0 {
		t.Fatalf("key.deleted records after PruneAudit: %d, %v; want none", len(records), err)
	}

	_, err := e.svc.ImportKey(ctx, ImportKeyRequest{
		CreateKeyRequest: CreateKeyRequest{AccountID: e.accountID, Name: "imported again"},
		ClientID:         k.ClientID,
		Secret:           iogate.Secret("a new secret from the other system"),
	})
	if iogate.ErrorCodeOf(err) != iogate.CodeConflict {
		t.Fatalf("ImportKey with the deleted client ID after pruning: error %v, want CodeConflict", err)
	}
	if !strings.Contains(err.Error(), "belonged to a key of this account that was deleted") {
		t.Errorf("ImportKey error %q does not say that the client ID was deleted", err)
	}
}

// BenchmarkDeletedKeysHeap fills the map of deleted canonical client IDs to maxDeletedKeys
// entries and reports the heap it takes in MB, with no previous secret and with one for
// every key. Run it once:
//
//	go test ./auth -run '^$' -bench DeletedKeysHeap -benchtime 1x
func BenchmarkDeletedKeysHeap(b *testing.B) {
	for _, c := range []struct {
		name    string
		rotated bool
	}{{"no previous secret", false}, {"previous secret", true}} {
		b.Run(c.name, func(b *testing.B) {
			var extra *keyExtra
			if c.rotated {
				extra = &keyExtra{previous: &iogate.PreviousSecret{Hash: iogate.SecretHash{1}}}
			}
			var heap uint64
			for b.Loop() {
				before := heapAlloc()
				var d deletedKeys
				for i := range maxDeletedKeys {
					var id keyID
					binary.BigEndian.PutUint64(id[8:], uint64(i))
					st := keyState{account: uint32(i % 1000)}
					binary.BigEndian.PutUint64(st.current[:], uint64(i)+1)
					d.add(id, st, extra)
				}
				heap = heapAlloc() - before
				runtime.KeepAlive(&d)
			}
			b.ReportMetric(float64(heap)/1e6, "MB")
		})
	}
}

// heapAlloc returns the bytes of live heap objects after a garbage collection.
func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
