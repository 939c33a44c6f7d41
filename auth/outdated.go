package auth

import (
	"errors"

	"github.com/iogate/iogate"
)

// outdatedError is the error of a credential that iogate issued and that no longer
// authenticates. It unwraps to the error of a credential that iogate never issued, so that
// both get the same response. Only IsOutdatedCredential distinguishes them.
type outdatedError struct{ err *iogate.Error }

func (e *outdatedError) Error() string { return e.err.Error() }
func (e *outdatedError) Unwrap() error { return e.err }

var (
	// errOutdatedToken is iogate.ErrInvalidToken for a token whose signature verified.
	errOutdatedToken error = &outdatedError{iogate.ErrInvalidToken}
	// errOutdatedClient is iogate.ErrInvalidClient for a secret that matched, the key's own
	// or one that a deleted key had.
	errOutdatedClient error = &outdatedError{iogate.ErrInvalidClient}
)

// IsOutdatedCredential reports whether err rejected a credential that iogate issued and
// that has stopped working, which no one guessing at credentials could send:
//
//   - a bearer token whose signature verified with a stored signing key, published or
//     retired, but that expired or was revoked. Its key may also have been deleted or
//     expired, lost a scope of the token, retired its secret generation, or belong to a
//     suspended account;
//   - a client ID of a deleted key that the view remembers, with a secret that the key had
//     when it was deleted: the current one, or the one its last rotation replaced. The
//     view holds those only for deletions that this process saw while it ran;
//   - a client secret that the key retired, or a valid one of an expired key or of a
//     suspended account.
//
// Tokens of a revoked signing key are not outdated: the key is no longer stored, and its
// private key may have leaked, so its signature no longer shows that iogate issued them.
// Such errors get the same response as any other failed authentication.
func IsOutdatedCredential(err error) bool {
	return errors.Is(err, errOutdatedToken) || errors.Is(err, errOutdatedClient)
}
