package http

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// bearerRealm is the realm of WWW-Authenticate challenges.
const bearerRealm = "iogate"

// bearerError is an authentication failure on a protected endpoint. It carries what the
// WWW-Authenticate challenge of RFC 6750 section 3 needs.
type bearerError struct {
	err error
	// oauthError is the challenge's error parameter. It is empty when the request carried
	// no token, as RFC 6750 section 3.1 requires.
	oauthError string
	scope      string
}

func (e *bearerError) Error() string { return e.err.Error() }
func (e *bearerError) Unwrap() error { return e.err }

// bearerToken extracts the token from the Authorization header (RFC 6750 section 2.1).
// The scheme name is case-insensitive and may be followed by several spaces. A token in
// the query string or in a form body is never read, because URLs and bodies end up in logs
// and browser history. Such a request, like one without a token or with another scheme,
// gets CodeMissingToken: 401 with a challenge that has no error attribute, as RFC 6750
// section 3.1 recommends. A token sent in more than one place, or several Authorization values,
// is a malformed request (400).
func bearerToken(w http.ResponseWriter, r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	places := len(values)
	if r.URL.RawQuery != "" && r.URL.Query().Has("access_token") {
		places++
	}
	inBody, err := formHasAccessToken(w, r)
	if err != nil {
		return "", err
	}
	if inBody {
		places++
	}
	switch {
	case len(values) > 1 || len(values) == 1 && strings.Contains(values[0], ","):
		return "", &bearerError{err: iogate.Errorf(iogate.CodeInvalid, "send exactly one Authorization header with one credential"), oauthError: "invalid_request"}
	case places > 1:
		return "", &bearerError{err: iogate.Errorf(iogate.CodeInvalid, "send the access token in one place only: the Authorization header"), oauthError: "invalid_request"}
	case len(values) == 0:
		return "", &bearerError{err: iogate.Errorf(iogate.CodeMissingToken, "missing access token: send it as Authorization: Bearer TOKEN")}
	}
	scheme, rest, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", &bearerError{err: otherSchemeError(scheme, ok)}
	}
	// RFC 9110 section 5.5 leaves whitespace around a field value out of the value, so
	// trailing spaces and tabs are not part of the token.
	tok := strings.TrimRight(strings.TrimLeft(rest, " "), " \t")
	if tok == "" {
		return "", &bearerError{err: iogate.ErrInvalidToken, oauthError: "invalid_token"}
	}
	if !validToken68(tok) {
		return "", &bearerError{err: notToken68Error(r, tok), oauthError: "invalid_token"}
	}
	return tok, nil
}

// errBearerTwice is the error for a header such as "Bearer Bearer TOKEN", which a client
// sends when it adds the scheme to a value that already has it.
var errBearerTwice = iogate.Errorf(iogate.CodeInvalidToken, "the access token is malformed: "+
	"the Authorization header names the Bearer scheme twice; send Authorization: Bearer TOKEN")

// notToken68Error returns the error for a bearer value outside the b64token syntax, and
// keeps the failure out of the address's count of failed authentications, as
// malformedBearer does. No token has such a value, so it is no guess.
func notToken68Error(r *http.Request, tok string) error {
	err := malformedBearer(r)
	if scheme, _, ok := strings.Cut(tok, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return errBearerTwice
	}
	return err
}

// otherSchemes are the Authorization schemes that a 401 may name. A value outside this list
// is not repeated in the response, because it could be a credential sent without a scheme.
var otherSchemes = map[string]string{"basic": "Basic", "digest": "Digest", "dpop": "DPoP", "negotiate": "Negotiate", "token": "Token"}

// otherSchemeError is the error for an Authorization header without the Bearer scheme.
// hasScheme is false when the header value holds no space, and so no scheme at all.
func otherSchemeError(scheme string, hasScheme bool) error {
	name, known := otherSchemes[strings.ToLower(scheme)]
	switch {
	case hasScheme && name == "Basic":
		return iogate.Errorf(iogate.CodeMissingToken, "missing access token: Basic authentication with the client ID and secret is for the token endpoints; "+
			"send the access token they return as Authorization: Bearer TOKEN")
	case hasScheme && known:
		return iogate.Errorf(iogate.CodeMissingToken, "missing access token: the %s scheme is not supported; send the access token as Authorization: Bearer TOKEN", name)
	}
	return iogate.Errorf(iogate.CodeMissingToken, "missing access token: send it as Authorization: Bearer TOKEN")
}

