package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// accessTokenResponse is the body of a successful POST /v1/auth/accessToken.
type accessTokenResponse struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int64  `json:"expiresIn"`
	Scope       string `json:"scope"`
}

// accessTokenFields are the members of a POST /v1/auth/accessToken body.
var accessTokenFields = []string{"clientId", "clientSecret"}

// handleAccessToken serves POST /v1/auth/accessToken: the platform's own token endpoint,
// JSON {"clientId","clientSecret"} in, a bearer token out.
func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) error {
	// Token responses must never be cached, errors included (RFC 6749 section 5.1).
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")

	ascii, err := requireJSON(r)
	if err != nil {
		return withBasicHint(r, err)
	}
	body, err := readBody(w, r, maxTokenBodyBytes)
	if err != nil {
		return err
	}
	if err := requireASCIIJSON(ascii, body); err != nil {
		return withBasicHint(r, err)
	}
	fields, err := decodeStrictObject(body, accessTokenFields...)
	if err != nil {
		return withBasicHint(r, err)
	}
	for _, name := range accessTokenFields {
		if fields[name] == "" {
			return withBasicHint(r, iogate.Errorf(iogate.CodeInvalid, "missing field %q: the body must be {\"clientId\": \"...\", \"clientSecret\": \"...\"}", name))
		}
	}

	issued, err := s.auth.IssueToken(r.Context(), auth.TokenRequest{
		ClientID:     fields["clientId"],
		ClientSecret: fields["clientSecret"],
		RemoteAddr:   clientAddr(r),
	})
	if err != nil {
		markOutdatedCredential(r, err)
		logRefusedClient(r, err, fields["clientId"])
		return err
	}
	stateFrom(r.Context()).clientID = issued.ClientID
	writeJSON(w, http.StatusOK, "application/json", accessTokenResponse{
		AccessToken: issued.AccessToken,
		TokenType:   "Bearer",
		ExpiresIn:   issued.ExpiresIn,
		Scope:       strings.Join(issued.Scopes, " "),
	})
	return nil
}

// withBasicHint adds to the invalid_request error err of a request that sent HTTP Basic
// credentials that this endpoint reads credentials only from the JSON body. Clients used to
// RFC 6749's client_secret_basic send them that way and would otherwise see only what is
// wrong with the body.
func withBasicHint(r *http.Request, err error) error {
	var e *iogate.Error
	if !errors.As(err, &e) || e.Code != iogate.CodeInvalid {
		return err
	}
	if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); !strings.EqualFold(scheme, "Basic") {
		return err
	}
	return &iogate.Error{Code: e.Code, Message: e.Message + ". This endpoint ignores the Authorization header: send the client ID and secret in the JSON body, or send HTTP Basic credentials to /oauth2/token", Cause: e.Cause}
}

// requireJSON accepts application/json in any letter case, with parameters such as charset.
// Another media type or charset is invalid_request (400), as the token endpoints document.
// ascii reports a body declared US-ASCII, which the caller checks with requireASCIIJSON.
func requireJSON(r *http.Request) (ascii bool, err error) {
	return requireMediaType(r, "application/json", iogate.CodeInvalid, "invalid Content-Type: send the body as application/json")
}

