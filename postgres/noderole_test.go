package postgres_test

import (
	"context"
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
