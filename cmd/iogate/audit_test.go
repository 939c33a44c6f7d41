package main

import (
	"strings"
	"testing"
)

// TestAuditListInvalidClientID checks that audit list rejects a --client-id that no key can
// have, such as an upper-case UUID, instead of printing an empty list, and still lists the
// records of a valid one.
func TestAuditListInvalidClientID(t *testing.T) {
	dir := t.TempDir()
	var account struct{ ID string }
	runCLIJSON(t, dir, nil, &account, "account", "create", "--name", "Acme", "--email", "ops@acme.test")
	var key struct{ ClientID string }
	runCLIJSON(t, dir, nil, &key, "key", "create", "--account", account.ID, "--name", "ci")

	for _, id := range []string{strings.ToUpper(key.ClientID), "not-a-uuid", key.ClientID + " "} {
		stdout, stderr, err := runCLI(t, dir, nil, "audit", "list", "--account", account.ID, "--client-id", id)
		if err == nil {
			t.Errorf("audit list --client-id %q: no error, stdout %q", id, stdout)
			continue
		}
		if msg := err.Error() + stderr; !strings.Contains(msg, "invalid --client-id") {
			t.Errorf("audit list --client-id %q: error %q, want one that names --client-id", id, msg)
		}
	}

	var page struct {
		Data []struct{ Event string }
	}
	runCLIJSON(t, dir, nil, &page, "audit", "list", "--account", account.ID, "--client-id", key.ClientID)
	if len(page.Data) != 1 || page.Data[0].Event != "key.created" {
		t.Errorf("audit list --client-id %s: records %+v, want the one key.created record", key.ClientID, page.Data)
	}
}
