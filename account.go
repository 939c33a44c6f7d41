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
	if name == "" {
		return Errorf(CodeInvalid, "%s is required", what)
	}
	if err := validateText(what, name, MaxNameLength); err != nil {
		return err
	}
	if !strings.ContainsFunc(name, visibleInName) {
		return Errorf(CodeInvalid, "%s has no visible character: give a name that people can read", what)
	}
	return nil
}

// visibleInName reports whether r shows as a mark of its own in a name. Spaces, combining
// marks and variation selectors do not, nor does U+2800, the blank Braille pattern. The
// joiners U+200C and U+200D are format characters, which unicode.IsGraphic excludes.
func visibleInName(r rune) bool {
	return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.IsMark(r) && r != '\u2800'
}

func validateText(what, text string, max int) error {
	if !utf8.ValidString(text) {
		return Errorf(CodeInvalid, "%s is not valid UTF-8", what)
	}
	if n := utf8.RuneCountInString(text); n > max {
		return Errorf(CodeInvalid, "%s is too long: %d characters, at most %d", what, n, max)
	}
	return rejectHiddenCharacters(what, text)
}

// rejectHiddenCharacters returns CodeInvalid naming the first character of text that
// disallowedCharacter rejects, with its code point. Names, descriptions and emails all go
// through it.
func rejectHiddenCharacters(field, text string) error {
	for _, r := range text {
		if kind := disallowedCharacter(r); kind != "" {
			return Errorf(CodeInvalid, "%s contains the %s %U: remove it", field, kind, r)
		}
	}
	return nil
}

// HiddenCharacter reports whether names, descriptions and emails reject r because it is
// invisible or changes how the text around it is shown. The tab is not one. Text stored
// before a character was rejected may still contain one, so the CLI escapes them.
func HiddenCharacter(r rune) bool { return disallowedCharacter(r) != "" }

// Joiners that names may contain although they are format characters (category Cf).
// Persian and Indic text needs the zero-width non-joiner, and emoji sequences such as
// U+1F469 U+200D U+1F4BB need the zero-width joiner.
const (
	zeroWidthNonJoiner = '\u200c'
	zeroWidthJoiner    = '\u200d'
)

// disallowedCharacter returns what kind of character r is if names, descriptions and emails
// may not contain it, and "" otherwise. These characters let two different names look the
// same, or change how the text around them is shown:
//   - control characters other than the tab, C1 controls (U+0080 to U+009F) included,
//     because some terminals act on them as on escape sequences when the CLI prints a name;
//   - bidirectional controls such as U+202E, which reverse the text after them;
//   - format characters (category Cf) such as U+200B, U+2060, U+FEFF and U+00AD, the tag
//     characters U+E0000 to U+E007F, other default-ignorable code points such as the
//     Hangul filler U+3164, and the line and paragraph separators U+2028 and U+2029.
//
// Variation selectors such as U+FE0F (category Mn) stay allowed, because emoji need them.
func disallowedCharacter(r rune) string {
	switch {
	case r == '\t':
		return ""
	case unicode.IsControl(r):
		return "control character"
	case unicode.Is(unicode.Bidi_Control, r):
		return "bidirectional control character"
	case r == zeroWidthNonJoiner || r == zeroWidthJoiner:
		return ""
	case unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point) || r >= 0xE0000 && r <= 0xE007F:
		return "invisible format character"
	case unicode.In(r, unicode.Zl, unicode.Zp):
		return "line or paragraph separator"
	}
	return ""
}
