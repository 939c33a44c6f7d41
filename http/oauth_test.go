package http

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/iogate/iogate"
)

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func TestParseBasicCredentials(t *testing.T) {
	cases := []struct {
		name, header, wantID, wantSecret string
		wantErr                          bool
	}{
		{"plain", basic("client", "iogs_abc"), "client", "iogs_abc", false},
		{"form-encoded special characters", basic(url.QueryEscape("a:b"), url.QueryEscape("p+%:é s")), "a:b", "p+%:é s", false},
		{"plus decodes to space", basic("c", "a+b"), "c", "a b", false},
		{"colon in secret", basic("c", "x:y"), "c", "x:y", false},
		{"scheme in other case and extra spaces", "bAsIc   " + base64.StdEncoding.EncodeToString([]byte("c:s")), "c", "s", false},
		{"bearer scheme", "Bearer abc", "", "", true},
		{"bad base64", "Basic !!!", "", "", true},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("cs")), "", "", true},
		{"bad percent escape", basic("c", "100%"), "", "", true},
		{"scheme only", "Basic", "", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, secret, err := parseBasicCredentials(c.header)
			if c.wantErr {
				if iogate.ErrorCodeOf(err) != iogate.CodeInvalidClient {
					t.Errorf("parseBasicCredentials error code = %q, want invalid_client", iogate.ErrorCodeOf(err))
				}
				return
			}
			if err != nil || id != c.wantID || secret != c.wantSecret {
				t.Errorf("parseBasicCredentials = %q, (secret of %d bytes), %v; want %q and the expected secret", id, len(secret), err, c.wantID)
			}
		})
	}
}

func FuzzParseBasicCredentials(f *testing.F) {
	f.Add(basic("c", "s"))
	f.Add(basic(url.QueryEscape("a:b"), url.QueryEscape("p+%:é")))
	f.Add("Basic")
	f.Fuzz(func(t *testing.T, header string) {
		id, secret, err := parseBasicCredentials(header)
		if err != nil && (id != "" || secret != "") {
			t.Errorf("parseBasicCredentials returned credentials with an error")
		}
		if err == nil && !strings.EqualFold(strings.SplitN(header, " ", 2)[0], "Basic") {
			t.Errorf("parseBasicCredentials accepted a header without the Basic scheme")
		}
	})
}

// TestParseScopeParam checks the scope parameter's syntax (RFC 6749 section 3.3): scope
// names separated by spaces. Other whitespace is part of a name, so the name is unknown.
func TestParseScopeParam(t *testing.T) {
	cases := []struct {
		name, param string
		want        []string
		wantCode    iogate.ErrorCode
	}{
		{"absent", "", nil, ""},
		{"blank", "  ", nil, ""},
		{"one", "vaults:read", []string{"vaults:read"}, ""},
		{"two, repeated and extra spaces", " vaults:write  vaults:read vaults:read ", []string{"vaults:read", "vaults:write"}, ""},
		{"unknown", "admin", nil, iogate.CodeInvalidScope},
		{"tab separator", "vaults:read\tvaults:write", nil, iogate.CodeInvalidScope},
		{"trailing line feed", "vaults:read\n", nil, iogate.CodeInvalidScope},
		{"no-break space", "vaults:read\u00a0", nil, iogate.CodeInvalidScope},
		{"next line", "vaults:read\u0085vaults:write", nil, iogate.CodeInvalidScope},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseScopeParam(c.param)
			if code := iogate.ErrorCodeOf(err); code != c.wantCode {
				t.Fatalf("parseScopeParam(%q) error %v (code %q), want code %q", c.param, err, code, c.wantCode)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("parseScopeParam(%q) = %q, want %q", c.param, got, c.want)
			}
		})
	}
}

func TestErrorTablesCoverSameCodes(t *testing.T) {
	statusCodes := slices.Sorted(maps.Keys(statusOf))
	oauthCodes := slices.Sorted(maps.Keys(oauthErrorOf))
	if !slices.Equal(statusCodes, oauthCodes) {
		t.Errorf("statusOf codes %v differ from oauthErrorOf codes %v", statusCodes, oauthCodes)
	}
}

