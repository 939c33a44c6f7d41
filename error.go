// Package iogate holds the domain of the iogate token service: accounts, API keys, their
// secrets and IP allowlists, vaults, scopes, error codes and the store interface that the
// sqlite and postgres packages implement. It imports nothing else from this repository.
package iogate

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrorCode classifies a domain error. The http package maps each code to one HTTP status
// and one OAuth error value; storage packages map driver conditions to these codes so that
// SQLite and PostgreSQL fail the same way.
type ErrorCode string

// Error codes. Their string values appear in API error bodies as the stable "code" field.
const (
	CodeInvalid              ErrorCode = "invalid_request"
	CodeUnsupportedMediaType ErrorCode = "unsupported_media_type"
	CodeTooLarge             ErrorCode = "request_too_large"
	CodeInvalidClient        ErrorCode = "invalid_client"
	CodeInvalidToken         ErrorCode = "invalid_token"
	CodeInvalidScope         ErrorCode = "invalid_scope"
	CodeUnsupportedGrant     ErrorCode = "unsupported_grant_type"
	CodeUnauthorizedClient   ErrorCode = "unauthorized_client"
	CodeInsufficientScope    ErrorCode = "insufficient_scope"
	CodeForbidden            ErrorCode = "forbidden"
	CodeNotFound             ErrorCode = "not_found"
	CodeConflict             ErrorCode = "conflict"
	CodeHTTPSRequired        ErrorCode = "https_required"
	CodeRateLimited          ErrorCode = "rate_limited"
	CodeUnavailable          ErrorCode = "unavailable"
	CodeInternal             ErrorCode = "internal"
	// CodeOutcomeUnknown is a write that the database did not confirm in time: it may
	// have taken effect or not, so a client must check before it sends the write again.
	CodeOutcomeUnknown ErrorCode = "outcome_unknown"
	// CodeMissingToken is a request to a bearer-protected endpoint without an access token
	// in the Authorization header. Unlike CodeInvalidToken it does not mean that a token
	// was rejected: the request carried none that iogate reads.
	CodeMissingToken ErrorCode = "missing_token"
)

// Error is a domain error. Message is safe to show to the caller; Cause is for the log
// only and may hold internal detail.
type Error struct {
	Code    ErrorCode
	Message string
	Cause   error
}

// Error returns the caller-safe message, followed by the cause when there is one, for logs
// and CLI output. API responses use Message alone.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Cause)
	}
	return e.Message
}

// Unwrap returns the cause, so that errors.Is sees through an Error.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an Error with the given code and a formatted caller-safe message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an Error with the given code and message that keeps cause for the log.
func WrapError(code ErrorCode, cause error, message string) *Error {
	return &Error{Code: code, Message: message, Cause: cause}
}

// MaxQuotedInput is the number of bytes of a value that QuoteInput quotes in full.
const MaxQuotedInput = 64

// QuoteInput returns s quoted as the %q verb quotes it, for an error message that repeats a
// value from a request, the CLI or a form. A value longer than MaxQuotedInput bytes is cut
// at a character boundary at or below that length and followed by a note of the bytes
// shown and the full length, such as "(first 64 of 65536 bytes)". A message then stays
// short however large the value, so that a client cannot make an error response or a log
// line as large as its request. Every message that quotes such a value calls QuoteInput.
func QuoteInput(s string) string {
	if len(s) <= MaxQuotedInput {
		return strconv.Quote(s)
	}
	cut := MaxQuotedInput
	// Step back at most to the first byte of a UTF-8 sequence; invalid bytes are cut where
	// they stand.
	for i := 0; i < utf8.UTFMax-1 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	return fmt.Sprintf("%s (first %d of %d bytes)", strconv.Quote(s[:cut]), cut, len(s))
}

// ErrorCodeOf returns the code of the first Error in err's chain, CodeInternal for any
// other non-nil error, and "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessageOf returns the caller-safe message of err. Errors that are not an Error are
// internal and get a generic message, so that no internal detail reaches a client.
func ErrorMessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrInvalidClient is the single error for every failed client authentication: unknown or
// deleted client ID, wrong secret, expired key. Returning one value for all of them keeps
// responses from revealing whether a client ID exists.
var ErrInvalidClient = &Error{Code: CodeInvalidClient, Message: "client authentication failed"}

// ErrInvalidToken is the single error for a bearer token that is malformed, expired,
// badly signed, revoked, or whose key no longer allows it.
var ErrInvalidToken = &Error{Code: CodeInvalidToken, Message: "the access token is invalid, expired or revoked: request a new one from /v1/auth/accessToken or /oauth2/token; if that fails with invalid_client, the key was deleted or its secret changed"}
