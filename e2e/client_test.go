package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/iogate/iogate/client"
	"github.com/iogate/iogate/internal/testenv"
)

// TestGoClient drives the real server with the client package, through the test client
// that checks every response against /openapi.json.
func TestGoClient(t *testing.T) {
	f := newFixture(t, testenv.Options{})
	ctx := context.Background()
	c, err := client.New(f.srv.URL, f.clientID, f.clientSecret, client.WithHTTPClient(f.srv.Client))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("lists vaults", func(t *testing.T) {
		var ids []string
		for v, err := range c.Vaults(ctx) {
			if err != nil {
				t.Fatalf("Vaults: %v", err)
			}
			ids = append(ids, v.ID)
		}
		if len(ids) != 1 || ids[0] != f.vaultID {
			t.Errorf("Vaults yielded %v, want [%s]", ids, f.vaultID)
		}
	})

	t.Run("typed errors", func(t *testing.T) {
		var apiErr *client.APIError
		if _, err := c.GetVault(ctx, "0190a1b2-0000-7000-8000-000000000000"); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "not_found" {
			t.Errorf("GetVault of a missing vault = %v, want *APIError 404 not_found", err)
		}
		if _, err := c.CreateVault(ctx, "New", 2); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || apiErr.Code != "insufficient_scope" {
			t.Errorf("CreateVault with a read-only key = %v, want *APIError 403 insufficient_scope", err)
		}
		bad, err := client.New(f.srv.URL, f.clientID, "wrong-secret-value", client.WithHTTPClient(f.srv.Client))
		if err != nil {
			t.Fatal(err)
		}
		var oauthErr *client.OAuthError
		if _, err := bad.ListVaults(ctx, client.ListOptions{}); !errors.As(err, &oauthErr) || oauthErr.ErrorCode != "invalid_client" {
			t.Errorf("ListVaults with a wrong secret = %v, want *OAuthError invalid_client", err)
		}
	})

	t.Run("creates with a write key and a revoked token is replaced", func(t *testing.T) {
		k := createKey(t, f.srv.DataDir, f.accountID, "writer", "--scope", "vaults:read", "--scope", "vaults:write")
		waitForKey(t, f.srv, k.ClientID, k.ClientSecret)
		w, err := client.New(f.srv.URL, k.ClientID, k.ClientSecret, client.WithHTTPClient(f.srv.Client))
		if err != nil {
			t.Fatal(err)
		}
		v, err := w.CreateVault(ctx, "Cold", 3)
		if err != nil || v.Name != "Cold" || v.Threshold != 3 {
			t.Fatalf("CreateVault = %+v, %v; want vault Cold with threshold 3", v, err)
		}
		tok, err := w.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r := send(t, f.srv.Client, "POST", f.srv.URL+"/oauth2/revoke", formHeader(k.ClientID, k.ClientSecret), tokenForm(tok)); r.status != http.StatusOK {
			t.Fatalf("revoke: status %d", r.status)
		}
		if got, err := w.GetVault(ctx, v.ID); err != nil || got.ID != v.ID {
			t.Errorf("GetVault after the cached token was revoked = %+v, %v; want the vault", got, err)
		}
	})
}
