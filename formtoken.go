package iogate

import (
	"context"
	"time"
)

// ErrFormTokenUsed is the error for a form post whose single-use form token has already
// taken effect.
var ErrFormTokenUsed = Errorf(CodeConflict, "this form was already submitted")

// FormTokenUse is the use of a single-use dashboard form token, as the store records it:
// the token's hash, when it took effect, and until when the record is kept.
type FormTokenUse struct {
	Hash      []byte
	UsedAt    time.Time
	ExpiresAt time.Time
}

type formTokenUseContextKey struct{}

// WithFormTokenUse returns a context that makes the API key writes made with it,
// CreateAPIKey and UpdateAPIKey, record use in their own transaction. So the token is used
// up exactly when the key change commits, and a change that fails or is canceled leaves
// it unused.
func WithFormTokenUse(ctx context.Context, use FormTokenUse) context.Context {
	return context.WithValue(ctx, formTokenUseContextKey{}, use)
}

// FormTokenUseFrom returns the use that WithFormTokenUse stored in ctx, and whether there
// is one.
func FormTokenUseFrom(ctx context.Context) (FormTokenUse, bool) {
	use, ok := ctx.Value(formTokenUseContextKey{}).(FormTokenUse)
	return use, ok
}
