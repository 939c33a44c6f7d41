package http

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/sqlite"
)

// TestCreateVaultMediaType checks that POST /v1/vaults reads only a body it can read as
// sent: uncompressed JSON in UTF-8 under one Content-Type. A proxy or a logging gateway in
// front of iogate would read a compressed body, another charset or a second Content-Type
// differently, so each of these is rejected with 415 and creates no vault.
func TestCreateVaultMediaType(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	ctx := context.Background()
	writer, _, tok := api.newWriter(t)

	cases := []struct {
		name         string
		contentTypes []string
		encoding     string
		wantStatus   int
	}{
		{"JSON", []string{"application/json"}, "", http.StatusCreated},
		{"UTF-8 charset in other case", []string{"Application/JSON; charset=UTF-8"}, "", http.StatusCreated},
		{"identity coding", []string{"application/json"}, "identity", http.StatusCreated},
		{"gzip coding on a plain body", []string{"application/json"}, "gzip", http.StatusUnsupportedMediaType},
		{"UTF-16 charset", []string{"application/json; charset=utf-16"}, "", http.StatusUnsupportedMediaType},
		{"two content types", []string{"application/json", "text/plain"}, "", http.StatusUnsupportedMediaType},
		{"form", []string{"application/x-www-form-urlencoded"}, "", http.StatusUnsupportedMediaType},
		{"no content type", nil, "", http.StatusUnsupportedMediaType},
	}
	created := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/vaults", strings.NewReader(`{"name":"Cold","threshold":2}`))
			r.Header.Set("Authorization", "Bearer "+tok)
			for _, ct := range c.contentTypes {
				r.Header.Add("Content-Type", ct)
			}
			if c.encoding != "" {
				r.Header.Set("Content-Encoding", c.encoding)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)
			if rec.Code != c.wantStatus {
				t.Fatalf("POST /v1/vaults: status %d, want %d; body %s", rec.Code, c.wantStatus, rec.Body)
			}
			if rec.Code == http.StatusCreated {
				created++
				return
			}
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("error body is not problem details: %v", err)
			}
			if p.Code != string(iogate.CodeUnsupportedMediaType) {
				t.Errorf("problem code = %q, want %q", p.Code, iogate.CodeUnsupportedMediaType)
			}
		})
	}

	vaults, _, err := api.srv.store.ListVaults(ctx, writer.AccountID, iogate.Page{Limit: iogate.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(vaults) != created {
		t.Errorf("vaults stored = %d, want %d, one per accepted request", len(vaults), created)
	}
}

// TestCreateVaultHiddenCharacters checks that POST /v1/vaults rejects a name with an
// invisible character with 400 invalid_request naming the field and the code point, and
// still accepts names with the joiners and variation selectors that scripts and emoji need.
func TestCreateVaultHiddenCharacters(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	_, _, tok := api.newWriter(t)

	cases := []struct {
		name, vaultName string
		wantStatus      int
		wantDetail      string
	}{
		{"zero-width space", "Cold\u200b", http.StatusBadRequest, "vault name contains the invisible format character U+200B: remove it"},
		{"byte order mark", "\ufeffCold", http.StatusBadRequest, "vault name contains the invisible format character U+FEFF: remove it"},
		{"tag character", "Cold\U000e0063", http.StatusBadRequest, "vault name contains the invisible format character U+E0063: remove it"},
		{"paragraph separator", "Cold\u2029", http.StatusBadRequest, "vault name contains the line or paragraph separator U+2029: remove it"},
		{"zero-width non-joiner", "می\u200cخواهم", http.StatusCreated, ""},
		{"emoji with joiner and variation selector", "\U0001f3f3\ufe0f\u200d\U0001f308 Cold", http.StatusCreated, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"name": c.vaultName, "threshold": 2})
			if err != nil {
				t.Fatal(err)
			}
			rec := postVault(handler, tok, string(body))
			if rec.Code != c.wantStatus {
				t.Fatalf("POST /v1/vaults: status %d, want %d; body %s", rec.Code, c.wantStatus, rec.Body)
			}
			if c.wantStatus == http.StatusCreated {
				return
			}
			p := problemOf(t, rec)
			if p.Code != string(iogate.CodeInvalid) {
				t.Errorf("problem code = %q, want %q", p.Code, iogate.CodeInvalid)
			}
			if p.Detail != c.wantDetail {
				t.Errorf("problem detail = %q, want %q", p.Detail, c.wantDetail)
			}
		})
	}
}

