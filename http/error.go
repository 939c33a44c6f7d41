package http

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/iogate/iogate"
)

// statusOf maps each domain error code to its HTTP status. It is the only place where a
// status is chosen for an error.
var statusOf = map[iogate.ErrorCode]int{
	iogate.CodeInvalid:              http.StatusBadRequest,
	iogate.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	iogate.CodeTooLarge:             http.StatusRequestEntityTooLarge,
	iogate.CodeInvalidClient:        http.StatusUnauthorized,
	iogate.CodeInvalidToken:         http.StatusUnauthorized,
	iogate.CodeMissingToken:         http.StatusUnauthorized,
	iogate.CodeInvalidScope:         http.StatusBadRequest,
	iogate.CodeUnsupportedGrant:     http.StatusBadRequest,
	iogate.CodeUnauthorizedClient:   http.StatusBadRequest,
	iogate.CodeInsufficientScope:    http.StatusForbidden,
	iogate.CodeForbidden:            http.StatusForbidden,
	iogate.CodeNotFound:             http.StatusNotFound,
	iogate.CodeConflict:             http.StatusConflict,
	iogate.CodeHTTPSRequired:        http.StatusForbidden,
	iogate.CodeRateLimited:          http.StatusTooManyRequests,
	iogate.CodeUnavailable:          http.StatusServiceUnavailable,
	iogate.CodeOutcomeUnknown:       http.StatusGatewayTimeout,
	iogate.CodeInternal:             http.StatusInternalServerError,
	codeMethodNotAllowed:            http.StatusMethodNotAllowed,
}

// oauthErrorOf maps each domain error code to the "error" value of an OAuth error response
// on the /oauth2 endpoints. It is the only place where such a value is chosen, and it
// covers the same codes as statusOf. Most values come from RFC 6749 section 5.2;
// access_denied, server_error and temporarily_unavailable are the authorization endpoint's
// values of its section 4.1.2.1, which clients also understand from a token endpoint.
var oauthErrorOf = map[iogate.ErrorCode]string{
	iogate.CodeInvalid:              "invalid_request",
	iogate.CodeUnsupportedMediaType: "invalid_request",
	iogate.CodeTooLarge:             "invalid_request",
	iogate.CodeInvalidClient:        "invalid_client",
	iogate.CodeInvalidToken:         "invalid_token",
	iogate.CodeInvalidScope:         "invalid_scope",
	iogate.CodeUnsupportedGrant:     "unsupported_grant_type",
	iogate.CodeUnauthorizedClient:   "unauthorized_client",
	iogate.CodeInsufficientScope:    "insufficient_scope",
	iogate.CodeForbidden:            "access_denied",
	iogate.CodeNotFound:             "invalid_request",
	iogate.CodeConflict:             "invalid_request",
	iogate.CodeHTTPSRequired:        "invalid_request",
	iogate.CodeRateLimited:          "temporarily_unavailable",
	iogate.CodeUnavailable:          "temporarily_unavailable",
	iogate.CodeInternal:             "server_error",
	iogate.CodeOutcomeUnknown:       "server_error",
	// No /oauth2 endpoint takes a bearer token, so none returns CodeMissingToken. RFC 6750
	// section 3.1 gives a missing token no error value of its own.
	iogate.CodeMissingToken: "invalid_request",
	// RFC 6749 has no error value for a wrong method, so it is a malformed request there.
	codeMethodNotAllowed: "invalid_request",
}

// codeMethodNotAllowed is the code of a request whose route does not serve its method.
// Only the router returns it, so it is not one of the domain's codes.
const codeMethodNotAllowed iogate.ErrorCode = "method_not_allowed"

// errRouteNotFound is the error of requests whose path matches no route.
var errRouteNotFound = iogate.Errorf(iogate.CodeNotFound, "no such endpoint")

// Problem is an RFC 9457 problem-details body, the shape of every /v1 error. Code is the
// stable machine-readable error code.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"requestId"`
}

