package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// APIError is an error response of a /v1 endpoint: RFC 9457 problem details with iogate's
// stable error code.
type APIError struct {
	// StatusCode is the HTTP status, such as 403 or 404.
	StatusCode int
	// Code is iogate's error code, such as "insufficient_scope" or "not_found"; empty
	// when the body was not problem details.
	Code string
	// Detail is the server's explanation.
	Detail string
	// RequestID identifies the request in the server's logs.
	RequestID string
	// RetryAfter is the wait the server asked for, or zero.
	RetryAfter time.Duration
}

// Error returns the status, code and detail.
func (e *APIError) Error() string {
	return fmt.Sprintf("iogate API: %d %s: %s (request %s)", e.StatusCode, e.Code, e.Detail, e.RequestID)
}

func newAPIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var p struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	if json.Unmarshal(body, &p) == nil {
		e.Code, e.Detail = p.Code, p.Detail
	}
	if e.Detail == "" {
		e.Detail = http.StatusText(resp.StatusCode)
	}
	if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}

// OAuthError is an error response of the token endpoint (RFC 6749 section 5.2), such as
// "invalid_client" for a wrong client ID or secret.
type OAuthError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// ErrorCode is the OAuth "error" value.
	ErrorCode string
	// Description is the server's explanation.
	Description string
	// RequestID identifies the request in the server's logs.
	RequestID string
}

// Error returns the status, error code and description.
func (e *OAuthError) Error() string {
	return fmt.Sprintf("iogate token endpoint: %d %s: %s (request %s)", e.StatusCode, e.ErrorCode, e.Description, e.RequestID)
}

func newOAuthError(resp *http.Response, body []byte) *OAuthError {
	e := &OAuthError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var o struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &o) == nil {
		e.ErrorCode, e.Description = o.Error, o.Description
	}
	if e.Description == "" {
		e.Description = http.StatusText(resp.StatusCode)
	}
	return e
}