// TestVaultReadsRejectRepeatedParameters checks that every /v1 GET rejects a query
// parameter sent twice with 400 invalid_request naming it, rather than reading its first
// value, and still serves the same requests with each parameter once.
func TestVaultReadsRejectRepeatedParameters(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	ctx := context.Background()
	key, err := api.srv.store.FindAPIKey(ctx, api.clientID)
	if err != nil {
		t.Fatal(err)
	}
	v := &iogate.Vault{ID: iogate.NewID(), AccountID: key.AccountID, Name: "Treasury", Threshold: 2, Status: iogate.VaultActive, CreatedAt: time.Now().UTC()}
	createVault(t, api.engine, api.srv.store, v)
	tok, err := api.engine.IssueToken(ctx, auth.TokenRequest{ClientID: api.clientID, ClientSecret: api.secret})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name       string
		target     string
		wantStatus int
		// wantParam is the parameter that the error names, quoted.
		wantParam string
	}{
		{"no parameters", "/v1/vaults", http.StatusOK, ""},
		{"limit once", "/v1/vaults?limit=1", http.StatusOK, ""},
		{"limit and cursor once", "/v1/vaults?limit=1&cursor=" + v.ID, http.StatusOK, ""},
		{"limit twice", "/v1/vaults?limit=1&limit=500", http.StatusBadRequest, `"limit"`},
		{"limit twice with the same value", "/v1/vaults?limit=1&limit=1", http.StatusBadRequest, `"limit"`},
		{"limit twice, second empty", "/v1/vaults?limit=1&limit=", http.StatusBadRequest, `"limit"`},
		{"cursor twice", "/v1/vaults?cursor=" + v.ID + "&cursor=" + v.ID, http.StatusBadRequest, `"cursor"`},
		{"unknown parameter twice", "/v1/vaults?expand=a&expand=b", http.StatusBadRequest, `"expand"`},
		{"two repeated parameters", "/v1/vaults?limit=1&cursor=a&limit=2&cursor=b", http.StatusBadRequest, `"cursor"`},
		{"one vault", "/v1/vaults/" + v.ID, http.StatusOK, ""},
		{"one vault, parameter twice", "/v1/vaults/" + v.ID + "?fields=a&fields=b", http.StatusBadRequest, `"fields"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", c.target, nil)
			r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)
			if rec.Code != c.wantStatus {
				t.Fatalf("GET %s: status %d, want %d; body %s", c.target, rec.Code, c.wantStatus, rec.Body)
			}
			if c.wantStatus == http.StatusOK {
				return
			}
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("GET %s: error body is not problem details: %v", c.target, err)
			}
			if p.Code != string(iogate.CodeInvalid) {
				t.Errorf("GET %s: problem code = %q, want %q", c.target, p.Code, iogate.CodeInvalid)
			}
			if !strings.Contains(p.Detail, "parameter "+c.wantParam+" is repeated") {
				t.Errorf("GET %s: detail %q does not name the repeated parameter %s", c.target, p.Detail, c.wantParam)
			}
		})
	}
}

// deletingReader is a request body that calls beforeRead once, on the first Read, and then
// reads from body. It stands for a client whose key changes while it sends the body.
type deletingReader struct {
	body       io.Reader
	beforeRead func()
}

func (d *deletingReader) Read(p []byte) (int, error) {
	if d.beforeRead != nil {
		d.beforeRead()
		d.beforeRead = nil
	}
	return d.body.Read(p)
}

// TestCreateVaultKeyDeletedDuringBody checks that POST /v1/vaults creates no vault when the
// key of its token is deleted while the client sends the body. The token verifies before
// the body is read, and a slow client can take up to --read-timeout to send the body, so the
// handler must check the token again before it writes.
func TestCreateVaultKeyDeletedDuringBody(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	ctx := context.Background()
	writer, _, tok := api.newWriter(t)

	body := &deletingReader{body: strings.NewReader(`{"name":"Late","threshold":2}`), beforeRead: func() {
		if err := api.engine.DeleteKey(ctx, writer.ClientID); err != nil {
			t.Errorf("DeleteKey: %v", err)
		}
	}}
	r := httptest.NewRequest("POST", "/v1/vaults", body)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("POST /v1/vaults: status %d, want %d; body %s", rec.Code, http.StatusUnauthorized, rec.Body)
	}

	vaults, _, err := api.srv.store.ListVaults(ctx, writer.AccountID, iogate.Page{Limit: iogate.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(vaults) != 0 {
		t.Errorf("vaults stored = %d, want 0: the key was deleted before the body arrived", len(vaults))
	}
}

// TestCreateVaultCountsOneVerification checks that POST /v1/vaults, which checks its token
// again after reading the body, counts one verification in the metrics, as every other
// request does.
func TestCreateVaultCountsOneVerification(t *testing.T) {
	m := metrics.New()
	api := newTestAPIOnStore(t, Options{Metrics: m}, slog.New(slog.DiscardHandler), auth.Config{Metrics: m},
		func(db *sqlite.DB) iogate.Store { return db })
	_, _, tok := api.newWriter(t)
	r := httptest.NewRequest("POST", "/v1/vaults", strings.NewReader(`{"name":"Treasury","threshold":2}`))
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	api.srv.Handler().ServeHTTP(rec, r)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /v1/vaults: status %d, want 201", rec.Code)
	}

	rec = httptest.NewRecorder()
	api.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	const want = `iogate_token_verification_seconds_count{result="ok"} 1` + "\n"
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/metrics after one POST /v1/vaults has no line %q", strings.TrimSpace(want))
	}
}