// writeError writes err as problem details with the status its code maps to. Internal
// errors are logged here, once, with their cause; the client sees only a generic message
// and the request ID. Of the 503 responses of an outage, only the first is logged in full,
// and s.outages counts the others.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := iogate.ErrorCodeOf(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
		code = iogate.CodeInternal
	}
	if status >= 500 {
		id := requestIDFrom(r.Context())
		// An outage makes writes time out as well, so their 504s are counted with its 503s.
		outage := status == http.StatusServiceUnavailable || code == iogate.CodeOutcomeUnknown
		if !outage || s.outages.failed(failedRequest, id, err) {
			s.log.ErrorContext(r.Context(), "request failed", "request_id", id, "status", status, "error", err)
		}
	} else {
		s.log.DebugContext(r.Context(), "request rejected", "request_id", requestIDFrom(r.Context()), "status", status, "code", string(code))
	}
	setErrorCode(r, code)
	if (code == iogate.CodeRateLimited || code == iogate.CodeUnavailable) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	if isTokenPath(r.URL.Path) {
		setNoStore(w)
	}
	if code == iogate.CodeInvalidClient && r.URL.Path == accessTokenPath {
		w.Header().Set("WWW-Authenticate", accessTokenChallenge)
	}
	if isOAuthPath(r.URL.Path) {
		writeOAuthError(w, status, code, err)
		return
	}
	p := Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    iogate.ErrorMessageOf(err),
		Code:      string(code),
		RequestID: requestIDFrom(r.Context()),
	}
	if status >= 500 && code == iogate.CodeInternal {
		p.Detail = "internal error; quote the request ID when reporting it"
	}
	writeJSON(w, status, "application/problem+json", p)
}

// setErrorCode records code for the access-log line of r.
func setErrorCode(r *http.Request, code iogate.ErrorCode) {
	if st := stateFrom(r.Context()); st != nil {
		st.errorCode = code
	}
}

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := marshalJSON(v)
	if err != nil {
		slog.Error("encode response failed", "error", err)
		writeEncoded(w, http.StatusInternalServerError, "application/json", []byte(`{"code":"internal"}`+"\n"))
		return
	}
	writeEncoded(w, status, contentType, body)
}

// encodeJSON returns v encoded as writeJSON writes it.
func encodeJSON(v any) ([]byte, error) {
	b, err := marshalJSON(v)
	if err != nil {
		return nil, iogate.WrapError(iogate.CodeInternal, err, "encode response failed")
	}
	return b, nil
}

// marshalJSON returns v as JSON with a final newline. Unlike json.Marshal, it writes "&",
// "<" and ">" as they are, not as \u0026, \u003c and \u003e, because API clients read
// these bodies. A browser never reads them as HTML: writeEncoded sets a JSON Content-Type,
// and the middleware sends X-Content-Type-Options: nosniff. U+2028 and U+2029 are still
// escaped, as encoding/json always does.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeEncoded writes an encoded body with its Content-Type and Content-Length.
func writeEncoded(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	if contentType == "application/json" {
		h["Content-Type"] = headerJSON
	} else {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// OAuthError is the error body of the /oauth2 endpoints, as RFC 6749 section 5.2 defines
// it. Unlike Problem it carries no request ID; the X-Request-Id header still does.
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// isOAuthPath reports whether errors on path take the OAuth form.
func isOAuthPath(path string) bool { return strings.HasPrefix(path, "/oauth2/") }

// isTokenPath reports whether responses on path may carry a token or credentials, so
// that even their errors must not be cached.
func isTokenPath(path string) bool { return isOAuthPath(path) || path == accessTokenPath }

// accessTokenPath is the path of the platform's own token endpoint.
const accessTokenPath = "/v1/auth/accessToken"

// accessTokenChallenge is the WWW-Authenticate value of a failed client authentication at
// accessTokenPath. HTTP requires a challenge on every 401 (RFC 9110 section 15.5.2), but that
// endpoint reads the credentials only from the JSON body and ignores the Authorization
// header, so a Basic challenge would be false there. The scheme is iogate's own and not
// registered with IANA. It names the JSON body form.
const accessTokenChallenge = `ClientSecretJSON realm="` + bearerRealm + `"`

// writeOAuthError writes err in the OAuth form. A failed client authentication also gets a
// Basic challenge: RFC 6749 section 5.2 requires one when the client used Basic, and HTTP
// requires one on every 401, which also shows other clients that Basic is supported.
func writeOAuthError(w http.ResponseWriter, status int, code iogate.ErrorCode, err error) {
	value, ok := oauthErrorOf[code]
	if !ok {
		value = "invalid_request"
	}
	if status >= 500 {
		value = oauthErrorOf[iogate.CodeInternal]
		if status == http.StatusServiceUnavailable {
			value = oauthErrorOf[iogate.CodeUnavailable]
		}
	}
	if code == iogate.CodeInvalidClient {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+bearerRealm+`", charset="UTF-8"`)
	}
	body := OAuthError{Error: value, ErrorDescription: oauthDescription(iogate.ErrorMessageOf(err))}
	if code == iogate.CodeInternal {
		body.ErrorDescription = "internal error; quote the X-Request-Id response header when reporting it"
	}
	writeJSON(w, status, "application/json", body)
}

// oauthDescription fits a message into the characters RFC 6749 section 5.2 allows in
// error_description: printable ASCII except the double quote and the backslash.
func oauthDescription(msg string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, msg)
}
