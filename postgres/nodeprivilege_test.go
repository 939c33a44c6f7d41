package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/iogate/iogate/internal/pgtest"
)

// TestAppendOnlyTablesExist checks that every table with privileges of its own in
// appendOnlyTables exists after the migrations. A misspelt or renamed table would get
// the default privileges, UPDATE of the audit log among them, from GrantNodeRole.
func TestAppendOnlyTablesExist(t *testing.T) {
	db, err := Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	rows, err := db.pool.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	exists := map[string]bool{}
	for _, table := range tables {
		exists[table] = true
	}
	for table := range appendOnlyTables {
		if !exists[table] {
			t.Errorf("appendOnlyTables names %q, which the migrations do not create (tables: %v)", table, tables)
		}
	}
}
