package postgres_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/postgres"
)

// TestGrantNodeRoleRejectsSuperuser checks that "iogate migrate --node-role" refuses a
// superuser, which bypasses every privilege and trigger, instead of reporting that nodes
// may now connect as it.
func TestGrantNodeRoleRejectsSuperuser(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db := open(t, url)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	// initdb creates a superuser in every cluster.
	var superuser string
	if err := conn.QueryRow(context.Background(), `SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY rolname LIMIT 1`).Scan(&superuser); err != nil {
		t.Fatalf("find a superuser of the test cluster: %v", err)
	}

	_, err = db.GrantNodeRole(context.Background(), superuser)
	if code := iogate.ErrorCodeOf(err); code != iogate.CodeInvalid {
		t.Fatalf("GrantNodeRole(%q): error %v (code %q), want %q", superuser, err, code, iogate.CodeInvalid)
	}
	if !strings.Contains(err.Error(), "superuser") {
		t.Errorf("GrantNodeRole(%q): error %q does not say why the role was refused", superuser, err)
	}
}

// TestGrantNodeRoleRejectsInheritedPrivileges checks that "iogate migrate --node-role"
// fails when the node role would still hold a privilege that it withholds, through a
// grant to PUBLIC that its REVOKE does not remove. TRUNCATE skips the audit log's row
// trigger, and TRIGGER would let the role add a trigger that drops records.
func TestGrantNodeRoleRejectsInheritedPrivileges(t *testing.T) {
	for _, c := range []struct {
		grant string
		want  string
	}{
		{`GRANT TRUNCATE ON audit_records TO PUBLIC`, "TRUNCATE on audit_records"},
		{`GRANT TRIGGER ON audit_records TO PUBLIC`, "TRIGGER on audit_records"},
		{`GRANT DELETE ON audit_checkpoints TO PUBLIC`, "DELETE on audit_checkpoints"},
		{`GRANT UPDATE ON schema_migrations TO PUBLIC`, "UPDATE on schema_migrations"},
		// PUBLIC holds this by default before PostgreSQL 15.
		{`GRANT CREATE ON SCHEMA public TO PUBLIC`, "CREATE on schema public"},
	} {
		t.Run(c.want, func(t *testing.T) {
			url := pgtest.NewDatabase(t)
			pgtest.AsNodeRole(t, url)
			role := os.Getenv(pgtest.NodeRoleVariable)
			db := open(t, url)
			pgtest.Exec(t, url, c.grant)

			_, err := db.GrantNodeRole(context.Background(), role)
			if code := iogate.ErrorCodeOf(err); code != iogate.CodeInvalid {
				t.Fatalf("GrantNodeRole after %s: error %v (code %q), want %q", c.grant, err, code, iogate.CodeInvalid)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("GrantNodeRole after %s: error %q does not name %q", c.grant, err, c.want)
			}
		})
	}
}

