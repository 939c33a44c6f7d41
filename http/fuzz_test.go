package http

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// FuzzDecodeStrictObject checks that the strict JSON decoder never panics, fails only with
// CodeInvalid, and that what it accepts is what encoding/json reads from the same body.
func FuzzDecodeStrictObject(f *testing.F) {
	for _, s := range []string{`{"clientId":"a","clientSecret":"b"}`, `{"clientId":"a","clientId":"b"}`, `{"clientid":"a"}`,
		`{"clientId":1}`, `{"clientId":"a"}{}`, `[]`, `{`, ``, `{"clientId":"\u00e9\ud83d\ude00"}`, ` {"clientSecret" : "x" } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, err := decodeStrictObject(body, "clientId", "clientSecret")
		if err != nil {
			if iogate.ErrorCodeOf(err) != iogate.CodeInvalid {
				t.Fatalf("error code %s, want %s", iogate.ErrorCodeOf(err), iogate.CodeInvalid)
			}
			return
		}
		var loose map[string]string
		if err := json.Unmarshal(body, &loose); err != nil {
			t.Fatalf("strict decoder accepted a body encoding/json rejects: %v", err)
		}
		for k, v := range fields {
			if loose[k] != v {
				t.Fatalf("field %q = %q, encoding/json reads %q", k, v, loose[k])
			}
		}
	})
}

// FuzzBearerToken checks the Authorization header parser: it never panics, fails only with
// a bearer error, and returns only tokens of the b64token syntax.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer   abc", "Bearer", "Bearer ", "Basic YTpi", "Bearer a b", "BEARER\tx", ""} {
		f.Add(s, "")
	}
	f.Add("Bearer abc", "access_token=abc")
	f.Fuzz(func(t *testing.T, header, query string) {
		r := &http.Request{Method: http.MethodGet, Header: http.Header{}, URL: mustURL(query)}
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		tok, err := bearerToken(httptest.NewRecorder(), r)
		if err != nil {
			if _, ok := err.(*bearerError); !ok {
				t.Fatalf("error %T, want *bearerError", err)
			}
			return
		}
		if !validToken68(tok) {
			t.Fatalf("token %q does not have the b64token syntax", tok)
		}
	})
}

// FuzzBasicCredentials checks the HTTP Basic parser against its inverse: credentials that
// a client encodes as RFC 6749 section 2.3.1 specifies come back unchanged.
func FuzzBasicCredentials(f *testing.F) {
	f.Add("6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11", "iogs_secret", "")
	f.Add("a:b", "+%é", "")
	f.Add("", "", "Basic Og==")
	f.Add("", "", "basic !!!")
	f.Fuzz(func(t *testing.T, id, secret, raw string) {
		if _, _, err := parseBasicCredentials(raw); err != nil && err != errBasicCredentials {
			t.Fatalf("parseBasicCredentials(%q) error %v, want errBasicCredentials", raw, err)
		}
		encoded := base64.StdEncoding.EncodeToString([]byte(formEscape(id) + ":" + formEscape(secret)))
		gotID, gotSecret, err := parseBasicCredentials("Basic " + encoded)
		if err != nil || gotID != id || gotSecret != secret {
			t.Fatalf("parseBasicCredentials(encode(%q, %q)) = %q, %q, %v", id, secret, gotID, gotSecret, err)
		}
	})
}

// FuzzForwardedFor checks the X-Forwarded-For walk: it never panics and returns either the
// peer or an address that appears in the header.
func FuzzForwardedFor(f *testing.F) {
	f.Add("198.51.100.1, 10.0.0.2")
	f.Add("[2001:db8::1]:80,unknown, 10.9.9.9")
	f.Add(",,,")
	trust := proxyTrust{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, header string) {
		got, hops := trust.forwardedFor(peer, []string{header})
		if hops < 1 || hops > strings.Count(header, ",")+2 {
			t.Fatalf("forwardedFor counted %d trusted hops for a header of %d entries", hops, strings.Count(header, ",")+1)
		}
		if got == peer {
			return
		}
		found := false
		for _, e := range strings.Split(header, ",") {
			if a, ok := parseForwardedAddr(e); ok && a == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("forwardedFor(%q) = %v, which the header does not contain", header, got)
		}
	})
}

// FuzzAccessTokenEndpoint sends arbitrary bodies and content types to the token endpoint
// of a real engine: every response is a success or a 4xx with a problem body, never a 5xx
// or a panic.
func FuzzAccessTokenEndpoint(f *testing.F) {
	api := newTestAPI(f, Options{})
	handler := api.srv.Handler()
	good, _ := json.Marshal(map[string]string{"clientId": api.clientID, "clientSecret": api.secret})
	f.Add("application/json", good)
	f.Add("application/json; charset=utf-8", []byte(`{"clientId":"`+api.clientID+`","clientSecret":"iogs_x"}`))
	f.Add("application/x-www-form-urlencoded", []byte("client_id=a&client_secret=b"))
	f.Add("", []byte(`{}`))
	f.Add("application/json", bytes.Repeat([]byte("a"), 70_000))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/auth/accessToken", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		checkAnswer(t, w)
		if w.Code == http.StatusOK && !bytes.Equal(body, good) {
			var fields map[string]string
			if json.Unmarshal(body, &fields) != nil || fields["clientSecret"] != api.secret {
				t.Fatal("token issued for a body without the key's secret")
			}
		}
	})
}

// FuzzBearerEndpoint sends arbitrary Authorization values to the vault API: only the real
// token gets a success, and every other value a 4xx.
func FuzzBearerEndpoint(f *testing.F) {
	api := newTestAPI(f, Options{})
	handler := api.srv.Handler()
	issued, err := api.engine.IssueToken(f.Context(), authRequest(api))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Bearer " + issued.AccessToken)
	f.Add("Bearer " + issued.AccessToken[:len(issued.AccessToken)-2])
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("Basic YTpi")
	f.Add("Bearer a.b.c")
	f.Fuzz(func(t *testing.T, authorization string) {
		r := httptest.NewRequest(http.MethodGet, "/v1/vaults", nil)
		r.Header.Set("Authorization", authorization)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		checkAnswer(t, w)
		if w.Code == http.StatusOK && !strings.Contains(authorization, issued.AccessToken) {
			t.Fatal("a request without the issued token was authorised")
		}
	})
}

// FuzzOAuthTokenEndpoint sends arbitrary Authorization values, content types and bodies
// to /oauth2/token of a real engine: every response is a success or a 4xx with an RFC 6749
// error body, never a 5xx or a panic, and a token is issued only to a request that
// carries the key's secret.
func FuzzOAuthTokenEndpoint(f *testing.F) {
	api := newTestAPI(f, Options{})
	handler := api.srv.Handler()
	form := "application/x-www-form-urlencoded"
	f.Add("", form, []byte("grant_type=client_credentials&client_id="+api.clientID+"&client_secret="+api.secret))
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte(api.clientID+":"+api.secret)), form, []byte("grant_type=client_credentials&scope=vaults:read"))
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte(api.clientID+":"+api.secret)), form, []byte("grant_type=client_credentials&client_secret=x"))
	f.Add("", form, []byte("grant_type=password&username=a&password=b"))
	f.Add("", "application/json", []byte(`{"grant_type":"client_credentials"}`))
	f.Add("Bearer x", form, []byte("grant_type=client_credentials&grant_type=client_credentials"))
	f.Fuzz(func(t *testing.T, authorization, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code >= 500 || w.Code < 200 || (w.Code >= 300 && w.Code < 400) {
			t.Fatalf("status %d, want a success or a 4xx", w.Code)
		}
		if w.Code >= 400 {
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("status %d with a body that is not an RFC 6749 error", w.Code)
			}
			return
		}
		if !carriesSecret(authorization, body, api.secret) {
			t.Fatal("token issued to a request without the key's secret")
		}
	})
}

// carriesSecret reports whether a token request holds secret in its Basic credentials or
// its form body.
func carriesSecret(authorization string, body []byte, secret string) bool {
	if _, s, err := parseBasicCredentials(authorization); err == nil && s == secret {
		return true
	}
	form, err := url.ParseQuery(string(body))
	return err == nil && form.Get("client_secret") == secret
}

func checkAnswer(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 || w.Code < 200 || (w.Code >= 300 && w.Code < 400) {
		t.Fatalf("status %d, want a success or a 4xx", w.Code)
	}
	if w.Code >= 400 {
		var p Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != w.Code {
			t.Fatalf("status %d with a body that is not a problem document", w.Code)
		}
	}
}

func mustURL(rawQuery string) *url.URL {
	return &url.URL{Path: "/v1/vaults", RawQuery: rawQuery}
}

// formEscape encodes a client ID or secret for HTTP Basic as RFC 6749 section 2.3.1
// specifies.
func formEscape(s string) string { return url.QueryEscape(s) }

func authRequest(api *testAPI) auth.TokenRequest {
	return auth.TokenRequest{ClientID: api.clientID, ClientSecret: api.secret, RemoteAddr: netip.MustParseAddr("192.0.2.1")}
}
