package http

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
	"github.com/iogate/iogate/token"
)

// testClock is a settable clock for the engine, safe for its background goroutines.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// failureAPI is a testAPI whose engine runs on a settable clock, with failure tracking
// on and thresholds too high to slow down or block anyone.
type failureAPI struct {
	*testAPI
	handler http.Handler
	clock   *testClock
}

func newFailureAPI(t *testing.T) *failureAPI {
	t.Helper()
	return newFailureAPIWithLimits(t, RateLimits{
		FailuresBeforeSlowdown: 1000, FailuresBeforeBlock: 1000, FailureWindow: time.Hour, BlockDuration: time.Hour,
	})
}

// newFailureAPIWithLimits is newFailureAPI with the rate limits given.
func newFailureAPIWithLimits(t *testing.T, limits RateLimits) *failureAPI {
	t.Helper()
	clock := &testClock{t: time.Now()}
	opts := Options{RateLimitsEnabled: true, RateLimits: limits}
	api := newTestAPIOnStore(t, opts, slog.New(slog.DiscardHandler), auth.Config{Now: clock.now},
		func(db *sqlite.DB) iogate.Store { return db })
	return &failureAPI{testAPI: api, handler: api.srv.Handler(), clock: clock}
}

// newKey creates a key in the API's account and returns its client ID and secret.
func (f *failureAPI) newKey(t *testing.T, req auth.CreateKeyRequest) (string, string) {
	t.Helper()
	req.AccountID, req.Name = f.accountID, "k"
	k, secret, err := f.engine.CreateKey(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return k.ClientID, secret.Reveal()
}

func (f *failureAPI) issue(t *testing.T, clientID, secret string) string {
	t.Helper()
	tok, err := f.engine.IssueToken(context.Background(), auth.TokenRequest{ClientID: clientID, ClientSecret: secret})
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return tok.AccessToken
}

// serve sends r from the address from and returns the response.
func (f *failureAPI) serve(r *http.Request, from netip.Addr) *httptest.ResponseRecorder {
	r.RemoteAddr = netip.AddrPortFrom(from, 40000).String()
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

// failures returns how many failed authentications the limiter counts for addr.
func (f *failureAPI) failures(addr netip.Addr) int {
	l := f.srv.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.addresses[addressKey(addr)]; st != nil {
		return st.failures
	}
	return 0
}

func accessTokenRequest(clientID, secret string) *http.Request {
	body, _ := json.Marshal(map[string]string{"clientId": clientID, "clientSecret": secret})
	r := httptest.NewRequest("POST", accessTokenPath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func basicFormRequest(path, clientID, secret string, form url.Values) *http.Request {
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(clientID, secret)
	return r
}

// foreignToken returns a token with valid claims for clientID, signed by a key that the
// server never had.
func foreignToken(t *testing.T, clientID, accountID string) string {
	t.Helper()
	master, err := iogate.NewMasterKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k, err := token.GenerateSigningKey(token.EdDSA, master, now)
	if err != nil {
		t.Fatal(err)
	}
	ring := token.NewKeyring()
	if err := ring.Load([]*iogate.SigningKey{k}, token.EdDSA, master, now); err != nil {
		t.Fatal(err)
	}
	tok, err := ring.Sign(&token.Claims{
		Issuer: "https://iogate.test", Audience: "https://iogate.test", Subject: clientID, ClientID: clientID,
		AccountID: accountID, Scope: "vaults:read", IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Expiry: now.Unix() + 600, ID: iogate.NewID(), Generation: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBearerFailureCounting sends a rejected bearer token of each kind and checks whether
// the limiter counts it as a failed authentication of the address. Tokens that iogate
// signed with a stored key and that stopped working do not count. Tokens that do not
// verify, and tokens of a revoked signing key, do.
func TestBearerFailureCounting(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// header prepares the API and returns the Authorization header value to send.
		header func(t *testing.T, f *failureAPI) string
		counts bool
	}{
		{"malformed token", func(t *testing.T, f *failureAPI) string { return "Bearer not.a.token" }, true},
		// A value that is not shaped like a JWT could never verify, so it is no guess:
		// the platform's published sample sends "Bearer undefined".
		{"value that is not a JWT", func(t *testing.T, f *failureAPI) string { return "Bearer undefined" }, false},
		// A value outside the b64token syntax could never verify either.
		{"value with a space", func(t *testing.T, f *failureAPI) string { return "Bearer a.b c.d" }, false},
		{"Bearer scheme twice", func(t *testing.T, f *failureAPI) string {
			return "Bearer Bearer " + f.issue(t, f.clientID, f.secret)
		}, false},
		{"empty token", func(t *testing.T, f *failureAPI) string { return "Bearer " }, true},
		{"other scheme", func(t *testing.T, f *failureAPI) string { return "Basic Zm9vOmJhcg==" }, true},
		{"bad signature", func(t *testing.T, f *failureAPI) string {
			tok := f.issue(t, f.clientID, f.secret)
			// A character well inside the signature, whose bits all count.
			i := len(tok) - 20
			c := byte('A')
			if tok[i] == 'A' {
				c = 'B'
			}
			return "Bearer " + tok[:i] + string(c) + tok[i+1:]
		}, true},
		{"unknown signing key", func(t *testing.T, f *failureAPI) string {
			return "Bearer " + foreignToken(t, f.clientID, f.accountID)
		}, true},
		{"revoked signing key", func(t *testing.T, f *failureAPI) string {
			tok := f.issue(t, f.clientID, f.secret)
			if _, err := f.engine.RevokeSigningKey(ctx, f.engine.Keyring().ActiveKeyID()); err != nil {
				t.Fatalf("RevokeSigningKey: %v", err)
			}
			// Start loads the signing keys again, as Run does at its next tick.
			if err := f.engine.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			return "Bearer " + tok
		}, true},
		{"expired token", func(t *testing.T, f *failureAPI) string {
			tok := f.issue(t, f.clientID, f.secret)
			f.clock.advance(2 * time.Hour)
			return "Bearer " + tok
		}, false},
		{"revoked token", func(t *testing.T, f *failureAPI) string {
			tok := f.issue(t, f.clientID, f.secret)
			if err := f.engine.RevokeToken(ctx, f.clientID, tok, netip.Addr{}); err != nil {
				t.Fatalf("RevokeToken: %v", err)
			}
			return "Bearer " + tok
		}, false},
		{"deleted key", func(t *testing.T, f *failureAPI) string {
			tok := f.issue(t, f.clientID, f.secret)
			if err := f.engine.DeleteKey(ctx, f.clientID); err != nil {
				t.Fatalf("DeleteKey: %v", err)
			}
			return "Bearer " + tok
		}, false},
		{"suspended account", func(t *testing.T, f *failureAPI) string {
			tok := f.issue(t, f.clientID, f.secret)
			if err := f.engine.SuspendAccount(ctx, f.accountID); err != nil {
				t.Fatalf("SuspendAccount: %v", err)
			}
			return "Bearer " + tok
		}, false},
		{"retired secret generation", func(t *testing.T, f *failureAPI) string {
			tok := f.issue(t, f.clientID, f.secret)
			if _, _, err := f.engine.RotateKey(ctx, f.clientID, 0); err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			return "Bearer " + tok
		}, false},
		{"expired key", func(t *testing.T, f *failureAPI) string {
			clientID, secret := f.newKey(t, auth.CreateKeyRequest{ExpiresIn: time.Hour})
			tok := f.issue(t, clientID, secret)
			f.clock.advance(time.Hour)
			return "Bearer " + tok
		}, false},
		{"key lost the token's scope", func(t *testing.T, f *failureAPI) string {
			tok := f.issue(t, f.clientID, f.secret)
			if _, err := f.engine.UpdateKey(ctx, f.clientID, auth.UpdateKeyRequest{Scopes: []string{iogate.ScopeVaultsWrite}}); err != nil {
				t.Fatalf("UpdateKey: %v", err)
			}
			return "Bearer " + tok
		}, false},
	}
	from := netip.MustParseAddr("192.0.2.30")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFailureAPI(t)
			r := httptest.NewRequest("GET", "/v1/vaults", nil)
			r.Header.Set("Authorization", c.header(t, f))
			rec := f.serve(r, from)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("GET /v1/vaults: status %d, want 401", rec.Code)
			}
			want := 0
			if c.counts {
				want = 1
			}
			if got := f.failures(from); got != want {
				t.Errorf("failures counted for the address = %d, want %d", got, want)
			}
		})
	}
}

// TestClientAuthFailureCounting sends rejected client credentials of each kind to the
// endpoints that authenticate clients, and checks whether the limiter counts them as a
// failed authentication of the address. Credentials that iogate issued do not count. A
// deleted key's client ID with a secret it never had does, like an unknown client ID.
func TestClientAuthFailureCounting(t *testing.T) {
	ctx := context.Background()
	const unknownClientID = "6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11"
	introspect := func(clientID, secret string) *http.Request {
		return basicFormRequest("/oauth2/introspect", clientID, secret, url.Values{"token": {"x"}})
	}
	revoke := func(clientID, secret string) *http.Request {
		return basicFormRequest("/oauth2/revoke", clientID, secret, url.Values{"token": {"x"}})
	}
	oauthToken := func(clientID, secret string) *http.Request {
		return basicFormRequest("/oauth2/token", clientID, secret, url.Values{"grant_type": {"client_credentials"}})
	}
	// retire rotates the key and ends the grace period, and returns the retired secret.
	retire := func(t *testing.T, f *failureAPI) (string, string) {
		if _, _, err := f.engine.RotateKey(ctx, f.clientID, time.Minute); err != nil {
			t.Fatalf("RotateKey: %v", err)
		}
		f.clock.advance(time.Minute)
		return f.clientID, f.secret
	}
	cases := []struct {
		name    string
		request func(clientID, secret string) *http.Request
		// credentials prepares the API and returns the client ID and secret to send.
		credentials func(t *testing.T, f *failureAPI) (string, string)
		counts      bool
	}{
		{"unknown client ID", accessTokenRequest, func(t *testing.T, f *failureAPI) (string, string) {
			return unknownClientID, f.secret
		}, true},
		{"wrong secret", accessTokenRequest, func(t *testing.T, f *failureAPI) (string, string) {
			return f.clientID, f.secret + "x"
		}, true},
		{"wrong secret at /oauth2/token", oauthToken, func(t *testing.T, f *failureAPI) (string, string) {
			return f.clientID, f.secret + "x"
		}, true},
		{"wrong secret at /oauth2/revoke", revoke, func(t *testing.T, f *failureAPI) (string, string) {
			return f.clientID, f.secret + "x"
		}, true},
		{"deleted key", accessTokenRequest, func(t *testing.T, f *failureAPI) (string, string) {
			if err := f.engine.DeleteKey(ctx, f.clientID); err != nil {
				t.Fatalf("DeleteKey: %v", err)
			}
			return f.clientID, f.secret
		}, false},
		{"deleted key with a wrong secret", oauthToken, func(t *testing.T, f *failureAPI) (string, string) {
			if err := f.engine.DeleteKey(ctx, f.clientID); err != nil {
				t.Fatalf("DeleteKey: %v", err)
			}
			return f.clientID, f.secret + "x"
		}, true},
		{"deleted key with its previous secret", oauthToken, func(t *testing.T, f *failureAPI) (string, string) {
			if _, _, err := f.engine.RotateKey(ctx, f.clientID, time.Hour); err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			if err := f.engine.DeleteKey(ctx, f.clientID); err != nil {
				t.Fatalf("DeleteKey: %v", err)
			}
			return f.clientID, f.secret
		}, false},
		{"retired secret", accessTokenRequest, retire, false},
		{"retired secret at /oauth2/token", oauthToken, retire, false},
		{"retired secret at /oauth2/introspect", introspect, retire, false},
		{"secret retired without grace", accessTokenRequest, func(t *testing.T, f *failureAPI) (string, string) {
			if _, _, err := f.engine.RotateKey(ctx, f.clientID, 0); err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			return f.clientID, f.secret
		}, false},
		{"expired key", accessTokenRequest, func(t *testing.T, f *failureAPI) (string, string) {
			clientID, secret := f.newKey(t, auth.CreateKeyRequest{ExpiresIn: time.Hour})
			f.clock.advance(time.Hour)
			return clientID, secret
		}, false},
		{"suspended account", oauthToken, func(t *testing.T, f *failureAPI) (string, string) {
			if err := f.engine.SuspendAccount(ctx, f.accountID); err != nil {
				t.Fatalf("SuspendAccount: %v", err)
			}
			return f.clientID, f.secret
		}, false},
	}
	from := netip.MustParseAddr("192.0.2.31")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFailureAPI(t)
			rec := f.serve(c.request(c.credentials(t, f)), from)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			want := 0
			if c.counts {
				want = 1
			}
			if got := f.failures(from); got != want {
				t.Errorf("failures counted for the address = %d, want %d", got, want)
			}
		})
	}

	t.Run("unreadable Basic credentials", func(t *testing.T) {
		f := newFailureAPI(t)
		r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", "Basic !!!")
		if rec := f.serve(r, from); rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", rec.Code)
		}
		if got := f.failures(from); got != 1 {
			t.Errorf("failures counted for the address = %d, want 1", got)
		}
	})
}

