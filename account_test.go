package iogate

import (
	"strings"
	"testing"
)

// TestNameControlCharacters checks that names and descriptions reject every control
// character but the tab, the C1 range, bidirectional controls and invisible format
// characters included, naming the field and the code point, and accept other text.
func TestNameControlCharacters(t *testing.T) {
	cases := []struct {
		name, text string
		// rejected is the code point that the error must name, or "" for valid text.
		rejected string
	}{
		{"plain", "Treasury", ""},
		{"tab", "Treasury\tEU", ""},
		{"no-break space inside", "Treasury\u00a0EU", ""},
		{"right-to-left text", "خزانة", ""},
		{"Persian with zero-width non-joiner", "می\u200cخواهم", ""},
		{"Devanagari with zero-width joiner", "क्\u200dष", ""},
		{"emoji ZWJ sequence", "\U0001f469\u200d\U0001f4bb ops", ""},
		{"emoji variation selector", "\u2764\ufe0f vault", ""},
		{"country flag", "\U0001f1ea\U0001f1fa Treasury", ""},
		{"NUL", "a\x00b", "U+0000"},
		{"line feed", "a\nb", "U+000A"},
		{"escape", "a\x1b[31mb", "U+001B"},
		{"delete", "a\x7fb", "U+007F"},
		{"C1 next line", "a\u0085b", "U+0085"},
		{"C1 control sequence introducer", "a\u009b31mb", "U+009B"},
		{"C1 operating system command", "a\u009d52;c;eA==\u009cb", "U+009D"},
		{"right-to-left override", "invoice\u202eexe.pdf", "U+202E"},
		{"right-to-left isolate", "a\u2067b\u2069", "U+2067"},
		{"left-to-right mark", "a\u200eb", "U+200E"},
		{"Arabic letter mark", "a\u061cb", "U+061C"},
		{"zero-width space", "ci\u200b", "U+200B"},
		{"word joiner", "c\u2060i", "U+2060"},
		{"byte order mark", "\ufeffci", "U+FEFF"},
		{"soft hyphen", "c\u00adi", "U+00AD"},
		{"Mongolian vowel separator", "c\u180ei", "U+180E"},
		{"invisible times", "c\u2062i", "U+2062"},
		{"interlinear annotation anchor", "c\ufff9i", "U+FFF9"},
		{"line separator", "c\u2028i", "U+2028"},
		{"paragraph separator", "c\u2029i", "U+2029"},
		{"language tag", "ci\U000e0001", "U+E0001"},
		{"tag latin small letter a", "ci\U000e0061", "U+E0061"},
		{"cancel tag", "ci\U000e007f", "U+E007F"},
		{"flag of England", "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "U+E0067"},
		{"unassigned tag block start", "ci\U000e0000", "U+E0000"},
		{"Hangul filler", "ci\u3164", "U+3164"},
		{"combining grapheme joiner", "c\u034fi", "U+034F"},
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
				if c.rejected == "" {
					if check.err != nil {
						t.Errorf("%s %q: %v, want valid", check.field, c.text, check.err)
					}
					continue
				}
				if ErrorCodeOf(check.err) != CodeInvalid {
					t.Errorf("%s %q: error %v, want code %s", check.field, c.text, check.err, CodeInvalid)
				}
				msg := ErrorMessageOf(check.err)
				if !strings.HasPrefix(msg, check.field+" contains the ") {
					t.Errorf("%s %q: message %q, want it to start with the field name", check.field, c.text, msg)
				}
				if !strings.Contains(msg, " "+c.rejected+": remove it") {
					t.Errorf("%s %q: message %q, want it to name %s", check.field, c.text, msg, c.rejected)
				}
			}
		})
	}
}

