package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// formTokenUse returns the use of the form token named name, as the dashboard records it.
func formTokenUse(name string) iogate.FormTokenUse {
	return iogate.FormTokenUse{Hash: digest(name), UsedAt: base, ExpiresAt: base.Add(time.Hour)}
}

// wantFormTokenUsed fails the test unless FormTokenUsed of the token named name reports want.
func wantFormTokenUsed(t *testing.T, s iogate.Store, call, name string, want bool) {
	t.Helper()
	used, err := s.FormTokenUsed(ctxFor(t), digest(name))
	must(t, "FormTokenUsed", err)
	if used != want {
		t.Errorf("FormTokenUsed(%s) after %s = %v, want %v", name, call, used, want)
	}
}

// testFormTokenUsedByKeyCreation checks that CreateAPIKey records the form token that its
// context carries in the key's transaction, so that a creation that fails or is canceled
// leaves the token unused, and that a second creation with a used token writes nothing.
func testFormTokenUsedByKeyCreation(t *testing.T, s iogate.Store) {
	a := newAccount(t, s)
	ctx := iogate.WithFormTokenUse(ctxFor(t), formTokenUse("create"))

	orphan := newKey(iogate.NewID(), base)
	wantCode(t, "CreateAPIKey(unknown account)", s.CreateAPIKey(ctx, orphan, created(t, orphan)), iogate.CodeNotFound)
	wantFormTokenUsed(t, s, "a creation that failed", "create", false)

	k := newKey(a.ID, base)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.CreateAPIKey(canceled, k, created(t, k)); err == nil {
		t.Fatal("CreateAPIKey with a canceled context: no error")
	}
	wantFormTokenUsed(t, s, "a canceled creation", "create", false)
	_, err := s.FindAPIKey(ctxFor(t), k.ClientID)
	wantCode(t, "FindAPIKey after a canceled creation", err, iogate.CodeNotFound)

	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
	wantFormTokenUsed(t, s, "a creation", "create", true)

	again := newKey(a.ID, base)
	if err := s.CreateAPIKey(ctx, again, created(t, again)); !errors.Is(err, iogate.ErrFormTokenUsed) {
		t.Errorf("CreateAPIKey with a used form token: %v, want ErrFormTokenUsed", err)
	}
	_, err = s.FindAPIKey(ctxFor(t), again.ClientID)
	wantCode(t, "FindAPIKey of the key created with a used form token", err, iogate.CodeNotFound)
	if err := s.UseFormToken(ctxFor(t), digest("create"), base, base.Add(time.Hour)); !errors.Is(err, iogate.ErrFormTokenUsed) {
		t.Errorf("UseFormToken of a token that a creation used: %v, want ErrFormTokenUsed", err)
	}
}

// testFormTokenUsedByKeyUpdate checks the same of UpdateAPIKey, which records the token
// only when it writes a change.
func testFormTokenUsedByKeyUpdate(t *testing.T, s iogate.Store) {
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctxFor(t), k, created(t, k)))
	ctx := iogate.WithFormTokenUse(ctxFor(t), formTokenUse("rotate"))
	rotated := func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		rotate(k, base.Add(time.Hour))
		return record(t, k.AccountID, iogate.AuditKeyRotated, k.ClientID), nil
	}
	wantGeneration := func(call string, want int) {
		t.Helper()
		stored, err := s.FindAPIKey(ctxFor(t), k.ClientID)
		must(t, "FindAPIKey", err)
		if stored.SecretGeneration != want {
			t.Errorf("secret generation after %s = %d, want %d", call, stored.SecretGeneration, want)
		}
	}

	rotatedMeanwhile := iogate.Errorf(iogate.CodeConflict, "rotated meanwhile")
	_, err := s.UpdateAPIKey(ctx, k.ClientID, func(*iogate.APIKey) (*iogate.AuditRecord, error) { return nil, rotatedMeanwhile })
	if !errors.Is(err, rotatedMeanwhile) {
		t.Errorf("UpdateAPIKey with a failing update = %v, want update's error", err)
	}
	wantFormTokenUsed(t, s, "a failed update", "rotate", false)
	_, err = s.UpdateAPIKey(ctx, k.ClientID, func(*iogate.APIKey) (*iogate.AuditRecord, error) { return nil, nil })
	must(t, "UpdateAPIKey(no record)", err)
	wantFormTokenUsed(t, s, "an update that wrote nothing", "rotate", false)

	// The context is canceled while the transaction runs, as when the client disconnects
	// after the store began the rotation.
	canceled, cancel := context.WithCancel(ctx)
	_, err = s.UpdateAPIKey(canceled, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		cancel()
		return rotated(k)
	})
	if err == nil {
		t.Fatal("UpdateAPIKey canceled during its transaction: no error")
	}
	wantFormTokenUsed(t, s, "a canceled update", "rotate", false)
	wantGeneration("a canceled update", 1)

	_, err = s.UpdateAPIKey(ctx, k.ClientID, rotated)
	must(t, "UpdateAPIKey", err)
	wantFormTokenUsed(t, s, "an update", "rotate", true)
	wantGeneration("an update", 2)

	_, err = s.UpdateAPIKey(ctx, k.ClientID, rotated)
	if !errors.Is(err, iogate.ErrFormTokenUsed) {
		t.Errorf("UpdateAPIKey with a used form token: %v, want ErrFormTokenUsed", err)
	}
	wantGeneration("an update with a used form token", 2)
}