func TestOAuthDescriptionCharacters(t *testing.T) {
	got := oauthDescription("unknown scope \"é\\x\"\n")
	for _, r := range got {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			t.Fatalf("oauthDescription = %q, holds %q, which RFC 6749 forbids in error_description", got, r)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	fields := []jsonField{{"name", jsonString}, {"threshold", jsonInteger}}
	cases := []struct {
		name, body string
		wantErr    string
	}{
		{"valid", `{"name":"Cold","threshold":2}`, ""},
		{"escaped name", `{"n\u0061me":"Cold"}`, ""},
		{"whitespace around", " \n{\"name\" : \"Cold\"}\n ", ""},
		{"duplicate", `{"name":"a","name":"b"}`, "duplicate field"},
		{"duplicate after escape", `{"name":"a","n\u0061me":"b"}`, "duplicate field"},
		{"other case", `{"Name":"a"}`, "case-sensitive"},
		{"unknown", `{"color":"a"}`, "unknown field"},
		{"number as string", `{"threshold":"2"}`, "must be an integer"},
		{"fraction", `{"threshold":2.5}`, "must be an integer"},
		{"exponent", `{"threshold":2e0}`, "must be an integer"},
		{"string as number", `{"name":2}`, "must be a string"},
		{"null", `{"name":null}`, "must be a string"},
		{"nested object", `{"name":{}}`, "must be a string"},
		{"trailing object", `{"name":"a"}{}`, "unexpected data"},
		{"trailing garbage", `{"name":"a"}x`, "unexpected data"},
		{"trailing comma", `{"name":"a",}`, "invalid JSON"},
		{"array", `["name"]`, "expected a JSON object"},
		{"empty", ``, "expected a JSON object"},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", "UTF-8"},
		{"huge integer", `{"threshold":99999999999999999999999}`, "must be an integer"},
		{"surrogate pair", `{"name":"\ud83d\ude00"}`, ""},
		{"escaped backslash before u", `{"name":"\\ud800"}`, ""},
		{"lone high surrogate", `{"name":"a\ud800b"}`, "unpaired UTF-16 surrogate"},
		{"high surrogate at the end", `{"name":"a\uD800"}`, "unpaired UTF-16 surrogate"},
		{"lone low surrogate", `{"name":"\udc00"}`, "unpaired UTF-16 surrogate"},
		{"reversed pair", `{"name":"\udc00\ud800"}`, "unpaired UTF-16 surrogate"},
		{"high surrogate before another escape", `{"name":"\ud800\n"}`, "unpaired UTF-16 surrogate"},
		{"lone surrogate in a name", `{"n\ud800ame":"a"}`, "unpaired UTF-16 surrogate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeStrict([]byte(c.body), fields...)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("decodeStrict(%s) = %v, want no error", c.body, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("decodeStrict(%s) = %v, want an error containing %q", c.body, err, c.wantErr)
			case err != nil && iogate.ErrorCodeOf(err) != iogate.CodeInvalid:
				t.Errorf("decodeStrict(%s) code = %q, want invalid_request", c.body, iogate.ErrorCodeOf(err))
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		name        string
		method      string
		query       string
		headers     []string
		contentType string
		body        string
		wantToken   string
		wantCode    iogate.ErrorCode
		wantOAuth   string
	}{
		{"bearer", "GET", "", []string{"Bearer abc.def-_~+/="}, "", "", "abc.def-_~+/=", "", ""},
		{"scheme in other case and extra spaces", "GET", "", []string{"bEaReR    abc"}, "", "", "abc", "", ""},
		{"trailing spaces and tab", "GET", "", []string{"Bearer abc \t "}, "", "", "abc", "", ""},
		{"no header", "GET", "", nil, "", "", "", iogate.CodeMissingToken, ""},
		{"basic scheme", "GET", "", []string{"Basic YTpi"}, "", "", "", iogate.CodeMissingToken, ""},
		{"query only", "GET", "access_token=abc", nil, "", "", "", iogate.CodeMissingToken, ""},
		{"form body only", "POST", "", nil, "application/x-www-form-urlencoded", "access_token=abc", "", iogate.CodeMissingToken, ""},
		{"empty token", "GET", "", []string{"Bearer "}, "", "", "", iogate.CodeInvalidToken, "invalid_token"},
		{"token with a space", "GET", "", []string{"Bearer a b"}, "", "", "", iogate.CodeInvalidToken, "invalid_token"},
		{"header and query", "GET", "access_token=abc", []string{"Bearer abc"}, "", "", "", iogate.CodeInvalid, "invalid_request"},
		{"header and form body", "POST", "", []string{"Bearer abc"}, "application/x-www-form-urlencoded; charset=utf-8", "x=1&access_token=abc", "", iogate.CodeInvalid, "invalid_request"},
		{"query and form body", "POST", "access_token=abc", nil, "application/x-www-form-urlencoded", "access_token=abc", "", iogate.CodeInvalid, "invalid_request"},
		{"two headers", "GET", "", []string{"Bearer abc", "Bearer def"}, "", "", "", iogate.CodeInvalid, "invalid_request"},
		{"two values in one header", "GET", "", []string{"Bearer abc, Bearer def"}, "", "", "", iogate.CodeInvalid, "invalid_request"},
		{"JSON body is not read", "POST", "", []string{"Bearer abc"}, "application/json", `{"access_token":"x"}`, "abc", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "/v1/vaults?"+c.query, strings.NewReader(c.body))
			for _, h := range c.headers {
				r.Header.Add("Authorization", h)
			}
			if c.contentType != "" {
				r.Header.Set("Content-Type", c.contentType)
			}
			tok, err := bearerToken(httptest.NewRecorder(), r)
			if c.wantCode == "" {
				if err != nil || tok != c.wantToken {
					t.Errorf("bearerToken = %q, %v; want %q", tok, err, c.wantToken)
				}
				return
			}
			var be *bearerError
			if iogate.ErrorCodeOf(err) != c.wantCode || !errors.As(err, &be) || be.oauthError != c.wantOAuth {
				t.Errorf("bearerToken error = %v (code %q); want code %q with challenge error %q", err, iogate.ErrorCodeOf(err), c.wantCode, c.wantOAuth)
			}
		})
	}
}