// TestRetiredSecretResponse checks that a retired secret gets the response of a wrong
// secret, but for the request ID, at both token endpoints.
func TestRetiredSecretResponse(t *testing.T) {
	f := newFailureAPI(t)
	if _, _, err := f.engine.RotateKey(context.Background(), f.clientID, time.Minute); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	f.clock.advance(time.Minute)
	from := netip.MustParseAddr("192.0.2.32")
	requests := map[string]func(clientID, secret string) *http.Request{
		accessTokenPath: accessTokenRequest,
		"/oauth2/token": func(clientID, secret string) *http.Request {
			return basicFormRequest("/oauth2/token", clientID, secret, url.Values{"grant_type": {"client_credentials"}})
		},
	}
	for path, request := range requests {
		t.Run(path, func(t *testing.T) {
			retired := f.serve(request(f.clientID, f.secret), from)
			wrong := f.serve(request(f.clientID, f.secret+"x"), from)
			if retired.Code != wrong.Code {
				t.Errorf("status %d for the retired secret, %d for a wrong one", retired.Code, wrong.Code)
			}
			checkSameResponse(t, "the retired secret", retired, "a wrong secret", wrong)
		})
	}
}

// checkSameResponse fails the test unless the responses a and b, named nameA and nameB,
// have the same headers and body once each one's request ID is removed. It removes the IDs
// from the recorders.
func checkSameResponse(t *testing.T, nameA string, a *httptest.ResponseRecorder, nameB string, b *httptest.ResponseRecorder) {
	t.Helper()
	for _, rec := range []*httptest.ResponseRecorder{a, b} {
		id := rec.Header().Get("X-Request-Id")
		if id == "" {
			// An earlier call removed it.
			continue
		}
		rec.Header().Del("X-Request-Id")
		body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(id), nil)
		rec.Body = bytes.NewBuffer(body)
	}
	if diff := cmp.Diff(b.Header(), a.Header()); diff != "" {
		t.Errorf("headers for %s differ from those for %s (-%s +%s):\n%s", nameA, nameB, nameB, nameA, diff)
	}
	if bodyA, bodyB := a.Body.String(), b.Body.String(); bodyA != bodyB {
		t.Errorf("body for %s %q differs from the body for %s %q", nameA, bodyA, nameB, bodyB)
	}
}

