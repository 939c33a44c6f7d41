package http

import (
	"context"
	"net/http"
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
	// oauthError is the challenge's error parameter; empty when the request carried no
	// token, as RFC 6750 section 3.1 asks.
	oauthError string
	scope      string
}

func (e *bearerError) Error() string { return e.err.Error() }
func (e *bearerError) Unwrap() error { return e.err }

// bearerToken extracts the token from the Authorization header. The scheme name is
// case-insensitive and may be followed by several spaces. A token in the query string is
// never read: it would end up in logs and browser history.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	inQuery := r.URL.Query().Has("access_token")
	switch {
	case len(values) > 1:
		return "", &bearerError{err: iogate.Errorf(iogate.CodeInvalid, "send exactly one Authorization header"), oauthError: "invalid_request"}
	case len(values) == 1 && inQuery:
		return "", &bearerError{err: iogate.Errorf(iogate.CodeInvalid, "send the access token in one place only: the Authorization header"), oauthError: "invalid_request"}
	case len(values) == 0:
		return "", &bearerError{err: iogate.Errorf(iogate.CodeInvalidToken, "missing access token: send it as Authorization: Bearer <token>")}
	}
	scheme, rest, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", &bearerError{err: iogate.Errorf(iogate.CodeInvalidToken, "missing access token: send it as Authorization: Bearer <token>")}
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", &bearerError{err: iogate.ErrInvalidToken, oauthError: "invalid_token"}
	}
	return tok, nil
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
		raw, err := bearerToken(r)
		if err != nil {
			be := err.(*bearerError)
			challenge(w, be)
			return be
		}
		p, err := s.auth.Authenticate(r.Context(), raw, clientAddr(r))
		if err != nil {
			if iogate.ErrorCodeOf(err) == iogate.CodeInvalidToken {
				challenge(w, &bearerError{oauthError: "invalid_token"})
			}
			return err
		}
		if err := s.limitKey(w, p.ClientID); err != nil {
			return err
		}
		if !p.HasScope(scope) {
			challenge(w, &bearerError{oauthError: "insufficient_scope", scope: scope})
			return iogate.Errorf(iogate.CodeInsufficientScope, "the access token lacks the %q scope", scope)
		}
		return next(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	}
}

func principalFrom(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey).(*auth.Principal)
	return p
}
