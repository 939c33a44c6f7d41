package http

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestRequestCharsets checks the charsets that the token endpoints and POST /v1/vaults
// accept: UTF-8 by either name and US-ASCII, in any letter case, and no other. An RFC 2231
// extended parameter such as charset*= is rejected too. A body declared US-ASCII that
// holds a byte above 0x7f, raw or percent-encoded, is a 400 that names the charset. A JSON escape of a non-ASCII character is ASCII text, so it passes.
func TestRequestCharsets(t *testing.T) {
	api := newTestAPI(t, Options{})
	handler := api.srv.Handler()
	_, _, tok := api.newWriter(t)

	jsonCredentials := `{"clientId":"` + api.clientID + `","clientSecret":"` + api.secret + `"}`
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {api.clientID}, "client_secret": {api.secret}}
	formCredentials := form.Encode()
	type endpoint struct {
		name, path, mediaType string
		bearer                bool
		// body is the valid body, nonASCII one that holds a byte above 0x7f, and escaped
		// one with a JSON escape of a non-ASCII character, or "" for the form.
		body, nonASCII, escaped string
		wantOK, wantEscaped     int
		// wantOtherCharset is the status of a charset that iogate does not accept.
		wantOtherCharset int
	}
	endpoints := []endpoint{
		{"JSON token", accessTokenPath, "application/json", false,
			jsonCredentials, strings.Replace(jsonCredentials, api.secret, "caf\u00e9", 1),
			strings.Replace(jsonCredentials, api.secret, `caf\u00e9`, 1), http.StatusOK, http.StatusUnauthorized, http.StatusBadRequest},
		{"OAuth token", "/oauth2/token", "application/x-www-form-urlencoded", false,
			formCredentials, formCredentials + "&scope=caf%C3%A9", "", http.StatusOK, 0, http.StatusBadRequest},
		{"OAuth token raw byte", "/oauth2/token", "application/x-www-form-urlencoded", false,
			formCredentials, formCredentials + "&scope=caf\u00e9", "", http.StatusOK, 0, http.StatusBadRequest},
		{"create vault", "/v1/vaults", "application/json", true,
			`{"name":"Cold","threshold":2}`, `{"name":"Caf` + "\u00e9" + `","threshold":2}`,
			`{"name":"Caf\u00e9","threshold":2}`, http.StatusCreated, http.StatusCreated, http.StatusUnsupportedMediaType},
	}
	send := func(e endpoint, contentType, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, e.path, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if e.bearer {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		return rec
	}

	for _, e := range endpoints {
		for _, charset := range []string{"", "utf-8", "UTF-8", "utf8", "UTF8", `"utf-8"`, "us-ascii", "US-ASCII"} {
			contentType := e.mediaType
			if charset != "" {
				contentType += "; charset=" + charset
			}
			if rec := send(e, contentType, e.body); rec.Code != e.wantOK {
				t.Errorf("%s with %q: status %d, want %d; body %s", e.name, contentType, rec.Code, e.wantOK, errorBody(rec))
			}
		}
		for _, charset := range []string{"iso-8859-1", "utf-16", "latin1", "ascii", "utf-8-sig", ""} {
			contentType := e.mediaType + "; charset=" + charset
			if charset == "" {
				contentType = e.mediaType + `; charset=""`
			}
			rec := send(e, contentType, e.body)
			if rec.Code != e.wantOtherCharset {
				t.Errorf("%s with %q: status %d, want %d; body %s", e.name, contentType, rec.Code, e.wantOtherCharset, errorBody(rec))
			}
		}

		// Go's mime.ParseMediaType reads the extended parameters of RFC 2231 (charset*=,
		// charset*0=) in place of a plain charset, or drops one in an unknown charset. A
		// proxy that reads only charset= would then see another charset than iogate.
		for _, params := range []string{"; charset=utf-16; charset*=utf-8''utf-8", "; charset*0=utf-8; charset=utf-16",
			"; charset*=utf-8''utf-8", "; charset*=x''utf-16", "; charset*0=us-; charset*1=ascii"} {
			contentType := e.mediaType + params
			if rec := send(e, contentType, e.body); rec.Code != e.wantOtherCharset {
				t.Errorf("%s with %q: status %d, want %d; body %s", e.name, contentType, rec.Code, e.wantOtherCharset, errorBody(rec))
			}
		}

		ascii := e.mediaType + "; charset=us-ascii"
		rec := send(e, ascii, e.nonASCII)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s with a non-ASCII byte under %q: status %d, want 400; body %s", e.name, ascii, rec.Code, errorBody(rec))
		}
		if !strings.Contains(rec.Body.String(), "charset=us-ascii") {
			t.Errorf("%s with a non-ASCII byte under %q: body %s, want it to name charset=us-ascii", e.name, ascii, errorBody(rec))
		}
		if rec := send(e, e.mediaType+"; charset=utf-8", e.nonASCII); strings.Contains(rec.Body.String(), "us-ascii") {
			t.Errorf("%s with a non-ASCII byte under UTF-8: body %s, want no charset error", e.name, errorBody(rec))
		}
		if e.escaped != "" {
			if rec := send(e, ascii, e.escaped); rec.Code != e.wantEscaped {
				t.Errorf("%s with a JSON escape under %q: status %d, want %d; body %s", e.name, ascii, rec.Code, e.wantEscaped, errorBody(rec))
			}
		}
	}
}

// errorBody returns the body of an error response, for a failure message. A success body
// may hold an access token, which must not reach the test's output, so it is left out.
func errorBody(rec *httptest.ResponseRecorder) string {
	if rec.Code < 400 {
		return "(success body left out)"
	}
	return rec.Body.String()
}
