package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// TestSigningKeyRevoke revokes the signing key with the CLI while a server runs on the same
// SQLite file and polls it for changes. Within a second the server rejects the key's
// tokens, the one it cached included, and no longer publishes the key. The replacement
// signs tokens that work.
func TestSigningKeyRevoke(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	cached := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	leakedKID := verifyWithJWKS(t, fetchJWKS(t, f.srv), cached, "EdDSA")
	if r := getVaults(t, f.srv, cached); r.status != http.StatusOK {
		t.Fatalf("GET /v1/vaults before the revocation: status %d, want 200", r.status)
	}
	unseen := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")

	var revoked struct {
		Revoked     struct{ KID, Algorithm, State string }
		Replacement *struct {
			KID, Algorithm, State string
			ActiveAt              time.Time
		}
	}
	// A KID is base64url and may begin with "-", so it follows "--", as the docs show.
	res := testenv.RunCLI(t, f.srv.DataDir, nil, "signing-key", "revoke", "--json", "--", leakedKID)
	if res.ExitCode != 0 {
		t.Fatalf("signing-key revoke: exit %d, stderr %s", res.ExitCode, res.Stderr)
	}
	if err := json.Unmarshal([]byte(res.Stdout), &revoked); err != nil {
		t.Fatalf("signing-key revoke --json: output is not JSON: %v", err)
	}
	if revoked.Revoked.KID != leakedKID || revoked.Revoked.State != "revoked" {
		t.Errorf("revoke returned revoked key %+v, want %s in state revoked", revoked.Revoked, leakedKID)
	}
	if revoked.Replacement == nil || revoked.Replacement.Algorithm != "EdDSA" || revoked.Replacement.State != "signing" {
		t.Fatalf("revoke returned replacement %+v, want an EdDSA key that signs", revoked.Replacement)
	}
	replacementKID := revoked.Replacement.KID

	// The server learns of the revocation through its change feed, which polls the SQLite
	// file every 25 ms, and reloads its keyring at once.
	deadline := time.Now().Add(time.Second)
	for {
		r := getVaults(t, f.srv, cached)
		if r.status == http.StatusUnauthorized {
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate for the revoked key's token = %q, want error=\"invalid_token\"", got)
			}
			break
		}
		if r.status != http.StatusOK {
			t.Fatalf("GET /v1/vaults with the revoked key's cached token: status %d, want 200 until the reload and 401 after", r.status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revoked key's cached token still works 1s after signing-key revoke")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := getVaults(t, f.srv, unseen); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/vaults with an unseen token of the revoked key: status %d, want 401", r.status)
	}

	set := fetchJWKS(t, f.srv)
	if len(set.Key(leakedKID)) != 0 {
		t.Errorf("JWKS still lists the revoked key %s", leakedKID)
	}
	if len(set.Key(replacementKID)) != 1 {
		t.Errorf("JWKS lacks the replacement key %s", replacementKID)
	}
	fresh := oauthToken(t, f.srv, f.clientID, f.clientSecret, "")
	if kid := verifyWithJWKS(t, set, fresh, "EdDSA"); kid != replacementKID {
		t.Errorf("token issued after the revocation is signed by %s, want the replacement %s", kid, replacementKID)
	}
	if r := getVaults(t, f.srv, fresh); r.status != http.StatusOK {
		t.Errorf("GET /v1/vaults with the replacement's token: status %d, want 200", r.status)
	}

	var list struct {
		Data []struct{ KID, State string }
	}
	testenv.CLIJSON(t, f.srv.DataDir, &list, "signing-key", "list")
	if len(list.Data) != 1 || list.Data[0].KID != replacementKID || list.Data[0].State != "signing" {
		t.Errorf("signing-key list after the revocation = %+v, want only %s signing", list.Data, replacementKID)
	}

	res = testenv.RunCLI(t, f.srv.DataDir, nil, "signing-key", "revoke", "--json", "--", leakedKID)
	var failure struct {
		Error struct{ Code string }
	}
	if res.ExitCode == 0 {
		t.Errorf("signing-key revoke of the revoked key succeeded again, want not_found")
	} else if err := json.Unmarshal([]byte(res.Stderr), &failure); err != nil || failure.Error.Code != "not_found" {
		t.Errorf("signing-key revoke of the revoked key: stderr %q, want error code not_found", res.Stderr)
	}

	warnings := 0
	for line := range strings.Lines(f.srv.SyncedLogs(t)) {
		var entry struct {
			Level, Msg   string
			SigningKeyID string `json:"signing_key_id"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Msg != "signing key revoked; tokens it signed are rejected" {
			continue
		}
		warnings++
		if entry.Level != "WARN" || entry.SigningKeyID != leakedKID {
			t.Errorf("revocation log line %s, want level WARN and signing_key_id %s", strings.TrimSpace(line), leakedKID)
		}
	}
	if warnings != 1 {
		t.Errorf("server logged the revocation %d times, want once", warnings)
	}
}

// TestSigningKeyRevokeText checks that the CLI's text output names the revoked key and the
// replacement, and lists the next steps. Those start with the cached JWKS: verifiers that
// cached it accept the revoked key's tokens until they fetch it again.
func TestSigningKeyRevokeText(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	kid := verifyWithJWKS(t, fetchJWKS(t, f.srv), oauthToken(t, f.srv, f.clientID, f.clientSecret, ""), "EdDSA")
	res := testenv.RunCLI(t, f.srv.DataDir, nil, "signing-key", "revoke", "--", kid)
	if res.ExitCode != 0 {
		t.Fatalf("signing-key revoke: exit %d, stderr: %s", res.ExitCode, res.Stderr)
	}
	for _, want := range []string{"Revoked EdDSA signing key " + kid, "in its place", "max-age=300", "Next steps", "still accept the revoked key's", "Make each of them fetch it now", "iogate audit list", "kid " + kid, "iogate key rotate"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("signing-key revoke output lacks %q:\n%s", want, res.Stdout)
		}
	}
}
