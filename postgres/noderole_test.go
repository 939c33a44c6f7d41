package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/internal/pgtest"
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
