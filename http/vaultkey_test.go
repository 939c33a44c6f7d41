package http

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
)

// postVault sends POST /v1/vaults with body, the bearer token tok and one Idempotency-Key
// header per value of keys, and returns the recorded response.
func postVault(handler http.Handler, tok, body string, keys ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/v1/vaults", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Content-Type", "application/json")
	for _, key := range keys {
		r.Header.Add("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	return rec
}

// problemOf decodes the problem-details body of rec.
func problemOf(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %s is not problem details: %v", rec.Body, err)
	}
	return p
}

// vaultOf decodes the vault in the body of rec.
func vaultOf(t *testing.T, rec *httptest.ResponseRecorder) iogate.Vault {
	t.Helper()
	var v iogate.Vault
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %s is not a vault: %v", rec.Body, err)
	}
	return v
}

// newAccountWriter creates another account and a key of it with the vaults:read and
// vaults:write scopes, and returns the account's ID and an access token of the key.
func newAccountWriter(t *testing.T, api *testAPI) (accountID, token string) {
	t.Helper()
	account := &iogate.Account{ID: iogate.NewID(), Name: "Globex", Email: "ops@globex.test", Status: iogate.AccountActive, CreatedAt: time.Now()}
	createAccount(t, api.engine, api.srv.store, account)
	_, _, token = api.newWriterIn(t, account.ID)
	return account.ID, token
}

// createKeyedVault creates vault Cold with threshold 2 and the Idempotency-Key
// "order-42", and returns the response.
func createKeyedVault(t *testing.T, handler http.Handler, tok string) *httptest.ResponseRecorder {
	t.Helper()
	rec := postVault(handler, tok, `{"name":"Cold","threshold":2}`, "order-42")
	if rec.Code != http.StatusCreated {
		t.Fatalf("first POST with a key: status %d, want 201; body %s", rec.Code, rec.Body)
	}
	return rec
}

