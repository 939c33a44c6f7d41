package http

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// TestAccessLogTokenFailure checks that the access-log line of a /v1 request whose bearer
// token fails names the reason in token_failure, in lines built with logging.Line and
// through slog alike. The responses of tokens that look like iogate's stay identical,
// and the log never contains a token.
func TestAccessLogTokenFailure(t *testing.T) {
	for _, fast := range []bool{true, false} {
		var out bytes.Buffer
		api, w := newAccessLogAPI(t, &out, time.Hour, !fast)
		other := newTestAPI(t, Options{})
		h := api.srv.Handler()
		ctx := context.Background()

		deleted, _, deletedToken := api.newWriter(t)
		narrowed, _, narrowedToken := api.newWriter(t)
		_, _, validToken := api.newWriter(t)
		_, _, foreignToken := other.newWriter(t)
		if err := api.engine.DeleteKey(ctx, deleted.ClientID); err != nil {
			t.Fatal(err)
		}
		if _, err := api.engine.UpdateKey(ctx, narrowed.ClientID, auth.UpdateKeyRequest{Scopes: []string{iogate.ScopeVaultsWrite}}); err != nil {
			t.Fatal(err)
		}
		requests := []struct {
			name, authorization string
			want                auth.TokenFailure
			// sameResponse marks the requests whose status, challenge and body, less the
			// request ID, must match those of every other marked request.
			sameResponse bool
		}{
			{"valid", "Bearer " + validToken, auth.NoTokenFailure, false},
			{"not a JWT", "Bearer undefined", auth.TokenMalformed, false},
			{"not token68", "Bearer a b", auth.TokenMalformed, false},
			{"unknown signing key", "Bearer " + foreignToken, auth.TokenUnknownSigningKey, true},
			{"key deleted", "Bearer " + deletedToken, auth.TokenKeyDeleted, true},
			{"scope removed", "Bearer " + narrowedToken, auth.TokenScopeRemoved, true},
			{"no token", "", auth.NoTokenFailure, false},
		}
		var firstResponse string
		for _, r := range requests {
			req := httptest.NewRequest(http.MethodGet, "https://iogate.test/v1/vaults", nil)
			req.RemoteAddr = "192.0.2.7:40000"
			if r.authorization != "" {
				req.Header.Set("Authorization", r.authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !r.sameResponse {
				continue
			}
			body := strings.ReplaceAll(rec.Body.String(), rec.Header().Get("X-Request-Id"), "ID")
			response := rec.Result().Status + "\n" + rec.Header().Get("WWW-Authenticate") + "\n" + body
			if firstResponse == "" {
				firstResponse = response
			} else if response != firstResponse {
				t.Errorf("fast %v, %s: response\n%s\nwant the same as the other failed tokens\n%s", fast, r.name, response, firstResponse)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}

		for _, tok := range []string{validToken, foreignToken, deletedToken, narrowedToken} {
			if strings.Contains(out.String(), tok) || strings.Contains(out.String(), strings.Split(tok, ".")[2]) {
				t.Errorf("fast %v: the access log contains a token or its signature", fast)
			}
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != len(requests) {
			t.Fatalf("fast %v: %d lines, want %d:\n%s", fast, len(lines), len(requests), out.String())
		}
		for i, r := range requests {
			var got struct {
				TokenFailure *string `json:"token_failure"`
			}
			if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
				t.Fatalf("fast %v, %s: line is not JSON: %v", fast, r.name, err)
			}
			switch {
			case r.want == auth.NoTokenFailure && got.TokenFailure != nil:
				t.Errorf("fast %v, %s: token_failure %q, want none", fast, r.name, *got.TokenFailure)
			case r.want != auth.NoTokenFailure && got.TokenFailure == nil:
				t.Errorf("fast %v, %s: no token_failure, want %q", fast, r.name, r.want)
			case r.want != auth.NoTokenFailure && *got.TokenFailure != r.want.String():
				t.Errorf("fast %v, %s: token_failure %q, want %q", fast, r.name, *got.TokenFailure, r.want)
			}
		}
	}
}
