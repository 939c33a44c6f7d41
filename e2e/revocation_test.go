package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// tokenForm is the body of an introspection or revocation request for tok.
func tokenForm(tok string) string { return "token=" + url.QueryEscape(tok) }

func TestIntrospection(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	dir := f.srv.DataDir
	other := createKey(t, dir, f.accountID, "other")
	doomed := createKey(t, dir, f.accountID, "doomed")
	waitForKey(t, f.srv, doomed.ClientID, doomed.ClientSecret)

	own := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	revoked := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	if r := send(t, f.srv.Client, "POST", f.srv.URL+"/oauth2/revoke", formHeader(f.clientID, f.clientSecret), tokenForm(revoked)); r.status != http.StatusOK {
		t.Fatalf("revoke: status %d, want 200", r.status)
	}
	othersToken := oauthToken(t, f.srv, other.ClientID, other.ClientSecret, "")
	doomedToken := oauthToken(t, f.srv, doomed.ClientID, doomed.ClientSecret, "")
	testenv.CLIJSON(t, dir, nil, "key", "delete", doomed.ClientID)
	waitForVaultStatus(t, f.srv, doomedToken, http.StatusUnauthorized, 2*time.Second)

	postCreds := "&client_id=" + url.QueryEscape(f.clientID) + "&client_secret=" + url.QueryEscape(f.clientSecret)
	inactive := `{"active":false}` + "\n"
	cases := []struct {
		name   string
		query  string
		header http.Header
		body   string
		status int
		// want is the exact body, or "" for an active token's description.
		want  string
		error string
	}{
		{"own active token with Basic", "", formHeader(f.clientID, f.clientSecret), tokenForm(own), 200, "", ""},
		{"own active token with client_secret_post", "", formHeader("", ""), tokenForm(own) + postCreds, 200, "", ""},
		{"own token with a hint", "", formHeader(f.clientID, f.clientSecret), tokenForm(own) + "&token_type_hint=access_token", 200, "", ""},
		{"another client's token", "", formHeader(f.clientID, f.clientSecret), tokenForm(othersToken), 200, inactive, ""},
		{"revoked token", "", formHeader(f.clientID, f.clientSecret), tokenForm(revoked), 200, inactive, ""},
		{"token of a deleted key", "", formHeader(other.ClientID, other.ClientSecret), tokenForm(doomedToken), 200, inactive, ""},
		{"not a token", "", formHeader(f.clientID, f.clientSecret), tokenForm("abc"), 200, inactive, ""},
		{"tampered token", "", formHeader(f.clientID, f.clientSecret), tokenForm(own[:len(own)-4] + "AAAA"), 200, inactive, ""},
		{"missing token", "", formHeader(f.clientID, f.clientSecret), "token_type_hint=access_token", 400, "", "invalid_request"},
		{"token in query", "token=" + url.QueryEscape(own), formHeader(f.clientID, f.clientSecret), "", 400, "", "invalid_request"},
		{"repeated token", "", formHeader(f.clientID, f.clientSecret), tokenForm(own) + "&" + tokenForm(own), 400, "", "invalid_request"},
		{"no client authentication", "", formHeader("", ""), tokenForm(own), 401, "", "invalid_client"},
		{"wrong client secret", "", formHeader(f.clientID, "wrong-secret-value"), tokenForm(own), 401, "", "invalid_client"},
		{"token as client credentials", "", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Bearer " + own}}, tokenForm(own), 401, "", "invalid_client"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := f.srv.URL + "/oauth2/introspect"
			if c.query != "" {
				target += "?" + c.query
			}
			r := send(t, f.srv.Client, "POST", target, c.header, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, redactBody(r.body))
			}
			checkNoStore(t, r)
			switch {
			case c.error != "":
				if got := r.json(t)["error"]; got != c.error {
					t.Errorf("error = %v, want %s", got, c.error)
				}
			case c.want != "":
				if string(r.body) != c.want {
					t.Errorf("body = %s, want exactly %s", r.body, c.want)
				}
			default:
				body := r.json(t)
				if body["active"] != true || body["client_id"] != f.clientID || body["scope"] != "vaults:read" ||
					body["token_type"] != "Bearer" || body["iss"] != f.srv.Issuer || body["sub"] != f.clientID {
					t.Errorf("introspection = %v, want an active token of %s with scope vaults:read and iss %s", body, f.clientID, f.srv.URL)
				}
				if exp, _ := body["exp"].(float64); time.Until(time.Unix(int64(exp), 0)) < 59*time.Minute {
					t.Errorf("exp = %v, want about an hour from now", body["exp"])
				}
			}
		})
	}
}

