package e2e

import (
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

func TestUserCLI(t *testing.T) {
	d := startDashboard(t)
	dir := d.srv.DataDir

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			want string
		}{
			{"unknown role", []string{"user", "invite", "--account", d.accountID, "--email", "a@acme.test", "--role", "superuser"}, "superuser"},
			{"unknown account", []string{"user", "invite", "--account", "0190f7a8-0000-7000-8000-000000000000", "--email", "a@acme.test", "--role", "viewer"}, "not found"},
			{"bad email", []string{"user", "invite", "--account", d.accountID, "--email", "not-an-email", "--role", "viewer"}, "not-an-email"},
			{"existing user", []string{"user", "invite", "--account", d.accountID, "--email", ownerEmail, "--role", "viewer"}, "already has a dashboard user"},
			{"plain http url", []string{"user", "invite", "--account", d.accountID, "--email", "a@acme.test", "--role", "viewer", "--url", "http://localhost:8443"}, "https://"},
			{"reset unknown user", []string{"user", "reset", "--email", "ghost@acme.test"}, "ghost@acme.test"},
			{"remove last owner", []string{"user", "remove", "--email", ownerEmail}, "at least one owner"},
			{"suspend unknown account", []string{"account", "suspend", "nope"}, "nope"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				res := testenv.RunCLI(t, dir, nil, c.args...)
				if res.ExitCode == 0 {
					t.Fatalf("exit 0, want a failure; stdout %q", res.Stdout)
				}
				if !strings.Contains(res.Stderr, c.want) {
					t.Errorf("stderr %q does not mention %q", res.Stderr, c.want)
				}
			})
		}
	})

	t.Run("invite, list, reset and remove", func(t *testing.T) {
		var link struct{ URL, Email, Role string }
		testenv.CLIJSON(t, dir, &link, "user", "invite", "--account", d.accountID, "--email", "Ops@Acme.test", "--role", "admin")
		if !strings.HasPrefix(link.URL, "https://localhost:8443/dashboard/invite?token=") {
			t.Errorf("invite link %q, want the default base https://localhost:8443", redactLink(link.URL))
		}
		d.inviteAndJoin(t, "viewer@acme.test", "viewer")
		var list struct {
			Data []struct{ Email, Role string }
		}
		testenv.CLIJSON(t, dir, &list, "user", "list", "--account", d.accountID)
		if len(list.Data) != 2 || list.Data[0].Email != ownerEmail || list.Data[1].Role != "viewer" {
			t.Errorf("user list = %+v, want the owner and the viewer; an unused invitation is no user", list.Data)
		}

		var reset struct{ URL string }
		testenv.CLIJSON(t, dir, &reset, "user", "reset", "--email", "viewer@acme.test", "--url", d.base)
		if !strings.HasPrefix(reset.URL, d.base+"/dashboard/reset?token=") {
			t.Errorf("reset link %q, want one under %s", redactLink(reset.URL), d.base)
		}
		testenv.CLIJSON(t, dir, nil, "user", "remove", "--email", "viewer@acme.test")
		testenv.CLIJSON(t, dir, &list, "user", "list", "--account", d.accountID)
		if len(list.Data) != 1 {
			t.Errorf("user list after remove has %d users, want 1", len(list.Data))
		}
	})

	t.Run("operator changes are audited", func(t *testing.T) {
		var records struct {
			Data []struct {
				Event string
				Actor struct{ Type string }
			}
		}
		testenv.CLIJSON(t, dir, &records, "audit", "list", "--account", d.accountID, "--event", "user.removed")
		if len(records.Data) != 1 || records.Data[0].Actor.Type != "operator" {
			t.Errorf("user.removed records = %+v, want one by the operator", records.Data)
		}
	})

	t.Run("suspend and resume", func(t *testing.T) {
		var out struct{ ID, Status string }
		testenv.CLIJSON(t, dir, &out, "account", "suspend", d.accountID)
		if out.Status != "suspended" {
			t.Errorf("suspend printed status %q", out.Status)
		}
		res := testenv.RunCLI(t, dir, nil, "user", "invite", "--account", d.accountID, "--email", "late@acme.test", "--role", "viewer")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "suspended") {
			t.Errorf("invite into a suspended account: exit %d stderr %q, want a refusal", res.ExitCode, res.Stderr)
		}
		testenv.CLIJSON(t, dir, &out, "account", "resume", d.accountID)
		if out.Status != "active" {
			t.Errorf("resume printed status %q", out.Status)
		}
	})
}