// TestBearerTokenSchemeMessages checks the message for an Authorization header without the
// Bearer scheme: it names a known scheme and never repeats anything else from the header,
// which could be a credential sent without a scheme.
func TestBearerTokenSchemeMessages(t *testing.T) {
	cases := []struct {
		header  string
		want    string
		notWant string
	}{
		{"Basic YTpi", "Basic authentication with the client ID and secret is for the token endpoints", "YTpi"},
		{"dpop abc", "the DPoP scheme is not supported", "abc"},
		{"Token abc", "the Token scheme is not supported", "abc"},
		{"s3cr3t-value rest", "missing access token: send it as Authorization: Bearer TOKEN", "s3cr3t"},
		{"s3cr3t-value", "missing access token: send it as Authorization: Bearer TOKEN", "s3cr3t"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/v1/vaults", nil)
		r.Header.Set("Authorization", c.header)
		_, err := bearerToken(httptest.NewRecorder(), r)
		if iogate.ErrorCodeOf(err) != iogate.CodeMissingToken {
			t.Errorf("bearerToken(%q) code = %q, want %q", c.header, iogate.ErrorCodeOf(err), iogate.CodeMissingToken)
			continue
		}
		msg := iogate.ErrorMessageOf(err)
		if !strings.Contains(msg, c.want) {
			t.Errorf("bearerToken(%q) message %q lacks %q", c.header, msg, c.want)
		}
		if strings.Contains(msg, c.notWant) {
			t.Errorf("bearerToken(%q) message %q repeats %q from the header", c.header, msg, c.notWant)
		}
	}
}

// TestOpenAPICoversRoutes checks that openapi.json describes exactly the routes and
// methods that Handler registers.
func TestOpenAPICoversRoutes(t *testing.T) {
	s := NewServer(nil, nil, slog.New(slog.DiscardHandler))
	s.Handler()
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	documented := map[string][]string{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[path] = append(documented[path], strings.ToUpper(method))
		}
		slices.Sort(documented[path])
	}
	for pattern, methods := range s.routes {
		if got := documented[pattern]; !slices.Equal(got, methods) {
			t.Errorf("route %s has methods %v, openapi.json documents %v", pattern, methods, got)
		}
	}
	for path := range documented {
		if _, ok := s.routes[path]; !ok {
			t.Errorf("openapi.json documents %s, which Handler does not register", path)
		}
	}
	if len(s.routes) == 0 {
		t.Fatal("Handler registered no routes")
	}
}
