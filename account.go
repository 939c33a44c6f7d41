package iogate

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Account statuses.
const (
	AccountActive    = "active"
	AccountSuspended = "suspended"
)

// Account owns API keys and vaults. Keys of one account never see another account's data.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// Validate checks the fields a caller supplies and normalises the email address.
func (a *Account) Validate() error {
	if err := validateName("account name", a.Name); err != nil {
		return err
	}
	email, err := NormalizeEmail(a.Email)
	if err != nil {
		return err
	}
	a.Email = email
	return nil
}

// NewAccountCreatedRecord returns the AuditAccountCreated record of a by actor, at a's
// creation time, for Store.CreateAccount. via names the way the account was created, such
// as "cli" or "setup_link".
func (c *AuditChain) NewAccountCreatedRecord(a *Account, actor Actor, via string) (*AuditRecord, error) {
	return c.NewRecord(a.ID, AuditAccountCreated, actor, a.CreatedAt, map[string]any{"name": a.Name, "email": a.Email, "via": via})
}

// MaxNameLength bounds names of accounts, keys and vaults, in characters.
const MaxNameLength = 200

// MaxDescriptionLength bounds key descriptions, in characters.
const MaxDescriptionLength = 1000

func validateName(what, name string) error {
	if strings.TrimSpace(name) == "" {
		return Errorf(CodeInvalid, "%s is required", what)
	}
	return validateText(what, name, MaxNameLength)
}

func validateText(what, text string, max int) error {
	if !utf8.ValidString(text) {
		return Errorf(CodeInvalid, "%s is not valid UTF-8", what)
	}
	if n := utf8.RuneCountInString(text); n > max {
		return Errorf(CodeInvalid, "%s is too long: %d characters, at most %d", what, n, max)
	}
	// C1 controls (U+0080 to U+009F) count as well, because some terminals act on them as
	// on escape sequences when the CLI prints a name.
	for _, r := range text {
		if r != '\t' && unicode.IsControl(r) {
			return Errorf(CodeInvalid, "%s contains the control character %U: remove it", what, r)
		}
		if unicode.Is(unicode.Bidi_Control, r) {
			return Errorf(CodeInvalid, "%s contains the bidirectional control character %U: remove it", what, r)
		}
	}
	return nil
}