// TestDeletedClientIDProbe runs the probe that could tell whether a client ID belonged to a
// deleted key. From one address, it sends failures with made-up client IDs up to the
// slowdown threshold, then the candidate client ID with a secret, then one more made-up
// client ID. The last request gets 429 when the candidate's failure counted and 401 when it
// did not. A client ID that never existed and a deleted key's client ID with a random
// secret must get the same responses. The deleted key's own secret must still not count.
func TestDeletedClientIDProbe(t *testing.T) {
	const threshold = 10
	f := newFailureAPIWithLimits(t, RateLimits{
		FailuresBeforeSlowdown: threshold, FailuresBeforeBlock: 1000, FailureWindow: time.Hour, BlockDuration: time.Hour,
	})
	deletedID, deletedSecret := f.clientID, f.secret
	if err := f.engine.DeleteKey(context.Background(), deletedID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	randomSecret := func(t *testing.T) string {
		t.Helper()
		s, err := iogate.GenerateSecret()
		if err != nil {
			t.Fatalf("GenerateSecret: %v", err)
		}
		return s.Reveal()
	}
	// probe runs the probe from the address from and returns the responses to the
	// candidate's request and to the request after it.
	probe := func(t *testing.T, from netip.Addr, clientID, secret string) (candidate, next *httptest.ResponseRecorder) {
		t.Helper()
		for i := range threshold {
			if rec := f.serve(accessTokenRequest(iogate.NewClientID(), randomSecret(t)), from); rec.Code != http.StatusUnauthorized {
				t.Fatalf("made-up client ID %d from %s: status %d, want 401", i+1, from, rec.Code)
			}
		}
		candidate = f.serve(accessTokenRequest(clientID, secret), from)
		next = f.serve(accessTokenRequest(iogate.NewClientID(), randomSecret(t)), from)
		return candidate, next
	}

	neverCandidate, neverNext := probe(t, netip.MustParseAddr("192.0.2.40"), iogate.NewClientID(), randomSecret(t))
	deletedCandidate, deletedNext := probe(t, netip.MustParseAddr("192.0.2.41"), deletedID, randomSecret(t))
	if neverCandidate.Code != http.StatusUnauthorized || deletedCandidate.Code != http.StatusUnauthorized {
		t.Errorf("candidate status: %d for a client ID that never existed, %d for the deleted key's; want 401 for both",
			neverCandidate.Code, deletedCandidate.Code)
	}
	if neverNext.Code != http.StatusTooManyRequests || deletedNext.Code != http.StatusTooManyRequests {
		t.Errorf("status after the candidate: %d for a client ID that never existed, %d for the deleted key's; want 429 for both",
			neverNext.Code, deletedNext.Code)
	}
	checkSameResponse(t, "the deleted key's client ID", deletedCandidate, "a client ID that never existed", neverCandidate)
	checkSameResponse(t, "the request after the deleted key's client ID", deletedNext, "the request after a client ID that never existed", neverNext)

	ownCandidate, ownNext := probe(t, netip.MustParseAddr("192.0.2.42"), deletedID, deletedSecret)
	if ownCandidate.Code != http.StatusUnauthorized {
		t.Errorf("status for the deleted key's own secret: %d, want 401", ownCandidate.Code)
	}
	if ownNext.Code != http.StatusUnauthorized {
		t.Errorf("status after the deleted key's own secret: %d, want 401, because that secret does not count", ownNext.Code)
	}
	checkSameResponse(t, "the deleted key's own secret", ownCandidate, "a client ID that never existed", neverCandidate)
}

// TestNotAJWTMessage checks that a bearer value without the shape of a JWT, such as the
// "undefined" of the platform's published sample, gets a 401 whose message calls the
// value malformed and names the value of the token response to send.
func TestNotAJWTMessage(t *testing.T) {
	f := newFailureAPI(t)
	r := httptest.NewRequest("GET", "/v1/vaults", nil)
	r.Header.Set("Authorization", "Bearer undefined")
	rec := f.serve(r, netip.MustParseAddr("192.0.2.31"))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", rec.Code)
	}
	if body := rec.Body.String(); !strings.Contains(body, "the access token is malformed") || !strings.Contains(body, `"code":"invalid_token"`) {
		t.Errorf("body %s, want code invalid_token and a message that the token is malformed", body)
	}
	if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q, want the invalid_token challenge", got)
	}
}

