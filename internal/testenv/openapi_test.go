package testenv

import (
	"net/http"
	"strings"
	"testing"

	iohttp "github.com/iogate/iogate/http"
)

// TestCheckResponse checks that the checker rejects what the document does not allow, so
// that the end-to-end tests' checks can fail.
func TestCheckResponse(t *testing.T) {
	api, err := LoadOpenAPI(iohttp.OpenAPIDocument)
	if err != nil {
		t.Fatalf("LoadOpenAPI: %v", err)
	}
	jsonHeader := func(extra ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"0123456789abcdef0123456789abcdef"}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	vault := `{"id":"0190a1b2-0000-7000-8000-000000000000","name":"Treasury","threshold":2,"status":"active","createdAt":"2026-01-02T03:04:05Z"}`
	cases := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		wantErr            string
	}{
		{"vault list", "GET", "/v1/vaults", 200, jsonHeader(), `{"data":[` + vault + `]}`, ""},
		{"extra property", "GET", "/v1/vaults", 200, jsonHeader(), `{"data":[],"total":1}`, "does not match"},
		{"wrong type", "GET", "/v1/vaults/x", 200, jsonHeader(), strings.Replace(vault, `"threshold":2`, `"threshold":"2"`, 1), "does not match"},
		{"undocumented status", "GET", "/v1/vaults", 418, jsonHeader(), `{}`, "does not match"},
		{"missing request ID", "GET", "/healthz", 200, http.Header{"Content-Type": {"application/json"}}, `{"status":"ok"}`, "X-Request-Id"},
		{"token response without no-store", "POST", "/oauth2/token", 200, jsonHeader("Pragma", "no-cache"),
			`{"access_token":"a","token_type":"Bearer","expires_in":60,"scope":"vaults:read"}`, "Cache-Control"},
		{"token response", "POST", "/oauth2/token", 200, jsonHeader("Pragma", "no-cache", "Cache-Control", "no-store"),
			`{"access_token":"a","token_type":"Bearer","expires_in":60,"scope":"vaults:read"}`, ""},
		{"OAuth error with a quote", "POST", "/oauth2/token", 400, jsonHeader("Pragma", "no-cache", "Cache-Control", "no-store"),
			`{"error":"invalid_request","error_description":"a \"b\""}`, "does not match"},
		{"unknown path", "GET", "/nowhere", 404, http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"0123456789abcdef0123456789abcdef"}},
			`{"type":"about:blank","title":"Not Found","status":404,"detail":"no such endpoint","code":"not_found","requestId":"0123456789abcdef0123456789abcdef"}`, ""},
		{"undocumented route", "GET", "/v2/things", 200, jsonHeader(), `{}`, "no such operation"},
		{"token redacted", "GET", "/healthz", 200, jsonHeader(), `{"status":"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln"}`, "[REDACTED]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "https://127.0.0.1"+c.path, nil)
			err := api.CheckResponse(req, c.status, c.header, []byte(c.body))
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("CheckResponse = %v, want nil", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("CheckResponse = %v, want an error containing %q", err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "eyJhbGci") {
				t.Errorf("CheckResponse error holds a token: %v", err)
			}
		})
	}
}