// requireMediaType checks that the request has exactly one Content-Type, of media type
// want, in UTF-8 or US-ASCII if it names a charset, and no content coding. A proxy in
// front of the server might read a body with a second Content-Type, another charset or a
// coding differently from how the server reads it, so each of these is an error, not a
// guess. A content coding is always CodeUnsupportedMediaType, and the other errors have
// the code typeCode. The charset names "utf-8", "utf8" and "us-ascii" match in any letter
// case. ascii reports a body declared US-ASCII: the caller then rejects a body that holds
// a byte above 0x7f, because such a body is not in the charset it declares.
func requireMediaType(r *http.Request, want string, typeCode iogate.ErrorCode, message string) (ascii bool, err error) {
	if enc := r.Header.Values("Content-Encoding"); len(enc) > 1 || len(enc) == 1 && !strings.EqualFold(enc[0], "identity") {
		return false, iogate.Errorf(iogate.CodeUnsupportedMediaType, "unsupported Content-Encoding: send the body uncompressed")
	}
	values := r.Header.Values("Content-Type")
	if len(values) != 1 {
		return false, iogate.Errorf(typeCode, "%s", message)
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != want {
		return false, iogate.Errorf(typeCode, "%s", message)
	}
	// ParseMediaType takes an RFC 2231 parameter such as charset*=utf-8''utf-8 or
	// charset*0=utf-8 over a plain charset=, and drops one in a charset it does not know.
	// A proxy that reads only charset= would then see another charset. Neither media type
	// has a parameter that needs the extended form, so any "*" is rejected.
	if strings.Contains(values[0], "*") {
		return false, iogate.Errorf(typeCode, "invalid Content-Type: extended parameters (name*=) are not supported; send the charset as charset=utf-8")
	}
	cs, ok := params["charset"]
	switch {
	case !ok, strings.EqualFold(cs, "utf-8"), strings.EqualFold(cs, "utf8"):
		return false, nil
	case strings.EqualFold(cs, "us-ascii"):
		return true, nil
	}
	return false, iogate.Errorf(typeCode, "unsupported charset %s: send the body in UTF-8", iogate.QuoteInput(cs))
}

// errNotASCII is the error of a body declared US-ASCII that is not.
var errNotASCII = iogate.Errorf(iogate.CodeInvalid,
	"invalid body: the Content-Type declares charset=us-ascii but the body contains a byte above 0x7f; send it as charset=utf-8")

// requireASCIIJSON returns errNotASCII when ascii is set and body holds a byte above 0x7f.
// A JSON escape such as \u00e9 is ASCII text, so it passes.
func requireASCIIJSON(ascii bool, body []byte) error {
	if ascii && !isASCII(string(body)) {
		return errNotASCII
	}
	return nil
}

// isASCII reports whether s holds no byte above 0x7f.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7f {
			return false
		}
	}
	return true
}

// readBody reads at most limit bytes of the body, or returns CodeTooLarge.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, iogate.Errorf(iogate.CodeTooLarge, "request body too large: at most %d bytes", limit)
	}
	if err != nil {
		return nil, iogate.WrapError(iogate.CodeInvalid, err, "could not read the request body")
	}
	return body, nil
}

// decodeStrictObject parses body as one JSON object whose members all have string values
// and names from allowed. It is decodeStrict with every field a string.
func decodeStrictObject(body []byte, allowed ...string) (map[string]string, error) {
	if out, ok := decodePlainObject(body, allowed); ok {
		return out, nil
	}
	return decodeStrictObjectTokens(body, allowed)
}

// decodeStrictObjectTokens is decodeStrictObject on encoding/json's tokenizer, which names
// the exact problem of any body that decodePlainObject does not accept.
func decodeStrictObjectTokens(body []byte, allowed []string) (map[string]string, error) {
	fields := make([]jsonField, len(allowed))
	for i, name := range allowed {
		fields[i] = jsonField{name: name, kind: jsonString}
	}
	values, err := decodeStrict(body, fields...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(values))
	for name, v := range values {
		out[name] = v.(string)
	}
	return out, nil
}

// jsonKind is the type a strictly decoded JSON member must have.
type jsonKind int

const (
	jsonString jsonKind = iota
	// jsonInteger is a JSON number without fraction or exponent that fits an int.
	jsonInteger
)

// jsonField names a member that decodeStrict accepts and its type.
type jsonField struct {
	name string
	kind jsonKind
}

