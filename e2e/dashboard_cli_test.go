package e2e

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

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
		var link struct {
			URL, Email, Role string
			ExpiresAt        time.Time
		}
		testenv.CLIJSON(t, dir, &link, "user", "invite", "--account", d.accountID, "--email", "Ops@Acme.test", "--role", "admin")
		if !strings.HasPrefix(link.URL, d.base+"/dashboard/invite?token=") {
			t.Errorf("invite link %q, want one under %s, the public URL that the server recorded", redactLink(link.URL), d.base)
		}
		d.inviteAndJoin(t, "viewer@acme.test", "viewer")
		var list struct {
			Data        []struct{ Email, Role string }
			Invitations []struct {
				Email, Role, Status string
				ExpiresAt           time.Time
			}
		}
		testenv.CLIJSON(t, dir, &list, "user", "list", "--account", d.accountID)
		if len(list.Data) != 2 || list.Data[0].Email != ownerEmail || list.Data[1].Role != "viewer" {
			t.Errorf("user list = %+v, want the owner and the viewer; an unused invitation is no user", list.Data)
		}
		// The unused invitation is listed apart, pending, with the expiry that invite
		// printed; the viewer's invitation was used, so it is not pending.
		if len(list.Invitations) != 1 {
			t.Fatalf("user list has %d invitations, want 1: %+v", len(list.Invitations), list.Invitations)
		}
		if got := list.Invitations[0]; got.Email != "ops@acme.test" || got.Role != "admin" || got.Status != "pending" {
			t.Errorf("user list invitation = %+v, want ops@acme.test as admin, pending", got)
		}
		expires := list.Invitations[0].ExpiresAt
		if !expires.Equal(link.ExpiresAt) {
			t.Errorf("user list invitation expires %s, want %s, the expiry invite printed",
				expires.Format(time.RFC3339Nano), link.ExpiresAt.Format(time.RFC3339Nano))
		}
		res := testenv.RunCLI(t, dir, nil, "user", "list", "--account", d.accountID)
		if res.ExitCode != 0 {
			t.Fatalf("user list: exit %d: %s", res.ExitCode, res.Stderr)
		}
		var pendingRow []string
		for _, line := range strings.Split(res.Stdout, "\n") {
			if fields := strings.Fields(line); len(fields) > 0 && fields[0] == "ops@acme.test" {
				pendingRow = fields
			}
		}
		if want := []string{"ops@acme.test", "admin", "pending", "-"}; len(pendingRow) != 7 || !slices.Equal(pendingRow[:4], want) ||
			pendingRow[5] != expires.Format(time.RFC3339) || !strings.HasPrefix(pendingRow[6], "operator:") {
			t.Errorf("user list row of the invitation = %q, want %q, the creation time, the expiry %s and the operator who invited",
				pendingRow, want, expires.Format(time.RFC3339))
		}
		if strings.Contains(res.Stdout, "token=") {
			t.Error("user list prints an invitation link")
		}

		var reset struct {
			URL       string
			ExpiresAt time.Time
		}
		testenv.CLIJSON(t, dir, &reset, "user", "reset", "--email", "viewer@acme.test")
		if !strings.HasPrefix(reset.URL, d.base+"/dashboard/reset?token=") {
			t.Errorf("reset link %q, want one under %s, the public URL that the server recorded", redactLink(reset.URL), d.base)
		}
		if stored := storedLinkExpiry(t, dir, "reset"); !reset.ExpiresAt.Equal(stored) {
			t.Errorf("reset printed the expiry %s, want %s, the one stored",
				reset.ExpiresAt.Format(time.RFC3339Nano), stored.Format(time.RFC3339Nano))
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

// TestUserLinksUseRecordedPublicURL checks the base of the links that "user invite" prints
// without --url: https://localhost:8443, with a warning, before any server has started on
// the store, then the public URL of the server that started last, and --url when given.
func TestUserLinksUseRecordedPublicURL(t *testing.T) {
	dir := newDataDir(t)
	accountID := createAccount(t, dir, "Acme", "ops@acme.test")
	invite := func(t *testing.T, email string, extra ...string) (link, stderr string) {
		t.Helper()
		args := append([]string{"user", "invite", "--account", accountID, "--email", email, "--role", "viewer", "--json"}, extra...)
		res := testenv.RunCLI(t, dir, nil, args...)
		if res.ExitCode != 0 {
			t.Fatalf("user invite --email %s: exit %d: %s", email, res.ExitCode, res.Stderr)
		}
		var out struct{ URL string }
		if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
			t.Fatalf("user invite --json printed no JSON object: %v", err)
		}
		return out.URL, res.Stderr
	}
	const warning = "no server has recorded its public URL in this store yet"

	link, stderr := invite(t, "before@acme.test")
	if !strings.HasPrefix(link, "https://localhost:8443/dashboard/invite?token=") {
		t.Errorf("invite link before any server started = %q, want one under https://localhost:8443", redactLink(link))
	}
	if !strings.Contains(stderr, warning) {
		t.Errorf("user invite before any server started: standard error %q lacks %q", stderr, warning)
	}
	res := testenv.RunCLI(t, dir, nil, "user", "invite", "--account", accountID, "--email", "text@acme.test", "--role", "viewer")
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "iogate: warning: "+warning) {
		t.Errorf("user invite in text form before any server started: exit %d, standard error %q; want a line with %q", res.ExitCode, res.Stderr, warning)
	}

	first := testenv.Start(t, dir, testenv.Options{Args: []string{"--public-url", "https://iogate.example.test/"}})
	if err := first.Stop(); err != nil {
		t.Fatalf("stop the first server: %v", err)
	}
	link, stderr = invite(t, "first@acme.test")
	if !strings.HasPrefix(link, "https://iogate.example.test/dashboard/invite?token=") {
		t.Errorf("invite link after a server with --public-url https://iogate.example.test/ = %q, want one under https://iogate.example.test", redactLink(link))
	}
	if stderr != "" {
		t.Errorf("user invite after a server recorded its public URL: standard error %q, want nothing", stderr)
	}

	second := testenv.Start(t, dir, testenv.Options{})
	_, port, err := net.SplitHostPort(second.Addr)
	if err != nil {
		t.Fatalf("server address %q: %v", second.Addr, err)
	}
	link, _ = invite(t, "second@acme.test")
	if want := "https://localhost:" + port + "/dashboard/invite?token="; !strings.HasPrefix(link, want) {
		t.Errorf("invite link after a second server started without --public-url = %q, want it to start with %s", redactLink(link), want)
	}

	link, _ = invite(t, "flag@acme.test", "--url", "https://other.example.test")
	if !strings.HasPrefix(link, "https://other.example.test/dashboard/invite?token=") {
		t.Errorf("invite link with --url https://other.example.test = %q, want one under that URL", redactLink(link))
	}
}

// storedLinkExpiry returns the expiry of the newest unused link of purpose in the SQLite
// store of dir.
func storedLinkExpiry(t *testing.T, dir, purpose string) time.Time {
	t.Helper()
	db, ctx, closeDB := openDatabaseFile(t, dir)
	defer closeDB()
	var micros int64
	err := db.QueryRowContext(ctx, `SELECT expires_at FROM user_links WHERE purpose = ? AND used_at IS NULL
		ORDER BY created_at DESC LIMIT 1`, purpose).Scan(&micros)
	if err != nil {
		t.Fatalf("read the expiry of the newest %s link: %v", purpose, err)
	}
	return time.UnixMicro(micros)
}
