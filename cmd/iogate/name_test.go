package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// createAccountAndKey creates an account and a key named ci in it on the data directory
// dir, and returns their IDs.
func createAccountAndKey(t *testing.T, dir string) (accountID, clientID string) {
	t.Helper()
	var account struct{ ID string }
	runCLIJSON(t, dir, nil, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	var key struct{ ClientID string }
	runCLIJSON(t, dir, nil, &key, "key", "create", "--account", account.ID, "--name", "ci")
	return account.ID, key.ClientID
}

// TestCLIRejectsHiddenCharacters checks that every command that takes a name, a
// description or an email rejects an invisible character with a message naming the field
// and the code point, and accepts the zero-width joiners that scripts and emoji need.
func TestCLIRejectsHiddenCharacters(t *testing.T) {
	dir := t.TempDir()
	accountID, clientID := createAccountAndKey(t, dir)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"account name", []string{"account", "create", "--name", "Acme\u200b", "--email", "ops2@acme.test"},
			"account name contains the invisible format character U+200B: remove it"},
		{"account email", []string{"account", "create", "--name", "Acme 2", "--email", "ops\u2060@acme.test"},
			`email "ops\u2060@acme.test" contains the invisible format character U+2060: remove it`},
		{"key name", []string{"key", "create", "--account", accountID, "--name", "\ufeffci"},
			"key name contains the invisible format character U+FEFF: remove it"},
		{"key description", []string{"key", "create", "--account", accountID, "--name", "ci 2", "--description", "soft\u00adhyphen"},
			"key description contains the invisible format character U+00AD: remove it"},
		{"key name on update", []string{"key", "update", clientID, "--name", "ci\U000e0041"},
			"key name contains the invisible format character U+E0041: remove it"},
		{"key description on update", []string{"key", "update", clientID, "--description", "a\u2028b"},
			"key description contains the line or paragraph separator U+2028: remove it"},
		{"vault name", []string{"vault", "create", "--account", accountID, "--name", "Cold\u180e", "--threshold", "1"},
			"vault name contains the invisible format character U+180E: remove it"},
		{"invited email", []string{"user", "invite", "--account", accountID, "--email", "ana\u200b@acme.test", "--role", "viewer"},
			`email "ana\u200b@acme.test" contains the invisible format character U+200B: remove it`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, err := runCLI(t, dir, nil, c.args...)
			if err == nil {
				t.Fatalf("iogate %s succeeded, want an error", c.args[0]+" "+c.args[1])
			}
			if !strings.Contains(err.Error()+stderr, c.want) {
				t.Errorf("iogate %s: error %q, stderr %q; want %q", c.args[0]+" "+c.args[1], err, stderr, c.want)
			}
		})
	}

	for _, name := range []string{"می\u200cخواهم", "\U0001f469\u200d\U0001f4bb ops \u2764\ufe0f"} {
		var created struct{ Name string }
		runCLIJSON(t, dir, nil, &created, "key", "create", "--account", accountID, "--name", name)
		if created.Name != name {
			t.Errorf("key create --name %q: name %q, want it kept", name, created.Name)
		}
	}
}

// TestKeyUpdateKeepsLegacyName writes a name and a description with disallowed characters
// to the database, as an older iogate could have stored them. key update must change the
// key's scopes while keeping both, and must reject a new name with such a character.
func TestKeyUpdateKeepsLegacyName(t *testing.T) {
	dir := t.TempDir()
	accountID, clientID := createAccountAndKey(t, dir)

	const legacyName, legacyDescription = "ci\u200b\u0085", "about\u2060ci"
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "iogate.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(context.Background(), "UPDATE api_keys SET name = ?, description = ? WHERE client_id = ?", legacyName, legacyDescription, clientID)
	db.Close()
	if err != nil {
		t.Fatalf("writing the legacy name: %v", err)
	}

	var updated struct{ Name, Description string }
	runCLIJSON(t, dir, nil, &updated, "key", "update", clientID, "--scope", "vaults:write")
	if updated.Name != legacyName || updated.Description != legacyDescription {
		t.Errorf("key update --scope: name %q, description %q; want %q and %q kept", updated.Name, updated.Description, legacyName, legacyDescription)
	}
	// The text table shows the stored characters escaped, so that they neither hide in the
	// name nor reach the terminal.
	list, _, err := runCLI(t, dir, nil, "key", "list", "--account", accountID)
	if err != nil {
		t.Fatalf("key list: %v", err)
	}
	if !strings.Contains(list, `ci\u200B\u0085`) {
		t.Errorf("key list does not show the legacy name escaped as ci\\u200B\\u0085:\n%s", list)
	}
	if strings.ContainsAny(list, "\u200b\u0085") {
		t.Errorf("key list prints a hidden character of the legacy name raw:\n%q", list)
	}

	runCLIJSON(t, dir, nil, &updated, "key", "update", clientID, "--name", legacyName, "--allow-ip", "192.0.2.7")
	if updated.Name != legacyName {
		t.Errorf("key update --name with the stored name: name %q, want %q kept", updated.Name, legacyName)
	}

	_, stderr, err := runCLI(t, dir, nil, "key", "update", clientID, "--name", "other\u200b")
	const want = "key name contains the invisible format character U+200B: remove it"
	if err == nil || !strings.Contains(err.Error()+stderr, want) {
		t.Errorf("key update --name with another disallowed name: error %v, stderr %q; want %q", err, stderr, want)
	}
	runCLIJSON(t, dir, nil, &updated, "key", "update", clientID, "--name", "ci")
	if updated.Name != "ci" {
		t.Errorf("key update --name ci: name %q, want ci", updated.Name)
	}
}
