package http

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestErrorBodiesNotHTMLEscaped checks that JSON error bodies write "&", "<" and ">" as
// they are, not as the \u0026 escapes of json.Marshal. They must still be served with a
// JSON Content-Type and X-Content-Type-Options: nosniff, so no browser reads them as HTML.
func TestErrorBodiesNotHTMLEscaped(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	_, _, tok := api.newWriter(t)

	cases := []struct {
		name, path, contentType, body string
		bearer                        bool
		wantContentType, wantText     string
	}{
		{"OAuth error_description", "/oauth2/token", "application/x-www-form-urlencoded",
			"grant_type=client_credentials&client_id=" + api.clientID + "&client_secret=" + api.secret + "&scope=a%26%3Cb%3E",
			false, "application/json", "a&<b>"},
		{"OAuth repeated parameter", "/oauth2/token", "application/x-www-form-urlencoded",
			"x%26y=1&x%26y=2", false, "application/json", "x&y"},
		{"problem detail", "/v1/vaults", "application/json", `{"a&<b>":1}`,
			true, "application/problem+json", "a&<b>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body))
			r.Header.Set("Content-Type", c.contentType)
			if c.bearer {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)

			if rec.Code < 400 {
				t.Fatalf("POST %s: status %d, want an error; body %s", c.path, rec.Code, rec.Body)
			}
			body := rec.Body.String()
			if !strings.Contains(body, c.wantText) {
				t.Errorf("POST %s: body %s, want it to contain %q unescaped", c.path, body, c.wantText)
			}
			for _, escape := range []string{`\u0026`, `\u003c`, `\u003e`} {
				if strings.Contains(body, escape) {
					t.Errorf("POST %s: body %s contains the HTML escape %s", c.path, body, escape)
				}
			}
			if got := rec.Header().Get("Content-Type"); got != c.wantContentType {
				t.Errorf("POST %s: Content-Type %q, want %q", c.path, got, c.wantContentType)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("POST %s: X-Content-Type-Options %q, want nosniff", c.path, got)
			}
		})
	}
}

// TestMarshalJSONKeepsHTMLCharacters checks that marshalJSON writes "&", "<" and ">" as
// they are, ends with a newline, and still escapes U+2028 as encoding/json does.
func TestMarshalJSONKeepsHTMLCharacters(t *testing.T) {
	got, err := marshalJSON(map[string]string{"a": "x&<y>\u2028"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"x&<y>\u2028"}` + "\n"
	if string(got) != want {
		t.Errorf("marshalJSON = %q, want %q", got, want)
	}
}