// waitForStatus polls GET /v1/vaults with tok until it returns want, and fails the test
// after limit.
func waitForVaultStatus(t *testing.T, srv *testenv.Server, tok string, want int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := getVaults(t, srv, tok)
		if r.status == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("GET /v1/vaults still returns %d after %v, want %d", r.status, limit, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRevocation(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	other := createKey(t, f.srv.DataDir, f.accountID, "other")
	waitForKey(t, f.srv, other.ClientID, other.ClientSecret)
	othersToken := oauthToken(t, f.srv, other.ClientID, other.ClientSecret, "")
	own := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	ownByPost := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	postCreds := "&client_id=" + url.QueryEscape(f.clientID) + "&client_secret=" + url.QueryEscape(f.clientSecret)

	cases := []struct {
		name   string
		header http.Header
		body   string
		status int
		error  string
		// after is the status of GET /v1/vaults with the token afterwards, or 0.
		token string
		after int
	}{
		{"unknown token", formHeader(f.clientID, f.clientSecret), tokenForm("not-a-token"), 200, "", "", 0},
		{"another client's token", formHeader(f.clientID, f.clientSecret), tokenForm(othersToken), 400, "unauthorized_client", othersToken, 200},
		{"own token", formHeader(f.clientID, f.clientSecret), tokenForm(own) + "&token_type_hint=access_token", 200, "", own, 401},
		{"own token again", formHeader(f.clientID, f.clientSecret), tokenForm(own), 200, "", own, 401},
		{"own token with client_secret_post", formHeader("", ""), tokenForm(ownByPost) + postCreds, 200, "", ownByPost, 401},
		{"unknown hint", formHeader(f.clientID, f.clientSecret), tokenForm("x") + "&token_type_hint=refresh_token", 200, "", "", 0},
		{"missing token", formHeader(f.clientID, f.clientSecret), "", 400, "invalid_request", "", 0},
		{"wrong client secret", formHeader(other.ClientID, "wrong-secret-value"), tokenForm(othersToken), 401, "invalid_client", othersToken, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, f.srv.Client, "POST", f.srv.URL+"/oauth2/revoke", c.header, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, redactBody(r.body))
			}
			checkNoStore(t, r)
			if c.error != "" {
				if got := r.json(t)["error"]; got != c.error {
					t.Errorf("error = %v, want %s", got, c.error)
				}
			} else if len(r.body) != 0 {
				t.Errorf("body = %q, want empty", r.body)
			}
			if c.after != 0 {
				// A revocation takes effect on the very next request in this process.
				if got := getVaults(t, f.srv, c.token); got.status != c.after {
					t.Errorf("GET /v1/vaults with the token afterwards: status %d, want %d", got.status, c.after)
				}
			}
		})
	}

	t.Run("fresh token of the same key still works", func(t *testing.T) {
		if r := getVaults(t, f.srv, oauthToken(t, f.srv, f.clientID, f.clientSecret, "")); r.status != http.StatusOK {
			t.Errorf("status %d, want 200", r.status)
		}
	})
}

// TestRevocationReachesOtherProcess revokes a token on one server and checks that a
// second server on the same database refuses it within a second.
func TestRevocationReachesOtherProcess(t *testing.T) {
	issuer := []string{"--issuer", "https://iogate.test"}
	f := newFixture(t, testenv.Options{Args: issuer})
	second := testenv.Start(t, f.srv.DataDir, testenv.Options{Args: issuer})
	tok := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	if r := getVaults(t, second, tok); r.status != http.StatusOK {
		t.Fatalf("token on the second server before revocation: status %d, want 200", r.status)
	}
	r := send(t, f.srv.Client, "POST", f.srv.URL+"/oauth2/revoke", formHeader(f.clientID, f.clientSecret), tokenForm(tok))
	if r.status != http.StatusOK {
		t.Fatalf("revoke: status %d, want 200", r.status)
	}
	took := waitForVaultStatus(t, second, tok, http.StatusUnauthorized, time.Second)
	t.Logf("second server refused the revoked token after %v", took.Round(time.Millisecond))

	t.Run("restart keeps the revocation", func(t *testing.T) {
		if err := second.Stop(); err != nil {
			t.Fatal(err)
		}
		third := testenv.Start(t, f.srv.DataDir, testenv.Options{Args: issuer})
		if r := getVaults(t, third, tok); r.status != http.StatusUnauthorized {
			t.Errorf("revoked token after a restart: status %d, want 401", r.status)
		}
	})
}