// TestEmailControlCharacters checks that account and user email addresses reject control
// characters, which net/mail accepts in the C1 range, bidirectional controls and invisible
// format characters, naming the code point, and keep accepting other addresses.
func TestEmailControlCharacters(t *testing.T) {
	cases := []struct {
		name, email string
		// rejected is the code point that the error must name, or "" for a valid address.
		rejected string
	}{
		{"plain", "ops@example.com", ""},
		{"upper case", "Ops@Example.com", ""},
		{"non-ASCII local part", "zoë@example.com", ""},
		{"C1 control sequence introducer in the local part", "a\u009b31m@example.com", "U+009B"},
		{"C1 next line in the domain", "a@exa\u0085mple.com", "U+0085"},
		{"right-to-left override in the local part", "a\u202eb@example.com", "U+202E"},
		{"zero-width space in the local part", "a\u200bb@example.com", "U+200B"},
		{"word joiner in the domain", "a@exa\u2060mple.com", "U+2060"},
		{"soft hyphen in the domain", "a@exa\u00admple.com", "U+00AD"},
		{"tag character in the local part", "a\U000e0041@example.com", "U+E0041"},
		{"line separator in the local part", "a\u2028b@example.com", "U+2028"},
		{"zero-width non-joiner in the domain", "ops@acme\u200c.example", "U+200C"},
		{"zero-width joiner in the local part", "carol\u200d@example.com", "U+200D"},
		{"variation selector in the local part", "carol\ufe0f@example.com", "U+FE0F"},
		{"supplementary variation selector", "carol\U000e0100@example.com", "U+E0100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, normalizeErr := NormalizeEmail(c.email)
			accountErr := (&Account{Name: "Acme", Email: c.email}).Validate()
			for _, check := range []struct {
				call string
				err  error
			}{
				{"NormalizeEmail", normalizeErr},
				{"Account.Validate", accountErr},
			} {
				if c.rejected == "" {
					if check.err != nil {
						t.Errorf("%s with email %q = %v, want valid", check.call, c.email, check.err)
					}
					continue
				}
				if ErrorCodeOf(check.err) != CodeInvalid {
					t.Errorf("%s with email %q = %v, want code %s", check.call, c.email, check.err, CodeInvalid)
				}
				msg := ErrorMessageOf(check.err)
				if !strings.HasPrefix(msg, "email ") || !strings.Contains(msg, " "+c.rejected+": remove it") {
					t.Errorf("%s with email %q: message %q, want it to name the email and %s", check.call, c.email, msg, c.rejected)
				}
			}
		})
	}
}

// TestNameNeedsVisibleCharacter checks that a name made only of characters that show
// nothing of their own (spaces, joiners, variation selectors, combining marks, the blank
// Braille pattern) is rejected with a message that names the reason. Short names of one
// visible character in any script are accepted.
func TestNameNeedsVisibleCharacter(t *testing.T) {
	blank := []struct{ name, text string }{
		{"spaces", "   "},
		{"tab", "\t"},
		{"no-break spaces", "\u00a0\u00a0"},
		{"ideographic space", "\u3000"},
		{"zero-width non-joiner", "\u200c"},
		{"zero-width joiner", "\u200d\u200d"},
		{"variation selector", "\ufe0f"},
		{"combining acute accent", "\u0301"},
		{"blank Braille pattern", "\u2800\u2800"},
	}
	for _, c := range blank {
		err := ValidateKeyName(c.text)
		if ErrorCodeOf(err) != CodeInvalid {
			t.Errorf("%s: error %v, want %s", c.name, err, CodeInvalid)
			continue
		}
		if msg := ErrorMessageOf(err); !strings.Contains(msg, "key name has no visible character") {
			t.Errorf("%s: message %q does not say that the name shows nothing", c.name, msg)
		}
	}

	if err := ValidateKeyName(""); !strings.Contains(ErrorMessageOf(err), "key name is required") {
		t.Errorf("empty name: error %v, want one that says the name is required", err)
	}

	for _, text := range []string{"a", "\u0627", "\u0661", "\u2764\ufe0f", "\U0001f1ea\U0001f1fa", "\u4e2d", " a "} {
		if err := ValidateKeyName(text); err != nil {
			t.Errorf("ValidateKeyName(%q) = %v, want nil", text, err)
		}
	}
}

// TestEmailComposedForm checks that an address whose accented letter is written as a base
// letter and a combining accent is rejected, because it looks like the composed address
// but compares unequal to it, and that the composed address is accepted.
func TestEmailComposedForm(t *testing.T) {
	if _, err := NormalizeEmail("car\u00f3l@example.com"); err != nil {
		t.Errorf("NormalizeEmail of the composed address = %v, want valid", err)
	}
	_, err := NormalizeEmail("caro\u0301l@example.com")
	if ErrorCodeOf(err) != CodeInvalid {
		t.Fatalf("NormalizeEmail of the decomposed address = %v, want code %s", err, CodeInvalid)
	}
	if msg := ErrorMessageOf(err); !strings.Contains(msg, "composed Unicode form (NFC)") {
		t.Errorf("NormalizeEmail of the decomposed address: message %q does not name the composed form", msg)
	}
}
