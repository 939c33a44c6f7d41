package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/iogate/iogate/internal/testenv"
)

func TestAuthorizationServerMetadata(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		issuer func(srv *testenv.Server) string
	}{
		{"default issuer", nil, func(srv *testenv.Server) string {
			_, port, _ := net.SplitHostPort(srv.Addr)
			return "https://localhost:" + port
		}},
		{"public URL", []string{"--public-url", "https://gate.example.test"}, func(*testenv.Server) string { return "https://gate.example.test" }},
		{"public URL with a path", []string{"--public-url", "https://gate.example.test/iogate"}, func(srv *testenv.Server) string { return srv.URL }},
		{"issuer flag", []string{"--issuer", "https://api.example.test"}, func(*testenv.Server) string { return "https://api.example.test" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, testenv.Options{Args: c.args})
			issuer := c.issuer(f.srv)
			r := do(t, f.srv.Client, "GET", f.srv.URL+"/.well-known/oauth-authorization-server", nil, "")
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200", r.status)
			}
			var md map[string]any
			if err := json.Unmarshal(r.body, &md); err != nil {
				t.Fatal(err)
			}
			// RFC 8414 section 3.3: the issuer must equal the URL the document was
			// fetched from, minus the well-known path, and the tokens' iss.
			if md["issuer"] != issuer {
				t.Errorf("issuer = %v, want %s", md["issuer"], issuer)
			}
			var claims map[string]any
			decodeSegment(t, strings.Split(oauthToken(t, f.srv, f.clientID, f.clientSecret, ""), ".")[1], &claims)
			if claims["iss"] != md["issuer"] {
				t.Errorf("token iss = %v, metadata issuer = %v; want them equal", claims["iss"], md["issuer"])
			}
			want := map[string]any{
				"token_endpoint":         issuer + "/oauth2/token",
				"jwks_uri":               issuer + "/.well-known/jwks.json",
				"introspection_endpoint": issuer + "/oauth2/introspect",
				"revocation_endpoint":    issuer + "/oauth2/revoke",
			}
			for k, v := range want {
				if md[k] != v {
					t.Errorf("%s = %v, want %s", k, md[k], v)
				}
			}
			lists := map[string][]string{
				"grant_types_supported":                         {"client_credentials"},
				"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post"},
				"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
				"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post"},
				"scopes_supported":                              {"vaults:read", "vaults:write"},
				"response_types_supported":                      {},
			}
			for k, v := range lists {
				if got := stringList(md[k]); !slices.Equal(got, v) {
					t.Errorf("%s = %v, want %v", k, got, v)
				}
			}
			if cc := r.header.Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("Cache-Control = %q, want public, max-age=300", cc)
			}
		})
	}
}

func stringList(v any) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// fetchJWKS returns the server's key set.
func fetchJWKS(t *testing.T, srv *testenv.Server) jose.JSONWebKeySet {
	t.Helper()
	r := do(t, srv.Client, "GET", srv.URL+"/.well-known/jwks.json", nil, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /.well-known/jwks.json: status %d, want 200", r.status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("JWKS does not parse: %v", err)
	}
	return set
}

// verifyWithJWKS checks a token's signature the way a resource server would: with the
// key of the token's kid from the published key set. It returns the kid.
func verifyWithJWKS(t *testing.T, set jose.JSONWebKeySet, tok, wantAlg string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(wantAlg)})
	if err != nil {
		t.Fatalf("token does not parse as a %s JWS: %v", wantAlg, err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys with the token's kid %s, want 1", len(keys), kid)
	}
	if keys[0].Algorithm != wantAlg || keys[0].Use != "sig" || !keys[0].IsPublic() {
		t.Errorf("JWKS key %s: alg %q, use %q, public %v; want %s, sig, true", kid, keys[0].Algorithm, keys[0].Use, keys[0].IsPublic(), wantAlg)
	}
	if _, err := jws.Verify(keys[0].Key); err != nil {
		t.Errorf("token signature does not verify with the published key %s: %v", kid, err)
	}
	return kid
}

func TestJWKS(t *testing.T) {
	cases := []struct {
		name, alg, kty string
		args           []string
	}{
		{"default EdDSA", "EdDSA", "OKP", nil},
		{"ES256", "ES256", "EC", []string{"--signing-alg", "ES256"}},
		{"RS256", "RS256", "RSA", []string{"--signing-alg", "RS256"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, testenv.Options{Args: c.args})
			set := fetchJWKS(t, f.srv)
			if len(set.Keys) != 1 {
				t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
			}
			for _, tok := range []string{
				oauthToken(t, f.srv, f.clientID, f.clientSecret, ""),
				accessToken(t, f.srv, f.clientID, f.clientSecret),
			} {
				verifyWithJWKS(t, set, tok, c.alg)
			}
			raw := do(t, f.srv.Client, "GET", f.srv.URL+"/.well-known/jwks.json", nil, "")
			if !strings.Contains(string(raw.body), `"kty":"`+c.kty+`"`) {
				t.Errorf("JWKS %s lacks kty %s", raw.body, c.kty)
			}
			if strings.Contains(string(raw.body), `"d":`) {
				t.Error("JWKS contains a private key member d")
			}
		})
	}
}