// TestOpenAsNodeRoleNamesGrantStep opens a database as a role that does not own the
// schema and lacks privileges that a node needs. Open must fail at once with a message
// that names the role, what it lacks, and the command that fixes it, instead of failing
// the first request that uses the table.
func TestOpenAsNodeRoleNamesGrantStep(t *testing.T) {
	for _, c := range []struct {
		name string
		// setup prepares the database at ownerURL as its owner.
		setup func(t *testing.T, ownerURL, role string)
		want  []string
		// regrant is whether "iogate migrate --node-role" as the owner fixes the database
		// that setup leaves. A pending migration that the test made by deleting its record
		// cannot be applied a second time.
		regrant bool
	}{
		{
			name: "empty database",
			setup: func(t *testing.T, ownerURL, role string) {
				// PUBLIC may create tables in the public schema before PostgreSQL 15.
				pgtest.Exec(t, ownerURL, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
			},
			want:    []string{"create the schema_migrations table", "permission denied for schema"},
			regrant: true,
		},
		{
			name: "migrated without --node-role",
			setup: func(t *testing.T, ownerURL, role string) {
				open(t, ownerURL).Close()
			},
			want:    []string{"SELECT, INSERT, UPDATE, DELETE on accounts, api_keys,", "SELECT, INSERT, DELETE on audit_records", "SELECT on schema_migrations"},
			regrant: true,
		},
		{
			name: "table added after the grant",
			setup: func(t *testing.T, ownerURL, role string) {
				grant(t, ownerURL, role)
				pgtest.Exec(t, ownerURL, `CREATE TABLE upgrade_probe (id INTEGER)`)
			},
			want:    []string{"lacks privileges that nodes need", ": SELECT, INSERT, UPDATE, DELETE on upgrade_probe; run"},
			regrant: true,
		},
		{
			name: "privilege revoked after the grant",
			setup: func(t *testing.T, ownerURL, role string) {
				grant(t, ownerURL, role)
				pgtest.Exec(t, ownerURL, `REVOKE INSERT ON audit_records FROM `+pgx.Identifier{role}.Sanitize())
			},
			want:    []string{": INSERT on audit_records; run"},
			regrant: true,
		},
		{
			name: "migration pending",
			setup: func(t *testing.T, ownerURL, role string) {
				grant(t, ownerURL, role)
				pgtest.Exec(t, ownerURL, `DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`)
			},
			// A migration that only inserts rows fails when it is recorded rather than
			// when it is applied, so the step named may be either.
			want: []string{"migration migrations/", "lacks a privilege"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			ownerURL := pgtest.NewDatabase(t)
			nodeURL := pgtest.AsNodeRole(t, ownerURL)
			role := os.Getenv(pgtest.NodeRoleVariable)
			c.setup(t, ownerURL, role)

			db, err := postgres.Open(context.Background(), nodeURL)
			if err == nil {
				db.Close()
				t.Fatal("Open as the node role: no error, want one that names the missing privileges")
			}
			for _, want := range append(c.want, `the role "`+role+`"`, `run "iogate migrate --node-role `+role+`" as the role that owns the schema`) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open as the node role: error %q lacks %q", err, want)
				}
			}

			// The owner opens as before, and the grant gives the node what the check requires.
			if c.regrant {
				grant(t, ownerURL, role)
				open(t, nodeURL)
			}
		})
	}
}

// TestOpenWithoutConnectPrivilege checks that a role that may not connect to the database
// learns the GRANT that lets it, and that GrantNodeRole runs that GRANT.
func TestOpenWithoutConnectPrivilege(t *testing.T) {
	ownerURL := pgtest.NewDatabase(t)
	nodeURL := pgtest.AsNodeRole(t, ownerURL)
	role := os.Getenv(pgtest.NodeRoleVariable)
	grant(t, ownerURL, role)
	u, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatalf("parse the database URL: %v", err)
	}
	database := strings.TrimPrefix(u.Path, "/")
	pgtest.Exec(t, ownerURL, `REVOKE CONNECT ON DATABASE `+pgx.Identifier{database}.Sanitize()+` FROM PUBLIC`)

	db, err := postgres.Open(context.Background(), nodeURL)
	if err == nil {
		db.Close()
		t.Fatal("Open as a role without CONNECT: no error")
	}
	want := `GRANT CONNECT ON DATABASE "` + database + `" TO "` + role + `"`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Open as a role without CONNECT: error %q lacks %q", err, want)
	}

	grant(t, ownerURL, role)
	open(t, nodeURL)
}

// grant migrates the database at ownerURL as its owner and gives role the privileges of a
// node.
func grant(t *testing.T, ownerURL, role string) {
	t.Helper()
	owner := open(t, ownerURL)
	defer owner.Close()
	if _, err := owner.GrantNodeRole(context.Background(), role); err != nil {
		t.Fatalf("GrantNodeRole(%q): %v", role, err)
	}
}