// storedVaults returns the vaults of accountID in the store.
func storedVaults(t *testing.T, store iogate.Store, accountID string) []*iogate.Vault {
	t.Helper()
	vaults, _, err := store.ListVaults(context.Background(), accountID, iogate.Page{Limit: iogate.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	return vaults
}

// TestCreateVaultReplay checks that a POST /v1/vaults repeated with its Idempotency-Key
// returns the first response, marked as a replay, and creates nothing. The body is
// compared as parsed fields, so another field order or spacing is the same request.
func TestCreateVaultReplay(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	writer, _, tok := api.newWriter(t)

	first := createKeyedVault(t, handler, tok)
	if got := first.Header().Values("Idempotent-Replayed"); len(got) != 0 {
		t.Errorf("first POST with a key: Idempotent-Replayed %q, want none", got)
	}
	created := vaultOf(t, first)

	replay := postVault(handler, tok, `{ "threshold": 2, "name": "Cold" }`, "order-42")
	if replay.Code != http.StatusCreated {
		t.Fatalf("repeated POST with the key: status %d, want 201; body %s", replay.Code, replay.Body)
	}
	if got := replay.Header().Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("repeated POST with the key: Idempotent-Replayed %q, want true", got)
	}
	if got, want := replay.Header().Get("Location"), "/v1/vaults/"+created.ID; got != want {
		t.Errorf("repeated POST with the key: Location %q, want %q", got, want)
	}
	if got, want := replay.Header().Get("Content-Type"), first.Header().Get("Content-Type"); got != want {
		t.Errorf("repeated POST with the key: Content-Type %q, want %q as the first response", got, want)
	}
	if replay.Body.String() != first.Body.String() {
		t.Errorf("repeated POST with the key: body %s, want the first response's %s", replay.Body, first.Body)
	}

	// Another key of the account shares the account's idempotency keys.
	_, _, otherTok := api.newWriter(t)
	fromOtherKey := postVault(handler, otherTok, `{"name":"Cold","threshold":2}`, "order-42")
	if fromOtherKey.Code != http.StatusCreated || fromOtherKey.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("POST with the key from another API key of the account: status %d, Idempotent-Replayed %q; want a replay (201, true)",
			fromOtherKey.Code, fromOtherKey.Header().Get("Idempotent-Replayed"))
	}
	if got := vaultOf(t, fromOtherKey).ID; got != created.ID {
		t.Errorf("POST with the key from another API key of the account returned vault %s, want %s", got, created.ID)
	}

	if vaults := storedVaults(t, api.srv.store, writer.AccountID); len(vaults) != 1 || vaults[0].ID != created.ID {
		t.Errorf("vaults after one creation and two replays = %d, want only %s", len(vaults), created.ID)
	}
	records := 0
	err := api.srv.store.AuditRecords(context.Background(), writer.AccountID, func(r *iogate.AuditRecord) error {
		if r.Event == iogate.AuditVaultCreated {
			records++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if records != 1 {
		t.Errorf("vault.created records after one creation and two replays = %d, want 1", records)
	}

	// The list that GET /v1/vaults serves from memory holds the vault once.
	r := httptest.NewRequest("GET", "/v1/vaults", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	list := httptest.NewRecorder()
	handler.ServeHTTP(list, r)
	if got := strings.Count(list.Body.String(), created.ID); list.Code != http.StatusOK || got != 1 {
		t.Errorf("GET /v1/vaults after the replays: status %d, vault %s listed %d times; want 200 and once", list.Code, created.ID, got)
	}
}

// TestCreateVaultKeyConflict checks that a key used for one vault is rejected with 409
// for a request with another name or threshold, and that the message names the vault.
func TestCreateVaultKeyConflict(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	writer, _, tok := api.newWriter(t)
	first := createKeyedVault(t, handler, tok)
	created := vaultOf(t, first)

	for _, c := range []struct{ name, body string }{
		{"other name", `{"name":"Hot","threshold":2}`},
		{"other threshold", `{"name":"Cold","threshold":3}`},
		{"name in other case", `{"name":"cold","threshold":2}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := postVault(handler, tok, c.body, "order-42")
			if rec.Code != http.StatusConflict {
				t.Fatalf("POST %s with a used key: status %d, want 409; body %s", c.body, rec.Code, rec.Body)
			}
			p := problemOf(t, rec)
			if p.Code != string(iogate.CodeConflict) {
				t.Errorf("problem code = %q, want %q", p.Code, iogate.CodeConflict)
			}
			want := `Idempotency-Key "order-42" was already used to create vault ` + created.ID + ` with another name or threshold`
			if !strings.Contains(p.Detail, want) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, want)
			}
			if got := rec.Header().Get("Idempotent-Replayed"); got != "" {
				t.Errorf("Idempotent-Replayed %q on a conflict, want none", got)
			}
		})
	}
	if vaults := storedVaults(t, api.srv.store, writer.AccountID); len(vaults) != 1 {
		t.Errorf("vaults after conflicting requests = %d, want 1", len(vaults))
	}
}

// TestCreateVaultKeyPerAccount checks that another account's request with the same key
// creates a vault of its own.
func TestCreateVaultKeyPerAccount(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	_, _, tok := api.newWriter(t)
	otherAccount, otherTok := newAccountWriter(t, api)

	mine := postVault(handler, tok, `{"name":"Cold","threshold":2}`, "order-42")
	theirs := postVault(handler, otherTok, `{"name":"Cold","threshold":2}`, "order-42")
	if mine.Code != http.StatusCreated || theirs.Code != http.StatusCreated {
		t.Fatalf("POST with one key from two accounts: statuses %d and %d, want 201 for both", mine.Code, theirs.Code)
	}
	if got := theirs.Header().Get("Idempotent-Replayed"); got != "" {
		t.Errorf("the other account's POST: Idempotent-Replayed %q, want none", got)
	}
	if vaultOf(t, mine).ID == vaultOf(t, theirs).ID {
		t.Error("two accounts that sent one key got the same vault")
	}
	if vaults := storedVaults(t, api.srv.store, otherAccount); len(vaults) != 1 || vaults[0].ID != vaultOf(t, theirs).ID {
		t.Errorf("vaults of the other account = %d, want only the one its request created", len(vaults))
	}
}

// TestCreateVaultInvalidKey checks that an Idempotency-Key header outside 1 to 255
// printable ASCII characters, or repeated, is rejected with 400 invalid_request naming
// the header, that the message quotes at most iogate.MaxQuotedInput bytes of the value,
// and that no vault is created.
func TestCreateVaultInvalidKey(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	writer, _, tok := api.newWriter(t)

	long := strings.Repeat("k", iogate.MaxIdempotencyKeyLength+1)
	cases := []struct {
		name string
		keys []string
		// wantDetail is a part of the expected message.
		wantDetail string
	}{
		{"empty", []string{""}, `invalid Idempotency-Key header "": expected 1 to 255 printable ASCII characters`},
		{"too long", []string{long}, `invalid Idempotency-Key header "` + long[:iogate.MaxQuotedInput] + `" (first 64 of 256 bytes)`},
		{"tab", []string{"order\t42"}, `invalid Idempotency-Key header "order\t42"`},
		{"non-ASCII", []string{"clé"}, `invalid Idempotency-Key header "clé"`},
		{"obsolete text byte", []string{"order\xff"}, `invalid Idempotency-Key header "order\xff"`},
		{"DEL", []string{"order\x7f"}, `invalid Idempotency-Key header "order\x7f"`},
		{"repeated", []string{"order-42", "order-42"}, "repeated Idempotency-Key header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := postVault(handler, tok, `{"name":"Cold","threshold":2}`, c.keys...)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("POST with Idempotency-Key %q: status %d, want 400; body %s", c.keys, rec.Code, rec.Body)
			}
			p := problemOf(t, rec)
			if p.Code != string(iogate.CodeInvalid) {
				t.Errorf("problem code = %q, want %q", p.Code, iogate.CodeInvalid)
			}
			if !strings.Contains(p.Detail, c.wantDetail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, c.wantDetail)
			}
			if len(p.Detail) > 200 {
				t.Errorf("detail is %d bytes long, want a message that quotes a cut value", len(p.Detail))
			}
		})
	}
	if vaults := storedVaults(t, api.srv.store, writer.AccountID); len(vaults) != 0 {
		t.Errorf("vaults after requests with invalid keys = %d, want none", len(vaults))
	}

	// The limits themselves are accepted: 255 characters, spaces and punctuation inside.
	longest := "a " + strings.Repeat("~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", 8)[:iogate.MaxIdempotencyKeyLength-3] + "z"
	if rec := postVault(handler, tok, `{"name":"Cold","threshold":2}`, longest); rec.Code != http.StatusCreated {
		t.Errorf("POST with a key of %d printable characters: status %d, want 201; body %s", len(longest), rec.Code, rec.Body)
	}
}

// TestCreateVaultKeyTrimmed checks that spaces and tabs around an Idempotency-Key are not
// part of it. Go's HTTP/2 server passes them to the handler, as httptest does here, while
// its HTTP/1.1 server drops them, so a key with them must name the same creation.
func TestCreateVaultKeyTrimmed(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	writer, _, tok := api.newWriter(t)
	created := vaultOf(t, createKeyedVault(t, handler, tok))

	for _, key := range []string{"order-42 ", " order-42", "\torder-42\t", "  order-42  "} {
		rec := postVault(handler, tok, `{"name":"Cold","threshold":2}`, key)
		if rec.Code != http.StatusCreated {
			t.Fatalf("POST with Idempotency-Key %q: status %d, want 201; body %s", key, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("POST with Idempotency-Key %q: Idempotent-Replayed %q, want true", key, got)
		}
		if got := vaultOf(t, rec).ID; got != created.ID {
			t.Errorf("POST with Idempotency-Key %q returned vault %s, want %s of the key \"order-42\"", key, got, created.ID)
		}
	}

	blank := postVault(handler, tok, `{"name":"Cold","threshold":2}`, " \t ")
	if blank.Code != http.StatusBadRequest {
		t.Errorf("POST with an Idempotency-Key of only spaces and tabs: status %d, want 400; body %s", blank.Code, blank.Body)
	}
	if vaults := storedVaults(t, api.srv.store, writer.AccountID); len(vaults) != 1 {
		t.Errorf("vaults after replays with spaces around the key = %d, want 1", len(vaults))
	}
}

// TestCreateVaultConcurrentKey sends one creation with one key from several goroutines
// at once. Every request gets the same vault, exactly one without Idempotent-Replayed,
// and the store holds one vault.
func TestCreateVaultConcurrentKey(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	writer, _, tok := api.newWriter(t)

	const requests = 8
	recs := make([]*httptest.ResponseRecorder, requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			<-start
			recs[i] = postVault(handler, tok, `{"name":"Cold","threshold":2}`, "concurrent")
		})
	}
	close(start)
	wg.Wait()

	ids := map[string]int{}
	fresh := 0
	for i, rec := range recs {
		if rec.Code != http.StatusCreated {
			t.Fatalf("request %d: status %d, want 201; body %s", i+1, rec.Code, rec.Body)
		}
		ids[vaultOf(t, rec).ID]++
		if rec.Header().Get("Idempotent-Replayed") == "" {
			fresh++
		}
	}
	if len(ids) != 1 {
		t.Errorf("%d concurrent requests with one key returned vaults %v, want one vault", requests, ids)
	}
	if fresh != 1 {
		t.Errorf("responses without Idempotent-Replayed = %d, want 1, the request that created the vault", fresh)
	}
	if vaults := storedVaults(t, api.srv.store, writer.AccountID); len(vaults) != 1 {
		t.Errorf("vaults after %d concurrent requests with one key = %d, want 1", requests, len(vaults))
	}
}

// lostAckStore is the real store whose vault creations lose their acknowledgement. While
// lose is set, CreateVaultOnce commits and then waits until the request's context ends,
// as if the database's reply had been lost on the way.
type lostAckStore struct {
	iogate.Store
	lose atomic.Bool
}

func (s *lostAckStore) CreateVaultOnce(ctx context.Context, v *iogate.Vault, key string, rec *iogate.AuditRecord) (*iogate.Vault, bool, error) {
	if !s.lose.Load() {
		return s.Store.CreateVaultOnce(ctx, v, key, rec)
	}
	if _, _, err := s.Store.CreateVaultOnce(context.WithoutCancel(ctx), v, key, rec); err != nil {
		return nil, false, err
	}
	select {
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	case <-time.After(10 * time.Second):
		return nil, false, iogate.Errorf(iogate.CodeInternal, "the request's context did not end within 10s")
	}
}

// TestCreateVaultReplayAfterTimeout creates a vault whose commit is not confirmed within
// the store timeout. The client gets 504 outcome_unknown with the advice to repeat the
// request with its key, and the repeat returns the vault that was created.
func TestCreateVaultReplayAfterTimeout(t *testing.T) {
	var store *lostAckStore
	api := newTestAPIOnStore(t, Options{}, slog.New(slog.DiscardHandler), auth.Config{StoreTimeout: testStoreTimeout}, func(db *sqlite.DB) iogate.Store {
		store = &lostAckStore{Store: db}
		return store
	})
	handler := api.srv.Handler()
	writer, _, tok := api.newWriter(t)
	store.lose.Store(true)

	timedOut := postVault(handler, tok, `{"name":"Cold","threshold":2}`, "order-42")
	if timedOut.Code != http.StatusGatewayTimeout {
		t.Fatalf("POST whose commit is not confirmed: status %d, want 504; body %s", timedOut.Code, timedOut.Body)
	}
	p := problemOf(t, timedOut)
	if p.Code != string(iogate.CodeOutcomeUnknown) {
		t.Errorf("problem code = %q, want %q", p.Code, iogate.CodeOutcomeUnknown)
	}
	want := "the database did not confirm the new vault within 200ms: it may or may not exist. " +
		"Send the same request with the same Idempotency-Key header again: it returns the vault if it exists and creates it otherwise"
	if p.Detail != want {
		t.Errorf("detail %q, want %q", p.Detail, want)
	}
	lost := storedVaults(t, store, writer.AccountID)
	if len(lost) != 1 {
		t.Fatalf("vaults after the unconfirmed commit = %d, want 1", len(lost))
	}

	keyless := postVault(handler, tok, `{"name":"Hot","threshold":1}`)
	if keyless.Code != http.StatusGatewayTimeout {
		t.Fatalf("POST without a key whose commit is not confirmed: status %d, want 504; body %s", keyless.Code, keyless.Body)
	}
	if got := problemOf(t, keyless).Detail; !strings.Contains(got, "List the vaults before you send the request again. Send an Idempotency-Key header") {
		t.Errorf("detail without a key %q, want the advice to list the vaults and to send an Idempotency-Key header", got)
	}

	store.lose.Store(false)
	replay := postVault(handler, tok, `{"name":"Cold","threshold":2}`, "order-42")
	if replay.Code != http.StatusCreated {
		t.Fatalf("repeated POST after the 504: status %d, want 201; body %s", replay.Code, replay.Body)
	}
	if got := replay.Header().Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("repeated POST after the 504: Idempotent-Replayed %q, want true", got)
	}
	if got := vaultOf(t, replay).ID; got != lost[0].ID {
		t.Errorf("repeated POST after the 504 returned vault %s, want %s, the one whose commit was not confirmed", got, lost[0].ID)
	}
	if vaults := storedVaults(t, store, writer.AccountID); len(vaults) != 2 {
		t.Errorf("vaults after the replay = %d, want 2: the keyed one and the keyless one", len(vaults))
	}
}
