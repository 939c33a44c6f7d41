package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/pgtest"
)

// inFlight is the outcome of a request sent in the background: its response, or the
// error of a request that got none.
type inFlight struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// sendInBackground sends a request from a goroutine, which may not fail the test, and
// returns the channel that receives its outcome.
func sendInBackground(c *http.Client, method, target string, header map[string]string, body string) <-chan inFlight {
	out := make(chan inFlight, 1)
	go func() {
		req, err := http.NewRequest(method, target, strings.NewReader(body))
		if err != nil {
			out <- inFlight{err: err}
			return
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			out <- inFlight{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- inFlight{status: resp.StatusCode, header: resp.Header, body: b, err: err}
	}()
	return out
}

// TestPostgresHangAnswers503 freezes the database with SIGSTOP, so that it hangs instead of
// failing, while token, vault and revocation requests wait on it. Each request gets 503
// with Retry-After once --store-timeout passes, and a vault creation 504, never a
// connection closed without a response at --write-timeout. The node serves again once the
// database resumes.
func TestPostgresHangAnswers503(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	d := newPGDeployment(t, cluster.NewDatabase(t))
	const storeTimeout = 2 * time.Second
	// The staleness bound is longer than the store timeout, so that the requests below
	// reach the store rather than being refused for a stale key view.
	node := d.startNode(t, "node", "--store-timeout", storeTimeout.String(), "--max-staleness", "20s")
	accountID := d.createAccount(t)
	var k createdKey
	d.cliJSON(t, &k, "key", "create", "--account", accountID, "--name", "hang", "--scope", "vaults:read", "--scope", "vaults:write")
	waitForKey(t, node, k.ClientID, k.ClientSecret)
	tok := accessToken(t, node, k.ClientID, k.ClientSecret)
	bearer := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	created := do(t, node.Client, "POST", node.URL+"/v1/vaults", bearer, `{"name":"Cold","threshold":2}`)
	if created.status != http.StatusCreated {
		t.Fatalf("POST /v1/vaults before the hang: status %d, want 201; body %s", created.status, created.body)
	}
	vaultID, _ := created.json(t)["id"].(string)

	cluster.Freeze(t)
	frozen := time.Now()
	revoke := url.Values{"token": {tok}}.Encode()
	basic := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basicAuth(k.ClientID, k.ClientSecret)}
	requests := []struct {
		name, method, path string
		header             map[string]string
		body               string
		oauth              bool
	}{
		{"token request", "POST", "/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, k.ClientSecret), false},
		{"OAuth token request", "POST", "/oauth2/token", basic, "grant_type=client_credentials", true},
		{"vault list", "GET", "/v1/vaults", bearer, "", false},
		{"vault read", "GET", "/v1/vaults/" + vaultID, bearer, "", false},
		{"token revocation", "POST", "/oauth2/revoke", basic, revoke, true},
	}
	// A vault creation may still commit after the timeout, so it gets 504 instead of 503.
	// A client can repeat it safely only with its Idempotency-Key, as below once the
	// database resumes.
	keyed := map[string]string{"Idempotency-Key": "hang-1"}
	for name, value := range bearer {
		keyed[name] = value
	}
	creation := sendInBackground(node.Client, "POST", node.URL+"/v1/vaults", keyed, `{"name":"Hot","threshold":1}`)
	outcomes := make([]<-chan inFlight, len(requests))
	for i, r := range requests {
		outcomes[i] = sendInBackground(node.Client, r.method, node.URL+r.path, r.header, r.body)
	}

	// Each response must come within the store timeout plus a margin for a loaded
	// machine, and well before the 30s write timeout.
	deadline := frozen.Add(storeTimeout + 8*time.Second)
	for i, r := range requests {
		var got inFlight
		select {
		case got = <-outcomes[i]:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("%s: no response %s after the database froze, with --store-timeout %s", r.name, time.Since(frozen).Round(time.Second), storeTimeout)
		}
		if got.err != nil {
			t.Errorf("%s: %v, want a 503 response", r.name, got.err)
			continue
		}
		if got.status != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503; body %s", r.name, got.status, redactBody(got.body))
			continue
		}
		if ra := got.header.Get("Retry-After"); ra != "1" {
			t.Errorf("%s: Retry-After %q, want 1", r.name, ra)
		}
		var body map[string]any
		if err := json.Unmarshal(got.body, &body); err != nil {
			t.Errorf("%s: body is not JSON: %v", r.name, err)
			continue
		}
		code, detail := body["code"], body["detail"]
		wantCode := "unavailable"
		if r.oauth {
			code, detail, wantCode = body["error"], body["error_description"], "temporarily_unavailable"
		}
		if code != wantCode {
			t.Errorf("%s: error code %v, want %s", r.name, code, wantCode)
		}
		if want := "the database did not respond within 2s; retry later"; detail != want {
			t.Errorf("%s: detail %q, want %q", r.name, detail, want)
		}
	}
	select {
	case got := <-creation:
		switch {
		case got.err != nil:
			t.Errorf("vault creation: %v, want a 504 response", got.err)
		case got.status != http.StatusGatewayTimeout:
			t.Errorf("vault creation: status %d, want 504; body %s", got.status, redactBody(got.body))
		case !strings.Contains(string(got.body), `"code":"outcome_unknown"`):
			t.Errorf("vault creation: body %s, want code outcome_unknown", redactBody(got.body))
		case !strings.Contains(string(got.body), "Send the same request with the same Idempotency-Key header again"):
			t.Errorf("vault creation: body %s, want the advice to repeat the request with its key", redactBody(got.body))
		}
	case <-time.After(time.Until(deadline)):
		t.Fatalf("vault creation: no response %s after the database froze", time.Since(frozen).Round(time.Second))
	}
	// Only the first failure is logged in full.
	waitLogWithin(t, node, msgRequestFailed, 5*time.Second)
	if n := strings.Count(node.Logs(), `"msg":"`+msgRequestFailed+`"`); n != 1 {
		t.Errorf("the server logged %d %q lines for the failures of one outage, want 1", n, msgRequestFailed)
	}

	cluster.Thaw(t)
	waitStatus(t, "token request after the database resumed", http.StatusOK, 30*time.Second, func() int {
		return status(node.Client, "POST", node.URL+"/v1/auth/accessToken", jsonHeader, credentialsJSON(k.ClientID, k.ClientSecret))
	})
	fresh := accessToken(t, node, k.ClientID, k.ClientSecret)
	if r := do(t, node.Client, "GET", node.URL+"/v1/vaults/"+vaultID, bearerHeader(fresh), ""); r.status != http.StatusOK {
		t.Errorf("GET /v1/vaults/%s after the database resumed: status %d, want 200", vaultID, r.status)
	}
	// The repeat of the creation that got 504 returns its vault if it was committed, and
	// creates it otherwise. Either way the account has one vault of that name.
	keyed["Authorization"] = "Bearer " + fresh
	if r := do(t, node.Client, "POST", node.URL+"/v1/vaults", keyed, `{"name":"Hot","threshold":1}`); r.status != http.StatusCreated {
		t.Errorf("repeat of the creation that got 504: status %d, want 201; body %s", r.status, redactBody(r.body))
	}
	if r := do(t, node.Client, "POST", node.URL+"/v1/vaults", keyed, `{"name":"Hot","threshold":1}`); r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("second repeat of the creation that got 504: status %d, Idempotent-Replayed %q; want a replay", r.status, r.header.Get("Idempotent-Replayed"))
	}
	if r := getVaults(t, node, fresh); strings.Count(string(r.body), `"name":"Hot"`) != 1 {
		t.Errorf("GET /v1/vaults after the repeats: status %d, vault Hot listed %d times, want once", r.status, strings.Count(string(r.body), `"name":"Hot"`))
	}
	waitLogWithin(t, node, msgReadyAgain, 10*time.Second)

	logs := node.SyncedLogs(t)
	for name, secret := range map[string]string{"access token": tok, "fresh access token": fresh, "client secret": k.ClientSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the server log contains the %s", name)
		}
	}
}