// errNotAJWT is the error for a bearer value without the three dot-separated parts of a
// JWT, such as "undefined" from a client that sent the token response object instead of
// its accessToken field.
var errNotAJWT = iogate.Errorf(iogate.CodeInvalidToken, "the access token is malformed: "+
	"iogate's access tokens are JWTs of three dot-separated parts; send the accessToken (or access_token) value of the token response")

// malformedBearer returns errNotAJWT and keeps the failure out of the address's count of
// failed authentications. Such a value is no guess at a token, because it could never
// verify, and a client bug that sends it must not slow down every client behind its
// address.
func malformedBearer(r *http.Request) error {
	if st := stateFrom(r.Context()); st != nil {
		st.uncountedFailure = true
	}
	return errNotAJWT
}

// validToken68 reports whether tok has the b64token syntax of RFC 6750 section 2.1.
func validToken68(tok string) bool {
	body := strings.TrimRight(tok, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		if !token68Chars[body[i]] {
			return false
		}
	}
	return true
}

// token68Chars marks the bytes of RFC 6750's b64token other than the trailing "=". A table
// lookup per byte, because every bearer request checks a token of several hundred bytes.
var token68Chars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return t
}()

// formHasAccessToken reports whether a form-encoded request body carries access_token. It
// reads the body and puts it back for the handler.
func formHasAccessToken(w http.ResponseWriter, r *http.Request) (bool, error) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return false, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		return false, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return false, nil
	}
	body, err := readBody(w, r, maxBodyBytes)
	if err != nil {
		return false, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, err := url.ParseQuery(string(body))
	return err == nil && form.Has("access_token"), nil
}

// challenge sets WWW-Authenticate for a bearer failure.
func challenge(w http.ResponseWriter, be *bearerError) {
	v := `Bearer realm="` + bearerRealm + `"`
	if be.oauthError != "" {
		v += `, error="` + be.oauthError + `"`
	}
	if be.scope != "" {
		v += `, scope="` + be.scope + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
}

// requireScope authenticates the bearer token and checks that it carries scope before
// calling next with the principal in the request context.
func (s *Server) requireScope(scope string, next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		raw, err := bearerToken(w, r)
		if err != nil {
			var be *bearerError
			if errors.As(err, &be) {
				challenge(w, be)
				if be.oauthError == "invalid_token" {
					stateFrom(r.Context()).tokenFailure = auth.TokenMalformed
				}
			}
			return err
		}
		p, err := s.verifyBearer(w, r, raw, false)
		if err != nil {
			return err
		}
		st := stateFrom(r.Context())
		if err := s.limitKey(w, r, p.ClientID); err != nil {
			return err
		}
		if !p.HasScope(scope) {
			challenge(w, &bearerError{oauthError: "insufficient_scope", scope: scope})
			return iogate.Errorf(iogate.CodeInsufficientScope, "the access token lacks the %q scope: add it to the key's scopes "+
				"(dashboard, or iogate key update with every --scope the key keeps), then request a new token", scope)
		}
		st.principal = p
		st.bearer = raw
		return next(w, r)
	}
}

// verifyBearer authenticates raw, the request's bearer token, against the live view of its
// key, and sets the challenge of an invalid token. recheck marks a second check in the same
// request, which the verification metrics do not count again.
func (s *Server) verifyBearer(w http.ResponseWriter, r *http.Request, raw string, recheck bool) (*auth.Principal, error) {
	check := s.auth.Authenticate
	if recheck {
		check = s.auth.Recheck
	}
	p, err := check(r.Context(), raw, clientAddr(r))
	if p != nil {
		// A token that verified names its client, even when its address is refused.
		// Handler wraps every route in the middleware, which puts the state in the
		// context.
		stateFrom(r.Context()).clientID = p.ClientID
	}
	if err != nil {
		if iogate.ErrorCodeOf(err) == iogate.CodeInvalidToken {
			challenge(w, &bearerError{oauthError: "invalid_token"})
			stateFrom(r.Context()).tokenFailure = auth.TokenFailureOf(err)
			markOutdatedCredential(r, err)
			if strings.Count(raw, ".") != 2 {
				return nil, malformedBearer(r)
			}
		}
		return nil, err
	}
	return p, nil
}

// reverifyBearer authenticates the bearer token that requireScope verified again. A handler
// that writes calls it after reading the body and before the write. A slow client can take
// up to --read-timeout to send the body, and a key deleted, narrowed or rotated past its
// grace period in that time must not write.
func (s *Server) reverifyBearer(w http.ResponseWriter, r *http.Request) error {
	_, err := s.verifyBearer(w, r, stateFrom(r.Context()).bearer, true)
	return err
}

func principalFrom(ctx context.Context) *auth.Principal {
	if st := stateFrom(ctx); st != nil {
		return st.principal
	}
	return nil
}
