package auth

import (
	"errors"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// TokenFailure names why a bearer token failed to authenticate. It is for operators, in the
// access log: every failure gets the same invalid_token response, which must not tell a
// caller more. Its names are the fixed words of String, never text from the request. It is
// a byte, not a string, so that the HTTP server's per-request state does not grow.
type TokenFailure uint8

// The reasons of TokenFailureOf. A token that iogate issued and that stopped working gets
// the reason that the check found first, in the order listed from TokenExpired on.
const (
	// NoTokenFailure is the zero value: no token failed.
	NoTokenFailure TokenFailure = iota
	// TokenMalformed is a value that is not a token of iogate's shape: not a JWT, too
	// long, not canonical base64url, another token type or claims that do not parse.
	TokenMalformed
	// TokenUnknownSigningKey is a token whose signing key iogate does not hold: never
	// issued here, or revoked, which removes the key.
	TokenUnknownSigningKey
	// TokenBadSignature is a token whose signature does not verify with the key it names.
	TokenBadSignature
	// TokenWrongIssuer is a token with a valid signature but another issuer or audience.
	TokenWrongIssuer
	// TokenRetiredSigningKey is a token signed by a retired key, which no longer verifies.
	TokenRetiredSigningKey
	// TokenExpired is a token past its exp claim, or more than a minute before its nbf.
	TokenExpired
	// TokenKeyDeleted is a token whose API key no longer exists.
	TokenKeyDeleted
	// TokenAccountSuspended is a token of a key whose account is suspended.
	TokenAccountSuspended
	// TokenKeyExpired is a token whose API key has expired.
	TokenKeyExpired
	// TokenSecretRetired is a token minted with a secret that a rotation replaced, once
	// the rotation's grace period has ended.
	TokenSecretRetired
	// TokenRevoked is a token revoked by its ID.
	TokenRevoked
	// TokenScopeRemoved is a token with a scope that its key no longer has.
	TokenScopeRemoved
)

// tokenFailureNames are the names of the access log's token_failure field.
var tokenFailureNames = [...]string{
	NoTokenFailure:         "",
	TokenMalformed:         "malformed",
	TokenUnknownSigningKey: "unknown_signing_key",
	TokenBadSignature:      "bad_signature",
	TokenWrongIssuer:       "wrong_issuer",
	TokenRetiredSigningKey: "retired_signing_key",
	TokenExpired:           "expired",
	TokenKeyDeleted:        "key_deleted",
	TokenAccountSuspended:  "account_suspended",
	TokenKeyExpired:        "key_expired",
	TokenSecretRetired:     "secret_retired",
	TokenRevoked:           "token_revoked",
	TokenScopeRemoved:      "scope_removed",
}

// tokenFailureReasons returns every name of String other than NoTokenFailure's.
func tokenFailureReasons() []string { return tokenFailureNames[1:] }

// String returns the failure's name in the access log, and "" for NoTokenFailure or a
// value outside the constants.
func (f TokenFailure) String() string {
	if int(f) < len(tokenFailureNames) {
		return tokenFailureNames[f]
	}
	return ""
}

// tokenFailureError is an error of Authenticate that carries its TokenFailure. It unwraps
// to the error that the caller receives, so it changes no response.
type tokenFailureError struct {
	err     error
	failure TokenFailure
}

func (e *tokenFailureError) Error() string { return e.err.Error() }
func (e *tokenFailureError) Unwrap() error { return e.err }

// The errors of activeToken. They are values, so a failure allocates nothing. Those of a
// token whose signature verified wrap errOutdatedToken (see IsOutdatedCredential).
var (
	errTokenMalformed        error = &tokenFailureError{iogate.ErrInvalidToken, TokenMalformed}
	errTokenUnknownKey       error = &tokenFailureError{iogate.ErrInvalidToken, TokenUnknownSigningKey}
	errTokenBadSignature     error = &tokenFailureError{iogate.ErrInvalidToken, TokenBadSignature}
	errTokenWrongIssuer      error = &tokenFailureError{iogate.ErrInvalidToken, TokenWrongIssuer}
	errTokenRetiredKey       error = &tokenFailureError{errOutdatedToken, TokenRetiredSigningKey}
	errTokenExpired          error = &tokenFailureError{errOutdatedToken, TokenExpired}
	errTokenKeyDeleted       error = &tokenFailureError{errOutdatedToken, TokenKeyDeleted}
	errTokenKeyExpired       error = &tokenFailureError{errOutdatedToken, TokenKeyExpired}
	errTokenAccountSuspended error = &tokenFailureError{errOutdatedToken, TokenAccountSuspended}
	errTokenSecretRetired    error = &tokenFailureError{errOutdatedToken, TokenSecretRetired}
	errTokenRevoked          error = &tokenFailureError{errOutdatedToken, TokenRevoked}
	errTokenScopeRemoved     error = &tokenFailureError{errOutdatedToken, TokenScopeRemoved}
)

// TokenFailureOf returns the reason of an error that Authenticate returned for a token that
// is not valid, and NoTokenFailure for any other error, such as ErrStale or the error of an address that the key does not allow.
func TokenFailureOf(err error) TokenFailure {
	var tf *tokenFailureError
	if errors.As(err, &tf) {
		return tf.failure
	}
	return NoTokenFailure
}

// signatureFailure returns the error of activeToken for an error of token.VerifyKey other
// than token.ErrUnpublished.
func signatureFailure(err error) error {
	switch err {
	case token.ErrUnknownKey:
		return errTokenUnknownKey
	case token.ErrBadSignature:
		return errTokenBadSignature
	}
	return errTokenMalformed
}