// decodeStrict parses body as one JSON object whose members are among fields and have
// their types. Strings come back as string, integers as int. Go's encoding/json would
// accept duplicate names, names in another letter case, values of other types coerced by
// the caller, invalid UTF-8 and trailing data. Each of these hides a client bug or a
// smuggling attempt, so each is an error here.
func decodeStrict(body []byte, fields ...jsonField) (map[string]any, error) {
	invalid := func(format string, args ...any) error {
		return iogate.Errorf(iogate.CodeInvalid, "invalid JSON body: "+format, args...)
	}
	if !utf8.Valid(body) {
		return nil, invalid("the body is not valid UTF-8")
	}
	if hasUnpairedSurrogate(body) {
		return nil, invalid("a string has an unpaired UTF-16 surrogate escape such as \\ud800; escape characters outside the Basic Multilingual Plane as a surrogate pair")
	}

	names := make([]string, len(fields))
	kinds := make(map[string]jsonKind, len(fields))
	for i, f := range fields {
		names[i] = f.name
		kinds[f.name] = f.kind
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, invalid("expected a JSON object")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalid("expected a JSON object")
	}

	out := make(map[string]any, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("malformed object")
		}
		name, _ := tok.(string)
		kind, known := kinds[name]
		if !known {
			for _, a := range names {
				if strings.EqualFold(a, name) {
					return nil, invalid("unknown field %s; field names are case-sensitive, did you mean %q?", iogate.QuoteInput(name), a)
				}
			}
			return nil, invalid("unknown field %s; expected only %s", iogate.QuoteInput(name), quoteAll(names))
		}
		if _, dup := out[name]; dup {
			return nil, invalid("duplicate field %q", name)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, invalid("malformed value of %q", name)
		}
		switch kind {
		case jsonString:
			value, ok := tok.(string)
			if !ok {
				return nil, invalid("field %q must be a string", name)
			}
			out[name] = value
		case jsonInteger:
			num, ok := tok.(json.Number)
			n, err := strconv.Atoi(string(num))
			if !ok || err != nil {
				return nil, invalid("field %q must be an integer", name)
			}
			out[name] = n
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, invalid("malformed object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("unexpected data after the JSON object")
	}
	return out, nil
}

// hasUnpairedSurrogate reports whether a JSON text has a \u escape of a UTF-16 surrogate
// that is not part of a high-low pair. encoding/json decodes such an escape to U+FFFD, and
// other parsers keep it or reject the text, so the server and a proxy could read different
// strings. A backslash can only start an escape, because outside strings it is a syntax
// error that the tokenizer rejects. Malformed escapes are left to the tokenizer too.
func hasUnpairedSurrogate(b []byte) bool {
	for i := bytes.IndexByte(b, '\\'); i >= 0 && i+1 < len(b); {
		if b[i+1] != 'u' {
			i = nextEscape(b, i+2)
			continue
		}
		r, ok := escapedUnit(b, i)
		switch {
		case !ok:
			i = nextEscape(b, i+2)
		case 0xd800 <= r && r <= 0xdbff:
			low, ok := escapedUnit(b, i+6)
			if !ok || low < 0xdc00 || low > 0xdfff {
				return true
			}
			i = nextEscape(b, i+12)
		case 0xdc00 <= r && r <= 0xdfff:
			return true
		default:
			i = nextEscape(b, i+6)
		}
	}
	return false
}

// nextEscape returns the index of the first backslash at or after i, or -1.
func nextEscape(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	if j := bytes.IndexByte(b[i:], '\\'); j >= 0 {
		return i + j
	}
	return -1
}

// escapedUnit returns the UTF-16 code unit of the \uXXXX escape at b[i], and false when
// there is none.
func escapedUnit(b []byte, i int) (rune, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + n + `"`
	}
	return strings.Join(q, " and ")
}

// decodePlainObject decodes the common well-formed token request without encoding/json's
// tokenizer, which costs about thirty allocations per body. It accepts only an object whose
// members have distinct names from allowed and string values, every string free of escapes
// and control characters and valid UTF-8, with nothing but JSON whitespace around. For any
// other body it returns false, and decodeStrictObjectTokens decides. For every body it
// accepts, decodeStrictObjectTokens returns the same map without error; a fuzz test holds
// the two to that.
func decodePlainObject(body []byte, allowed []string) (map[string]string, bool) {
	i := skipJSONSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	out := make(map[string]string, len(allowed))
	i = skipJSONSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return out, skipJSONSpace(body, i+1) == len(body)
	}
	for {
		name, next, ok := plainJSONString(body, i)
		if !ok || !contains(allowed, name) {
			return nil, false
		}
		if _, dup := out[name]; dup {
			return nil, false
		}
		i = skipJSONSpace(body, next)
		if i >= len(body) || body[i] != ':' {
			return nil, false
		}
		value, next, ok := plainJSONString(body, skipJSONSpace(body, i+1))
		if !ok {
			return nil, false
		}
		out[name] = value

		i = skipJSONSpace(body, next)
		if i >= len(body) {
			return nil, false
		}
		switch body[i] {
		case ',':
			i = skipJSONSpace(body, i+1)
		case '}':
			return out, skipJSONSpace(body, i+1) == len(body)
		default:
			return nil, false
		}
	}
}

// plainJSONString reads the string starting at b[i] and returns it with the index after
// its closing quote. It returns false for a string with an escape, a control character or
// invalid UTF-8, which encoding/json would rewrite or reject.
func plainJSONString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if !utf8.Valid(s) {
				return "", 0, false
			}
			return string(s), j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

// skipJSONSpace returns the index of the first byte at or after i that is not JSON
// whitespace (RFC 8259 section 2: space, tab, line feed, carriage return).
func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
