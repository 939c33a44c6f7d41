package http

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// grantClientCredentials is the only grant type iogate supports (RFC 6749 section 4.4).
const grantClientCredentials = "client_credentials"

// oauthTokenResponse is the body of a successful POST /oauth2/token (RFC 6749 section 5.1).
type oauthTokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// oauthRequest is a form-encoded request to an /oauth2 endpoint and the client credentials
// it carries.
type oauthRequest struct {
	// form holds each body parameter once; parameters sent with an empty value are left
	// out, as RFC 6749 section 3.1 asks.
	form         url.Values
	clientID     string
	clientSecret string
}

// handleOAuthToken serves POST /oauth2/token: the client credentials grant of RFC 6749
// section 4.4, with errors as its section 5.2 defines them.
func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) error {
	setNoStore(w)
	req, err := readOAuthRequest(w, r)
	if err != nil {
		return err
	}
	switch grant := req.form.Get("grant_type"); grant {
	case "":
		return iogate.Errorf(iogate.CodeInvalid, "missing grant_type: send grant_type=client_credentials")
	case grantClientCredentials:
	default:
		return iogate.Errorf(iogate.CodeUnsupportedGrant, "unsupported grant_type %s: only client_credentials is supported", iogate.QuoteInput(grant))
	}
	scopes, err := parseScopeParam(req.form.Get("scope"))
	if err != nil {
		return err
	}

	issued, err := s.auth.IssueToken(r.Context(), auth.TokenRequest{
		ClientID:     req.clientID,
		ClientSecret: req.clientSecret,
		Scopes:       scopes,
		RemoteAddr:   clientAddr(r),
	})
	if err != nil {
		markOutdatedCredential(r, err)
		logRefusedClient(r, err, req.clientID)
		return err
	}
	stateFrom(r.Context()).clientID = issued.ClientID
	writeJSON(w, http.StatusOK, "application/json", oauthTokenResponse{
		AccessToken: issued.AccessToken,
		TokenType:   "Bearer",
		ExpiresIn:   issued.ExpiresIn,
		Scope:       strings.Join(issued.Scopes, " "),
	})
	return nil
}

// setNoStore forbids caching of a token response, success or error (RFC 6749 section 5.1).
func setNoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// credentialParams are the parameters that must never appear in a query string, because
// URLs end up in logs, proxies and browser history.
var credentialParams = []string{"client_id", "client_secret", "token", "access_token"}

// readOAuthRequest reads the form body of an /oauth2 request and the client credentials,
// either from a Basic Authorization header (client_secret_basic) or from the body
// (client_secret_post). It rejects credentials in the query string, a repeated parameter,
// and a request that uses both methods. A request with no credentials, or with another
// authentication scheme, fails client authentication.
func readOAuthRequest(w http.ResponseWriter, r *http.Request) (*oauthRequest, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, iogate.Errorf(iogate.CodeInvalid, "invalid query string: percent-encode reserved characters")
	}
	for _, name := range credentialParams {
		if query.Has(name) {
			return nil, iogate.Errorf(iogate.CodeInvalid, "parameter %s is not allowed in the query string: send it in the form-encoded body; treat a secret sent this way as exposed", name)
		}
	}
	form, err := readForm(w, r)
	if err != nil {
		return nil, err
	}

	req := &oauthRequest{form: form}
	values := r.Header.Values("Authorization")
	switch {
	case len(values) > 1:
		return nil, iogate.Errorf(iogate.CodeInvalid, "send at most one Authorization header")
	case len(values) == 1:
		id, secret, err := parseBasicCredentials(values[0])
		if err != nil {
			return nil, err
		}
		if form.Has("client_secret") {
			return nil, iogate.Errorf(iogate.CodeInvalid, "use one client authentication method: the Authorization header or client_secret in the body, not both")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return nil, iogate.Errorf(iogate.CodeInvalid, "client_id in the body differs from the client ID in the Authorization header")
		}
		req.clientID, req.clientSecret = id, secret
	case form.Has("client_secret") && !form.Has("client_id"):
		return nil, iogate.Errorf(iogate.CodeInvalid, "missing client_id: client_secret in the body needs client_id beside it")
	default:
		// An absent client_id or client_secret fails like a wrong one.
		req.clientID, req.clientSecret = form.Get("client_id"), form.Get("client_secret")
	}
	return req, nil
}

// readForm reads an application/x-www-form-urlencoded body of at most maxTokenBodyBytes,
// and rejects a parameter that occurs more than once (RFC 6749 section 3.2), and a body
// declared US-ASCII whose names or values hold a byte above 0x7f once percent-decoded.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	ascii, err := requireMediaType(r, "application/x-www-form-urlencoded", iogate.CodeInvalid, "invalid Content-Type: send the parameters form-encoded, as application/x-www-form-urlencoded")
	if err != nil {
		return nil, err
	}
	body, err := readBody(w, r, maxTokenBodyBytes)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, iogate.Errorf(iogate.CodeInvalid, "invalid form body: expected name=value pairs joined by & and percent-encoded")
	}
	for name, vs := range form {
		// Percent-encoded octets are in the declared charset, so a body declared US-ASCII
		// is checked after decoding.
		if ascii && (!isASCII(name) || !isASCII(vs[0])) {
			return nil, errNotASCII
		}
		if len(vs) > 1 {
			return nil, iogate.Errorf(iogate.CodeInvalid, "parameter %s is repeated: send each parameter once", iogate.QuoteInput(name))
		}
		if vs[0] == "" {
			delete(form, name)
		}
	}
	return form, nil
}

// errBasicCredentials is the error of an Authorization header that does not carry client
// credentials iogate can read. It is a failed client authentication, answered with a Basic
// challenge.
var errBasicCredentials = &iogate.Error{Code: iogate.CodeInvalidClient, Message: "client authentication failed: send Authorization: Basic with the form-encoded client ID and secret"}

// parseBasicCredentials reads client_secret_basic credentials. RFC 6749 section 2.3.1 has
// the client form-encode its ID and secret before joining them with a colon, so each half
// is form-decoded here: "%2B" is a plus sign, "+" a space, "%3A" a colon inside the ID.
func parseBasicCredentials(header string) (clientID, secret string, err error) {
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", errBasicCredentials
	}
	raw, decErr := base64.StdEncoding.DecodeString(strings.TrimLeft(rest, " "))
	if decErr != nil {
		return "", "", errBasicCredentials
	}
	encodedID, encodedSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errBasicCredentials
	}
	clientID, idErr := url.QueryUnescape(encodedID)
	secret, secretErr := url.QueryUnescape(encodedSecret)
	if idErr != nil || secretErr != nil {
		return "", "", errBasicCredentials
	}
	return clientID, secret, nil
}

// parseScopeParam reads the optional scope parameter (RFC 6749 section 3.3): scope names
// separated by spaces. It returns nil when the parameter is absent or blank, meaning every
// scope of the key, and CodeInvalidScope for a scope iogate does not know. Only the space
// (U+0020) separates names: the grammar has no other separator, so a tab or a no-break
// space is part of a name, which is then unknown.
func parseScopeParam(param string) ([]string, error) {
	// Count the names first, so that the slice is made once, at its final size.
	count := 0
	for i := 0; i < len(param); i++ {
		if param[i] != ' ' && (i == 0 || param[i-1] == ' ') {
			count++
		}
	}
	if count == 0 {
		return nil, nil
	}
	names := make([]string, 0, count)
	for name := range strings.SplitSeq(param, " ") {
		if name != "" {
			names = append(names, name)
		}
	}
	return iogate.ValidateScopes(names)
}
