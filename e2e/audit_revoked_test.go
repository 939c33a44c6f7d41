package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/internal/testenv"
)

// revocation is one POST /oauth2/revoke of the audit tests and the response it expects.
type revocation struct {
	name   string
	header http.Header
	token  string
	status int
}

// revokeAll sends each revocation through c and fails the test on an unexpected status.
func revokeAll(t *testing.T, c *http.Client, srv *testenv.Server, revocations []revocation) {
	t.Helper()
	for _, rv := range revocations {
		r := send(t, c, "POST", srv.URL+"/oauth2/revoke", rv.header, tokenForm(rv.token))
		if r.status != rv.status {
			t.Fatalf("revoke %s: status %d, want %d; body %s", rv.name, r.status, rv.status, redactBody(r.body))
		}
	}
}

// tokenID returns the jti of the client's active token tok, read through introspection.
func tokenID(t *testing.T, srv *testenv.Server, clientID, secret, tok string) string {
	t.Helper()
	r := send(t, srv.Client, "POST", srv.URL+"/oauth2/introspect", formHeader(clientID, secret), tokenForm(tok))
	jti, _ := r.json(t)["jti"].(string)
	if r.status != http.StatusOK || jti == "" {
		t.Fatalf("introspect: status %d and no jti, want an active token", r.status)
	}
	return jti
}

// checkRevokedRecord fails the test unless records is one token.revoked record of the
// token jti, made by clientID from ip.
func checkRevokedRecord(t *testing.T, records []auditRecord, clientID, jti, ip string) {
	t.Helper()
	if len(records) != 1 {
		t.Fatalf("token.revoked records = %d, want 1", len(records))
	}
	r := records[0]
	if r.Event != "token.revoked" {
		t.Errorf("record event = %s, want token.revoked", r.Event)
	}
	if r.Actor.Type != "client" || r.Actor.ID != clientID || r.Actor.IP != ip {
		t.Errorf("token.revoked actor = %+v, want client %s from %s", r.Actor, clientID, ip)
	}
	if r.ClientID != clientID {
		t.Errorf("token.revoked clientId = %q, want %q", r.ClientID, clientID)
	}
	if r.TokenID != jti {
		t.Errorf("token.revoked tokenId = %q, want the token's jti %q", r.TokenID, jti)
	}
}

// TestAuditRevokedToken revokes a token over HTTPS from 127.0.0.3 and checks that the
// account's log gains exactly one token.revoked record: none for a repeated revocation,
// a string that is no token, or another client's token. The chain still verifies, and the
// token is rejected afterwards.
func TestAuditRevokedToken(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	other := createKey(t, dir, f.accountID, "other")
	waitForKey(t, f.srv, other.ClientID, other.ClientSecret)
	from := clientFrom(t, f.srv, "127.0.0.3")

	tok := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	jti := tokenID(t, f.srv, f.clientID, f.clientSecret, tok)
	othersToken := oauthToken(t, f.srv, other.ClientID, other.ClientSecret, "")
	own := formHeader(f.clientID, f.clientSecret)

	revokeAll(t, from, f.srv, []revocation{{"own token", own, tok, http.StatusOK}})
	records := auditList(t, dir, f.accountID, "--event", "token.revoked")
	checkRevokedRecord(t, records, f.clientID, jti, "127.0.0.3")

	revokeAll(t, from, f.srv, []revocation{
		{"own token again", own, tok, http.StatusOK},
		{"not a token", own, "not-a-token", http.StatusOK},
		{"another client's token", own, othersToken, http.StatusBadRequest},
	})
	again := auditList(t, dir, f.accountID, "--event", "token.revoked")
	checkRevokedRecord(t, again, f.clientID, jti, "127.0.0.3")
	if again[0].Seq != records[0].Seq || again[0].Hash != records[0].Hash {
		t.Errorf("token.revoked record after the repeated revocation: seq %d, hash %s; want the first one's seq %d, hash %s",
			again[0].Seq, again[0].Hash, records[0].Seq, records[0].Hash)
	}
	if byClient := auditList(t, dir, f.accountID, "--client-id", f.clientID, "--event", "token.revoked"); len(byClient) != 1 {
		t.Errorf("token.revoked records filtered by client ID = %d, want 1", len(byClient))
	}

	res := testenv.RunCLI(t, dir, nil, "audit", "list", "--account", f.accountID, "--limit", "200", "--json")
	checkNoSecrets(t, "audit list", res.Stdout, map[string]string{
		"revoked token": tok, "other token": othersToken, "client secret": f.clientSecret, "other client secret": other.ClientSecret,
	})
	checkAuditVerifies(t, dir)
	if r := getVaults(t, f.srv, tok); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/vaults with the revoked token: status %d, want 401", r.status)
	}
	if r := getVaults(t, f.srv, othersToken); r.status != http.StatusOK {
		t.Errorf("GET /v1/vaults with the other client's token: status %d, want 200", r.status)
	}
}

// TestPostgresAuditRevokedToken revokes a token twice on a node backed by PostgreSQL and
// checks that the log holds one token.revoked record and that its chain verifies.
func TestPostgresAuditRevokedToken(t *testing.T) {
	d := newPGDeployment(t, pgtest.NewDatabase(t))
	node := d.startNode(t, "a")
	accountID := d.createAccount(t)
	k := d.createKey(t, accountID, "revoker")
	waitForKey(t, node, k.ClientID, k.ClientSecret)

	tok := oauthToken(t, node, k.ClientID, k.ClientSecret, "")
	jti := tokenID(t, node, k.ClientID, k.ClientSecret, tok)
	own := formHeader(k.ClientID, k.ClientSecret)
	revokeAll(t, node.Client, node, []revocation{
		{"own token", own, tok, http.StatusOK},
		{"own token again", own, tok, http.StatusOK},
	})

	var out struct{ Data []auditRecord }
	d.cliJSON(t, &out, "audit", "list", "--account", accountID, "--event", "token.revoked")
	checkRevokedRecord(t, out.Data, k.ClientID, jti, "127.0.0.1")
	var report json.RawMessage
	d.cliJSON(t, &report, "audit", "verify")
	if r := getVaults(t, node, tok); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/vaults with the revoked token: status %d, want 401", r.status)
	}
}
