package main

import (
	"os/user"
	"strings"
	"testing"
)

// TestKeyCommandsOnDeletedKey checks that key show, rotate, update and delete of a deleted
// key fail with a message that names the deletion, its actor and the key's account. An
// unknown client ID keeps the plain message.
func TestKeyCommandsOnDeletedKey(t *testing.T) {
	dir := t.TempDir()
	var account struct{ ID string }
	runCLIJSON(t, dir, nil, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	var key struct{ ClientID string }
	runCLIJSON(t, dir, nil, &key, "key", "create", "--account", account.ID, "--name", "ci")
	if _, stderr, err := runCLI(t, dir, nil, "key", "delete", key.ClientID); err != nil {
		t.Fatalf("key delete: %v; stderr %s", err, stderr)
	}
	operator := "operator "
	if u, err := user.Current(); err == nil && u.Username != "" {
		operator += u.Username
	}

	for _, args := range [][]string{
		{"key", "show", key.ClientID},
		{"key", "rotate", key.ClientID},
		{"key", "update", key.ClientID, "--name", "renamed"},
		{"key", "delete", key.ClientID},
	} {
		command := strings.Join(args[:2], " ")
		_, _, err := runCLI(t, dir, nil, args...)
		if err == nil {
			t.Errorf("%s of the deleted key succeeded, want an error", command)
			continue
		}
		msg := err.Error()
		for _, want := range []string{"API key \"" + key.ClientID + "\" was deleted at ", " by " + operator, "from account " + account.ID} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s of the deleted key: error %q, want it to contain %q", command, msg, want)
			}
		}
		if strings.Contains(msg, "no API key") {
			t.Errorf("%s of the deleted key: error %q, want no \"no API key\"", command, msg)
		}
	}

	unknown := "00000000-0000-4000-8000-000000000000"
	_, _, err := runCLI(t, dir, nil, "key", "show", unknown)
	if err == nil {
		t.Fatal("key show of an unknown client ID succeeded, want an error")
	}
	want := "no API key with client ID \"" + unknown + "\": list keys with \"iogate key list --account ID\""
	if err.Error() != want {
		t.Errorf("key show of an unknown client ID: error %q, want %q", err, want)
	}
}
