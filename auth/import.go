package auth

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iogate/iogate"
)

// MinImportedSecretLength is the shortest secret ImportKey accepts, in bytes.
const MinImportedSecretLength = 16

// ImportKeyRequest holds a key whose secret was issued elsewhere, such as by the system
// iogate replaces.
type ImportKeyRequest struct {
	CreateKeyRequest
	// ClientID is the key's existing client ID, a UUID in canonical form; empty means a new
	// random one.
	ClientID string
	// Secret is the key's existing secret. Any printable UTF-8 text of
	// MinImportedSecretLength to iogate.MaxSecretLength bytes is accepted, with one
	// exception: text with the prefix of generated secrets must be a valid generated
	// secret, because the token endpoints reject a prefixed secret with a bad checksum
	// before hashing it.
	Secret iogate.Secret
}

// ImportKey stores a key with a given client ID and secret. Like CreateKey, it keeps only
// the secret's keyed hash. The secret is compared byte for byte, so a client must send it
// in the same Unicode normalization form as it was imported.
//
// It returns CodeConflict when a key has the client ID, or when a deleted key of the same
// account had it. Tokens carry the client ID, the account and the secret generation, which
// starts at 1 again, so the deleted key's unexpired tokens, revoked ones included, would
// pass verification against the imported key. The store keeps the tombstones of deleted
// client IDs forever, whatever the audit retention. Another account may import the client
// ID, because its account does not match the tokens' account.
func (s *Service) ImportKey(ctx context.Context, req ImportKeyRequest) (*iogate.APIKey, error) {
	clientID := req.ClientID
	if clientID == "" {
		clientID = iogate.NewClientID()
	}
	if !iogate.ValidClientID(clientID) {
		return nil, iogate.Errorf(iogate.CodeInvalid, "invalid client ID %s: expected a UUID in lower-case canonical form", iogate.QuoteInput(clientID))
	}
	if err := validateImportedSecret(req.Secret.Reveal()); err != nil {
		return nil, err
	}
	k, err := s.insertKey(ctx, req.CreateKeyRequest, clientID, req.Secret)
	switch {
	case errors.Is(err, iogate.ErrDeletedClientID):
		// The store checks the deleted key's tombstone in the insert's transaction, so a
		// deletion that commits at the same time cannot slip past the check.
		return nil, iogate.Errorf(iogate.CodeConflict, "client ID %s belonged to a key of this account that was deleted: "+
			"import the key under a new client ID, because the deleted key's access tokens would otherwise be accepted again", clientID)
	case iogate.ErrorCodeOf(err) == iogate.CodeConflict:
		return nil, iogate.Errorf(iogate.CodeConflict, "an API key with client ID %s already exists", clientID)
	}
	return k, err
}

// validateImportedSecret checks an imported secret. Its messages never quote the secret.
func validateImportedSecret(secret string) error {
	switch {
	case len(secret) < MinImportedSecretLength:
		return iogate.Errorf(iogate.CodeInvalid, "invalid secret: it has %d bytes, at least %d are required", len(secret), MinImportedSecretLength)
	case len(secret) > iogate.MaxSecretLength:
		return iogate.Errorf(iogate.CodeInvalid, "invalid secret: it has %d bytes, at most %d are allowed", len(secret), iogate.MaxSecretLength)
	case !utf8.ValidString(secret):
		return iogate.Errorf(iogate.CodeInvalid, "invalid secret: it is not valid UTF-8")
	case strings.IndexFunc(secret, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return iogate.Errorf(iogate.CodeInvalid, "invalid secret: it contains a control or other non-printable character")
	case iogate.HasGeneratedShape(secret) && !iogate.ChecksumValid(secret):
		return iogate.Errorf(iogate.CodeInvalid, "invalid secret: it starts with %q but is not a valid generated secret; secrets with that prefix must carry its checksum", iogate.SecretPrefix)
	}
	return nil
}
