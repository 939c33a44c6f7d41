package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/client"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// keyedCreation returns the header of a vault creation with bearer token tok and
// Idempotency-Key key.
func keyedCreation(tok, key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json", "Idempotency-Key": key}
}

// vaultIDOf returns the id of the vault in a response body.
func vaultIDOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(body, &v); err != nil || v.ID == "" {
		t.Fatalf("body %s is not a vault: %v", redactBody(body), err)
	}
	return v.ID
}

// TestVaultCreationReplay repeats a vault creation with its Idempotency-Key on a running
// server, over raw HTTP and through the Go client. Every repeat returns the first vault,
// marked by Idempotent-Replayed, another body with the key gets 409, and the account holds
// one new vault. Each response is checked against /openapi.json.
func TestVaultCreationReplay(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	k := createKey(t, f.srv.DataDir, f.accountID, "writer", "--scope", "vaults:read", "--scope", "vaults:write")
	waitForKey(t, f.srv, k.ClientID, k.ClientSecret)
	tok := accessToken(t, f.srv, k.ClientID, k.ClientSecret)
	header := keyedCreation(tok, "order-42")

	first := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/vaults", header, `{"name":"Cold","threshold":2}`)
	if first.status != http.StatusCreated {
		t.Fatalf("POST /v1/vaults with a key: status %d, want 201; body %s", first.status, redactBody(first.body))
	}
	if got := first.header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("first POST: Idempotent-Replayed %q, want none", got)
	}
	id := vaultIDOf(t, first.body)

	replay := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/vaults", header, `{"threshold":2,"name":"Cold"}`)
	if replay.status != http.StatusCreated {
		t.Fatalf("repeated POST with the key: status %d, want 201; body %s", replay.status, redactBody(replay.body))
	}
	if got := replay.header.Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("repeated POST: Idempotent-Replayed %q, want true", got)
	}
	if got := replay.header.Get("Location"); got != "/v1/vaults/"+id {
		t.Errorf("repeated POST: Location %q, want /v1/vaults/%s", got, id)
	}
	if string(replay.body) != string(first.body) {
		t.Errorf("repeated POST: body %s, want the first response's %s", replay.body, first.body)
	}

	conflict := do(t, f.srv.Client, "POST", f.srv.URL+"/v1/vaults", header, `{"name":"Cold","threshold":3}`)
	if conflict.status != http.StatusConflict {
		t.Fatalf("POST with the key and another threshold: status %d, want 409; body %s", conflict.status, redactBody(conflict.body))
	}
	if code := conflict.json(t)["code"]; code != "conflict" {
		t.Errorf("POST with the key and another threshold: code %v, want conflict", code)
	}

	c, err := client.New(f.srv.URL, k.ClientID, k.ClientSecret, client.WithHTTPClient(f.srv.Client))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := c.CreateVaultWithIdempotencyKey(ctx, "Cold", 2, "order-42")
	if err != nil || v.ID != id {
		t.Errorf("client CreateVaultWithIdempotencyKey with the key = %+v, %v; want vault %s", v, err, id)
	}
	var apiErr *client.APIError
	if _, err := c.CreateVaultWithIdempotencyKey(ctx, "Hot", 2, "order-42"); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict {
		t.Errorf("client CreateVaultWithIdempotencyKey with the key and another name = %v, want *APIError 409", err)
	}

	names := map[string]int{}
	for v, err := range c.Vaults(ctx) {
		if err != nil {
			t.Fatalf("Vaults: %v", err)
		}
		names[v.Name]++
	}
	if names["Cold"] != 1 || len(names) != 2 {
		t.Errorf("vaults by name after one creation and its repeats = %v, want Treasury and Cold once each", names)
	}
}

// TestPostgresVaultCreationOnTwoNodes sends one creation with one Idempotency-Key to two
// nodes on one database at once. Every request gets the same vault, one of them without
// Idempotent-Replayed, and both nodes list that vault once.
func TestPostgresVaultCreationOnTwoNodes(t *testing.T) {
	d := newPGDeployment(t, pgtest.NewDatabase(t))
	a := d.startNode(t, "a", "--issuer", "https://iogate.test")
	b := d.startNode(t, "b", "--issuer", "https://iogate.test")
	accountID := d.createAccount(t)
	var k createdKey
	d.cliJSON(t, &k, "key", "create", "--account", accountID, "--name", "writer", "--scope", "vaults:read", "--scope", "vaults:write")
	waitForKey(t, a, k.ClientID, k.ClientSecret)
	waitForKey(t, b, k.ClientID, k.ClientSecret)
	tok := accessToken(t, a, k.ClientID, k.ClientSecret)
	// A 404 for a vault that does not exist shows that node b accepts the token, and
	// unlike a list it leaves nothing in b's memory that a creation on a would make stale.
	waitStatus(t, "node b with a token from node a", http.StatusNotFound, 2*time.Second, func() int {
		return status(b.Client, "GET", b.URL+"/v1/vaults/0190a1b2-0000-7000-8000-000000000000", bearerHeader(tok), "")
	})

	const perNode = 4
	var outcomes []<-chan inFlight
	for range perNode {
		for _, node := range []*testenv.Server{a, b} {
			outcomes = append(outcomes, sendInBackground(node.Client, "POST", node.URL+"/v1/vaults", keyedCreation(tok, "two-nodes"), `{"name":"Cold","threshold":2}`))
		}
	}
	ids := map[string]int{}
	fresh := 0
	for i, outcome := range outcomes {
		var got inFlight
		select {
		case got = <-outcome:
		case <-time.After(30 * time.Second):
			t.Fatalf("request %d: no response within 30s", i+1)
		}
		if got.err != nil {
			t.Fatalf("request %d: %v", i+1, got.err)
		}
		if got.status != http.StatusCreated {
			t.Fatalf("request %d: status %d, want 201; body %s", i+1, got.status, redactBody(got.body))
		}
		ids[vaultIDOf(t, got.body)]++
		if got.header.Get("Idempotent-Replayed") == "" {
			fresh++
		}
	}
	if len(ids) != 1 {
		t.Errorf("%d concurrent requests with one key on two nodes returned vaults %v, want one", len(outcomes), ids)
	}
	if fresh != 1 {
		t.Errorf("responses without Idempotent-Replayed = %d, want 1", fresh)
	}
	for name, node := range map[string]*testenv.Server{"a": a, "b": b} {
		r := getVaults(t, node, tok)
		if r.status != http.StatusOK {
			t.Fatalf("GET /v1/vaults on node %s: status %d", name, r.status)
		}
		if got := strings.Count(string(r.body), `"name":"Cold"`); got != 1 {
			t.Errorf("GET /v1/vaults on node %s lists vault Cold %d times, want once", name, got)
		}
	}
}