// TestBearerTwiceMessage checks that a header that repeats the Bearer scheme before a
// valid token gets a 401 whose message names the repeated scheme.
func TestBearerTwiceMessage(t *testing.T) {
	f := newFailureAPI(t)
	r := httptest.NewRequest("GET", "/v1/vaults", nil)
	r.Header.Set("Authorization", "Bearer bearer "+f.issue(t, f.clientID, f.secret))
	rec := f.serve(r, netip.MustParseAddr("192.0.2.32"))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", rec.Code)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `"code":"invalid_token"`) {
		t.Errorf("body %s, want code invalid_token", body)
	}
	if !strings.Contains(body, "names the Bearer scheme twice") {
		t.Errorf("body %s, want a message that the scheme is repeated", body)
	}
	if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q, want the invalid_token challenge", got)
	}
}

// TestPlainHTTPMarksExposedWhileLimited checks that a valid secret sent over plain HTTP from
// an address in its slowdown still marks the key exposed, once, and that the failures that
// put the address there are not counted again.
func TestPlainHTTPMarksExposedWhileLimited(t *testing.T) {
	f := newFailureAPIWithLimits(t, RateLimits{
		FailuresBeforeSlowdown: 3, FailuresBeforeBlock: 1000, FailureWindow: time.Hour, BlockDuration: time.Hour,
	})
	clientID, secret := f.newKey(t, auth.CreateKeyRequest{})
	plain := f.srv.PlainHandler()
	send := func(secret string) {
		t.Helper()
		r := httptest.NewRequest("POST", "/v1/auth/accessToken", strings.NewReader(`{"clientId":"`+clientID+`","clientSecret":"`+secret+`"}`))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		plain.ServeHTTP(rec, r)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("plain HTTP token request: status %d, want 403", rec.Code)
		}
	}
	for range 5 {
		send("iogs_wrong")
	}
	send(secret)
	send(secret)

	k, err := f.srv.store.FindAPIKey(context.Background(), clientID)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Exposed {
		t.Error("a valid secret from an address in its slowdown did not mark the key exposed")
	}
	filter := iogate.AuditFilter{AccountID: f.accountID, Event: iogate.AuditKeyExposed}
	records, _, err := f.srv.store.ListAuditRecords(context.Background(), filter, iogate.Page{Limit: iogate.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 {
		t.Errorf("key.exposed records after the secret was sent twice = %d, want 1", len(records))
	}
}
