package iogate

import (
	"strings"
	"testing"
)

// TestNameControlCharacters checks that names and descriptions reject every control
// character but the tab, the C1 range included, and accept other text.
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