// TestSigningKeyRotation rotates the signing key with the CLI while a server runs: the new
// key is published first, signs after its activation delay, and the old key stays
// published so that tokens it signed keep working.
func TestSigningKeyRotation(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	oldTok := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	oldKID := verifyWithJWKS(t, fetchJWKS(t, f.srv), oldTok, "EdDSA")

	var rotated struct {
		KID, State string
		ActiveAt   time.Time
	}
	testenv.CLIJSON(t, f.srv.DataDir, &rotated, "signing-key", "rotate", "--activate-in", "3s")
	if rotated.KID == "" || rotated.KID == oldKID || rotated.State != "scheduled" {
		t.Fatalf("rotate returned kid %q in state %q, want a new scheduled key", rotated.KID, rotated.State)
	}

	// The running server publishes the new key within about a second, before it signs.
	deadline := time.Now().Add(2 * time.Second)
	for set := fetchJWKS(t, f.srv); len(set.Key(rotated.KID)) == 0; set = fetchJWKS(t, f.srv) {
		if time.Now().After(deadline) {
			t.Fatalf("new key %s not published 2s after the rotation", rotated.KID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if time.Now().Before(rotated.ActiveAt) {
		if kid := verifyWithJWKS(t, fetchJWKS(t, f.srv), oauthToken(t, f.srv, f.clientID, f.clientSecret, ""), "EdDSA"); kid != oldKID {
			t.Errorf("token signed before the new key's activation by %s, want the old key %s", kid, oldKID)
		}
	}

	// After its activation the new key signs; the old one stays published.
	deadline = rotated.ActiveAt.Add(3 * time.Second)
	for {
		tok := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
		set := fetchJWKS(t, f.srv)
		if kid := verifyWithJWKS(t, set, tok, "EdDSA"); kid == rotated.KID {
			if len(set.Key(oldKID)) != 1 {
				t.Errorf("old key %s left the JWKS while its tokens are valid", oldKID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server still signs with the old key 3s after the new key's activation")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := getVaults(t, f.srv, oldTok); r.status != http.StatusOK {
		t.Errorf("token signed by the old key: status %d, want 200", r.status)
	}

	var list struct {
		Data []struct{ KID, State string }
	}
	testenv.CLIJSON(t, f.srv.DataDir, &list, "signing-key", "list")
	states := map[string]string{}
	for _, k := range list.Data {
		states[k.KID] = k.State
	}
	if states[oldKID] != "retired" || states[rotated.KID] != "signing" {
		t.Errorf("signing-key list states = %v, want %s retired and %s signing", states, oldKID, rotated.KID)
	}
}

// TestSigningKeyRetire moves a running server's cluster from EdDSA to RS256 with the CLI:
// retiring EdDSA is rejected while no other algorithm signs, and accepted once the RS256
// key is active, after which the EdDSA key stays published for its tokens.
func TestSigningKeyRetire(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	oldTok := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	oldKID := verifyWithJWKS(t, fetchJWKS(t, f.srv), oldTok, "EdDSA")

	res := testenv.RunCLI(t, f.srv.DataDir, nil, "signing-key", "retire", "--algorithm", "EdDSA", "--json")
	var failure struct {
		Error struct{ Code string }
	}
	if res.ExitCode == 0 {
		t.Fatalf("signing-key retire of the only algorithm succeeded, want it rejected")
	}
	if err := json.Unmarshal([]byte(res.Stderr), &failure); err != nil || failure.Error.Code != "invalid_request" {
		t.Errorf("signing-key retire of the only algorithm: stderr %q, want error code invalid_request", res.Stderr)
	}

	var rotated struct{ KID, Algorithm string }
	testenv.CLIJSON(t, f.srv.DataDir, &rotated, "signing-key", "rotate", "--algorithm", "RS256", "--activate-in", "0s")
	if rotated.Algorithm != "RS256" {
		t.Fatalf("rotate --algorithm RS256 returned a key of %q", rotated.Algorithm)
	}

	// The EdDSA server keeps signing with its published key after the RS256 key activated.
	deadline := time.Now().Add(2 * time.Second)
	for set := fetchJWKS(t, f.srv); len(set.Key(rotated.KID)) == 0; set = fetchJWKS(t, f.srv) {
		if time.Now().After(deadline) {
			t.Fatalf("RS256 key %s not published 2s after the rotation", rotated.KID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if kid := verifyWithJWKS(t, fetchJWKS(t, f.srv), oauthToken(t, f.srv, f.clientID, f.clientSecret, ""), "EdDSA"); kid != oldKID {
		t.Errorf("EdDSA server signs with %s after the RS256 rotation, want its key %s", kid, oldKID)
	}

	var retired struct {
		Data []struct{ KID, Algorithm, State string }
	}
	testenv.CLIJSON(t, f.srv.DataDir, &retired, "signing-key", "retire", "--algorithm", "EdDSA")
	if len(retired.Data) != 1 || retired.Data[0].KID != oldKID || retired.Data[0].State != "retired" {
		t.Errorf("signing-key retire returned %+v, want %s retired", retired.Data, oldKID)
	}
	if set := fetchJWKS(t, f.srv); len(set.Key(oldKID)) != 1 {
		t.Errorf("retired key %s left the JWKS while its tokens are valid", oldKID)
	}
	if r := getVaults(t, f.srv, oldTok); r.status != http.StatusOK {
		t.Errorf("token signed by the retired key: status %d, want 200", r.status)
	}
}
