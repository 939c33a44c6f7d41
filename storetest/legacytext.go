package storetest

import (
	"testing"

	"github.com/iogate/iogate"
)

// legacyTextCases check that the stores keep names, descriptions and emails exactly as
// written, even with characters that validation now rejects. Rows written before a
// character was disallowed must survive updates that leave them alone, and lookups by
// those values must still find them.
var legacyTextCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"APIKeyLegacyTextKept", testAPIKeyLegacyTextKept},
	{"UserLegacyEmailFound", testUserLegacyEmailFound},
}

// legacyText contains a zero-width space, a C1 control, a tag character, a line separator,
// a byte order mark and a soft hyphen.
const legacyText = "ci\u200b\u0085\U000e0041\u2028\ufeff\u00ad"

// testAPIKeyLegacyTextKept stores a key with legacyText in its name and description,
// changes only its scopes, and checks that both come back byte for byte.
func testAPIKeyLegacyTextKept(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	k := newKey(a.ID, base)
	k.Name, k.Description = legacyText, "about "+legacyText
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))

	got, err := s.UpdateAPIKey(ctx, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
		k.Scopes = []string{iogate.ScopeVaultsRead, iogate.ScopeVaultsWrite}
		return record(t, k.AccountID, iogate.AuditKeyUpdated, k.ClientID), nil
	})
	must(t, "UpdateAPIKey", err)
	if got.Name != legacyText || got.Description != "about "+legacyText {
		t.Errorf("UpdateAPIKey returned name %q, description %q; want %q kept", got.Name, got.Description, legacyText)
	}
	stored, err := s.FindAPIKey(ctx, k.ClientID)
	must(t, "FindAPIKey", err)
	if stored.Name != legacyText || stored.Description != "about "+legacyText {
		t.Errorf("FindAPIKey after the update: name %q, description %q; want %q kept", stored.Name, stored.Description, legacyText)
	}
	if len(stored.Scopes) != 2 {
		t.Errorf("FindAPIKey after the update: scopes %v, want the two set", stored.Scopes)
	}
}

// testUserLegacyEmailFound stores a user whose email contains legacyText and checks that
// FindUserByEmail finds it by that exact address, and not by the address without it.
func testUserLegacyEmailFound(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	email := legacyText + "@acme.test"
	u := newUser(t, s, a.ID, email, iogate.RoleViewer)

	got, err := s.FindUserByEmail(ctx, email)
	must(t, "FindUserByEmail", err)
	if got.ID != u.ID || got.Email != email {
		t.Errorf("FindUserByEmail(%q) = user %s with email %q, want %s", email, got.ID, got.Email, u.ID)
	}
	_, err = s.FindUserByEmail(ctx, "ci@acme.test")
	wantCode(t, "FindUserByEmail without the hidden characters", err, iogate.CodeNotFound)
}
