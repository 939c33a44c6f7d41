package auth

import (
	"context"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// signingKeysReadHook is a store that runs hook once, after the first SigningKeys call
// returns, so that a test can commit another process's change between the engine's read
// of the keys and the write that follows it.
type signingKeysReadHook struct {
	iogate.Store
	hook func()
}

func (s *signingKeysReadHook) SigningKeys(ctx context.Context) ([]*iogate.SigningKey, error) {
	keys, err := s.Store.SigningKeys(ctx)
	if hook := s.hook; hook != nil {
		s.hook = nil
		hook()
	}
	return keys, err
}

// TestRotationAfterConcurrentRetirement retires the EdDSA keys in 30 minutes from another
// process after a rotation to a key that activates in an hour has read the keys. Run one
// after the other, the rotation is rejected. Racing, it must be rejected too, rather than
// leave EdDSA without a signing key between the retirement and the new key's activation.
func TestRotationAfterConcurrentRetirement(t *testing.T) {
	e := newTestEngine(t)
	ctx := context.Background()
	if _, err := e.svc.RotateSigningKey(ctx, token.ES256, 0); err != nil {
		t.Fatal(err)
	}
	_, other := openService(t, e.path, e.clock.now)
	hooked := &signingKeysReadHook{Store: e.store, hook: func() {
		if _, err := other.RetireSigningKeys(ctx, token.EdDSA, 30*time.Minute); err != nil {
			t.Errorf("RetireSigningKeys in the other process: %v", err)
		}
	}}
	master, err := iogate.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	rotator, err := New(ctx, hooked, master, Config{Issuer: "https://iogate.test", Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}

	_, err = rotator.RotateSigningKey(ctx, token.EdDSA, time.Hour)
	if code := iogate.ErrorCodeOf(err); code != iogate.CodeInvalid {
		t.Errorf("RotateSigningKey after a concurrent retirement: error code %q (%v), want %q", code, err, iogate.CodeInvalid)
	}
	keys, err := e.store.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.now()
	for _, k := range keys {
		if k.Algorithm == token.EdDSA && k.ActiveAt.After(now.Add(30*time.Minute)) {
			t.Errorf("EdDSA key %s activates at %s, after the EdDSA keys retire at %s", k.KID, k.ActiveAt, now.Add(30*time.Minute))
		}
	}
}
