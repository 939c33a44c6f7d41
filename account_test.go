package iogate

import (
	"strings"
	"testing"
)

// TestNameControlCharacters checks that names and descriptions reject every control
// character but the tab, the C1 range and bidirectional controls included, and accept
// other text.
func TestNameControlCharacters(t *testing.T) {
	cases := []struct {
		name, text string
		valid      bool
	}{
		{"plain", "Treasury", true},
		{"tab", "Treasury\tEU", true},
		{"no-break space inside", "Treasury\u00a0EU", true},
		{"right-to-left text", "خزانة", true},
		{"NUL", "a\x00b", false},
		{"line feed", "a\nb", false},
		{"escape", "a\x1b[31mb", false},
		{"delete", "a\x7fb", false},
		{"C1 next line", "a\u0085b", false},
		{"C1 control sequence introducer", "a\u009b31mb", false},
		{"C1 operating system command", "a\u009d52;c;eA==\u009cb", false},
		{"right-to-left override", "invoice\u202eexe.pdf", false},
		{"right-to-left isolate", "a\u2067b\u2069", false},
		{"left-to-right mark", "a\u200eb", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, check := range []struct {
				field string
				err   error
			}{
				{"vault name", (&Vault{Name: c.text, Threshold: 1}).Validate()},
				{"key name", (&APIKey{Name: c.text, Scopes: []string{ScopeVaultsRead}}).Validate()},
				{"key description", (&APIKey{Name: "k", Description: c.text, Scopes: []string{ScopeVaultsRead}}).Validate()},
				{"account name", (&Account{Name: c.text, Email: "ops@example.com"}).Validate()},
			} {
				if c.valid && check.err != nil {
					t.Errorf("%s %q: %v, want valid", check.field, c.text, check.err)
				}
				if !c.valid && (ErrorCodeOf(check.err) != CodeInvalid || !strings.Contains(check.err.Error(), "control character")) {
					t.Errorf("%s %q: %v, want a control character error", check.field, c.text, check.err)
				}
			}
		})
	}
}

// TestEmailControlCharacters checks that account and user email addresses reject control
// characters, which net/mail accepts in the C1 range, and keep accepting other addresses.
func TestEmailControlCharacters(t *testing.T) {
	cases := []struct {
		name, email string
		valid       bool
	}{
		{"plain", "ops@example.com", true},
		{"upper case", "Ops@Example.com", true},
		{"non-ASCII local part", "zoë@example.com", true},
		{"C1 control sequence introducer in the local part", "a\u009b31m@example.com", false},
		{"C1 next line in the domain", "a@exa\u0085mple.com", false},
		{"right-to-left override in the local part", "a\u202eb@example.com", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NormalizeEmail(c.email)
			if c.valid && err != nil {
				t.Errorf("NormalizeEmail(%q) = %v, want valid", c.email, err)
			}
			if !c.valid && ErrorCodeOf(err) != CodeInvalid {
				t.Errorf("NormalizeEmail(%q) = %v, want an invalid_request error", c.email, err)
			}
			err = (&Account{Name: "Acme", Email: c.email}).Validate()
			if c.valid && err != nil {
				t.Errorf("Account.Validate with email %q = %v, want valid", c.email, err)
			}
			if !c.valid && ErrorCodeOf(err) != CodeInvalid {
				t.Errorf("Account.Validate with email %q = %v, want an invalid_request error", c.email, err)
			}
		})
	}
}
