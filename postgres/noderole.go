package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iogate/iogate"
)

// appendOnlyTables are the tables whose rows a node adds and reads but never changes. The
// audit log's trigger lets a node delete only the records that a checkpoint covers, which
// retention needs; UPDATE and TRUNCATE, which bypasses row triggers, are withheld.
// Retention moves a checkpoint forward with an upsert, so a node may insert and update
// checkpoints but not delete them, and their trigger rejects an update that does not
// raise seq. Otherwise a node could write a checkpoint over the newest records, delete
// them, and remove its checkpoint again, which no check of the chain can detect.
var appendOnlyTables = map[string][]string{
	"audit_records":     {"SELECT", "INSERT", "DELETE"},
	"audit_checkpoints": {"SELECT", "INSERT", "UPDATE"},
	"schema_migrations": {"SELECT"},
}

// defaultNodePrivileges are the privileges of a node on every table that appendOnlyTables
// does not list.
var defaultNodePrivileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE"}

// nodePrivileges returns the table privileges that GrantNodeRole gives on table, and
// that Open requires of a role that does not own the table.
func nodePrivileges(table string) []string {
	if privileges, ok := appendOnlyTables[table]; ok {
		return privileges
	}
	return defaultNodePrivileges
}

// GrantNodeRole gives role the privileges that "iogate serve" and the CLI need on every
// table of the current schema, replacing what role had on them. The role that runs it must
// own the tables. A node that connects as role cannot change the schema, drop or disable
// the audit log's trigger, truncate the audit log or update its records, as the owner can.
// It returns how many tables it granted.
func (db *DB) GrantNodeRole(ctx context.Context, role string) (int, error) {
	var tables []string
	err := db.write(ctx, func(tx pgx.Tx) error {
		var isOwner, exists, privileged bool
		if err := tx.QueryRow(ctx, `SELECT $1 = current_user, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1),
			EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1 AND (rolsuper OR rolcreaterole))`, role).Scan(&isOwner, &exists, &privileged); err != nil {
			return err
		}
		switch {
		case isOwner:
			return iogate.Errorf(iogate.CodeInvalid, "invalid --node-role %q: this command runs as that role; "+
				"run it as the role that owns the schema, and give the nodes a role of their own", role)
		case !exists:
			return iogate.Errorf(iogate.CodeInvalid, "invalid --node-role %q: no such role; create it first with createuser --pwprompt", role)
		case privileged:
			// A superuser bypasses every privilege and trigger, and a role with CREATEROLE
			// can grant itself membership in the owner's role.
			return iogate.Errorf(iogate.CodeInvalid, "invalid --node-role %q: the role is a superuser or has CREATEROLE, "+
				"so withholding privileges from it protects nothing; give the nodes a role that has neither", role)
		}
		// The same lock as migrations, so that grants never run beside a migration that
		// adds a table.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		var schema string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return err
		}
		// PostgreSQL only warns when a role grants privileges on a table that it neither
		// owns nor holds with the grant option, so ownership is checked first.
		rows, err := tx.Query(ctx, `SELECT t.tablename FROM pg_tables t
			WHERE t.schemaname = $1 AND NOT pg_has_role(current_user, t.tableowner, 'USAGE')`, schema)
		if err != nil {
			return err
		}
		notOwned, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(notOwned) > 0 {
			return fmt.Errorf("grant the node role its privileges on %s: the tables %v belong to another role; "+
				"run \"iogate migrate --node-role\" as the role that owns the schema", db.where, notOwned)
		}
		// A member of the owner's role can take its privileges with SET ROLE.
		var owners []string
		rows, err = tx.Query(ctx, `SELECT DISTINCT t.tableowner::text FROM pg_tables t
			WHERE t.schemaname = $1 AND pg_has_role($2, t.tableowner, 'MEMBER') ORDER BY 1`, schema, role)
		if err != nil {
			return err
		}
		if owners, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if len(owners) > 0 {
			return iogate.Errorf(iogate.CodeInvalid, "invalid --node-role %q: the role is a member of %v, which owns the tables, "+
				"so it can do what the owner can; give the nodes a role that is not", role, owners)
		}
		rows, err = tx.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, schema)
		if err != nil {
			return err
		}
		if tables, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		grantee := pgx.Identifier{role}.Sanitize()
		stmts := []string{`GRANT USAGE ON SCHEMA ` + pgx.Identifier{schema}.Sanitize() + ` TO ` + grantee}
		for _, t := range tables {
			table := pgx.Identifier{schema, t}.Sanitize()
			privileges := strings.Join(nodePrivileges(t), ", ")
			stmts = append(stmts, `REVOKE ALL ON `+table+` FROM `+grantee, `GRANT `+privileges+` ON `+table+` TO `+grantee)
		}
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return db.grantError(err, role)
			}
		}
		if err := db.grantConnect(ctx, tx, role); err != nil {
			return err
		}
		return checkWithheld(ctx, tx, role, schema, tables)
	})
	return len(tables), err
}

// grantConnect gives role the CONNECT privilege on the current database if it lacks it,
// which happens when the database's owner revoked CONNECT from PUBLIC. PostgreSQL only
// warns when the grantor may not grant CONNECT, so the privilege is checked again after.
func (db *DB) grantConnect(ctx context.Context, tx pgx.Tx, role string) error {
	var database string
	var connect bool
	if err := tx.QueryRow(ctx, `SELECT current_database(), has_database_privilege($1, current_database(), 'CONNECT')`, role).Scan(&database, &connect); err != nil {
		return err
	}
	if connect {
		return nil
	}
	grant := connectGrant(database, role)
	mayNotGrant := fmt.Errorf("grant the node role its privileges on %s: the role that runs this command may not grant CONNECT on the database; "+
		"as the database's owner, run %s, then run this command again", db.where, grant)
	if _, err := tx.Exec(ctx, grant); err != nil {
		// A failed statement aborts the transaction, so nothing more can be checked in it.
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			return mayNotGrant
		}
		return fmt.Errorf("grant CONNECT to the node role: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT has_database_privilege($1, current_database(), 'CONNECT')`, role).Scan(&connect); err != nil {
		return err
	}
	if !connect {
		return mayNotGrant
	}
	return nil
}

// connectGrant returns the statement that gives role the CONNECT privilege on database.
func connectGrant(database, role string) string {
	return "GRANT CONNECT ON DATABASE " + pgx.Identifier{database}.Sanitize() + " TO " + pgx.Identifier{role}.Sanitize()
}

// checkWithheld returns CodeInvalid when role still holds a table privilege that
// GrantNodeRole withholds. REVOKE removes only the role's own grants, so the role can
// still hold such a privilege through PUBLIC or through another role it is a member of.
// TRIGGER is checked too, because a trigger of the role's own on the audit log could drop
// records before they are inserted, which no check of the chain would notice.
func checkWithheld(ctx context.Context, tx pgx.Tx, role, schema string, tables []string) error {
	var stillHeld []string
	for _, t := range tables {
		granted := nodePrivileges(t)
		for _, privilege := range []string{"INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER"} {
			if slices.Contains(granted, privilege) {
				continue
			}
			var has bool
			if err := tx.QueryRow(ctx, `SELECT has_table_privilege($1, $2, $3)`, role, pgx.Identifier{schema, t}.Sanitize(), privilege).Scan(&has); err != nil {
				return err
			}
			if has {
				stillHeld = append(stillHeld, privilege+" on "+t)
			}
		}
	}
	// CREATE on the schema, which PUBLIC holds on the public schema before PostgreSQL 15,
	// would let the role create a table that a later migration finds in place and adopts.
	var create bool
	if err := tx.QueryRow(ctx, `SELECT has_schema_privilege($1, $2, 'CREATE')`, role, schema).Scan(&create); err != nil {
		return err
	}
	if create {
		stillHeld = append(stillHeld, "CREATE on schema "+schema)
	}
	if len(stillHeld) > 0 {
		return iogate.Errorf(iogate.CodeInvalid, "invalid --node-role %q: the role has %s through PUBLIC or a role it is a member of; "+
			"revoke those privileges there and run the command again", role, strings.Join(stillHeld, ", "))
	}
	return nil
}

// missingNodePrivilegesQuery returns, for every table of the current schema that the
// current role does not own, the privileges of nodePrivileges that the role lacks, in the
// order that nodePrivileges lists them. $1 and $2 are appendOnlyTables as pairs of a table
// and one of its privileges, and $3 is defaultNodePrivileges. A member of the owner's role
// counts as the owner, because it holds the owner's privileges.
const missingNodePrivilegesQuery = `SELECT t.tablename, p.privilege
	FROM pg_tables t
	CROSS JOIN LATERAL (
		SELECT s.privilege, s.n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS s(tablename, privilege, n)
		WHERE s.tablename = t.tablename
		UNION ALL
		SELECT d.privilege, d.n FROM unnest($3::text[]) WITH ORDINALITY AS d(privilege, n)
		WHERE t.tablename <> ALL ($1::text[])
	) p
	WHERE t.schemaname = current_schema()
		AND NOT pg_has_role(current_user, t.tableowner, 'USAGE')
		AND NOT has_table_privilege(current_user, format('%I.%I', t.schemaname, t.tablename), p.privilege)
	ORDER BY t.tablename, p.n`

// checkNodePrivileges fails when role, the role that tx runs as, lacks a privilege that
// GrantNodeRole would give it on a table of the current schema that it does not own. It
// finds a table that an upgrade added after the last "iogate migrate --node-role" when the
// node starts, not when a request first uses it. The owner of every table passes.
func (db *DB) checkNodePrivileges(ctx context.Context, tx pgx.Tx, role string) error {
	var tables, privileges []string
	for t, granted := range appendOnlyTables {
		for _, privilege := range granted {
			tables = append(tables, t)
			privileges = append(privileges, privilege)
		}
	}

	rows, err := tx.Query(ctx, missingNodePrivilegesQuery, tables, privileges, defaultNodePrivileges)
	if err != nil {
		return fmt.Errorf("check the privileges of the role %q: %w", role, err)
	}

	// missing maps a table to the privileges that the role lacks on it, in query order.
	var order []string
	missing := map[string][]string{}
	var table, privilege string
	if _, err := pgx.ForEachRow(rows, []any{&table, &privilege}, func() error {
		if missing[table] == nil {
			order = append(order, table)
		}
		missing[table] = append(missing[table], privilege)
		return nil
	}); err != nil {
		return fmt.Errorf("check the privileges of the role %q: %w", role, err)
	}
	if len(order) == 0 {
		return nil
	}

	// Tables that lack the same privileges share one entry, so that a role that was never
	// granted anything gets a short message.
	var sets []string
	tablesOf := map[string][]string{}
	for _, t := range order {
		set := strings.Join(missing[t], ", ")
		if tablesOf[set] == nil {
			sets = append(sets, set)
		}
		tablesOf[set] = append(tablesOf[set], t)
	}

	lacks := make([]string, len(sets))
	for i, set := range sets {
		lacks[i] = set + " on " + strings.Join(tablesOf[set], ", ")
	}
	return fmt.Errorf("the role %q lacks privileges that nodes need on %s: %s; %s",
		role, db.where, strings.Join(lacks, "; "), grantNodeRoleStep(role))
}

// privilegeError returns the error of the step named step, which failed with err while
// Open ran as role. When role lacked a privilege, the message names the role and the
// command that gives it the privileges of a node.
func (db *DB) privilegeError(err error, role, step string) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		return fmt.Errorf("%s: %w", step, err)
	}
	return fmt.Errorf("%s on %s: the role %q lacks a privilege (%s); %s", step, db.where, role, pe.Message, grantNodeRoleStep(role))
}

// connectPrivilegeError returns err, or when err is a connection that PostgreSQL refused
// because role lacks the CONNECT privilege on database, an error that names the GRANT to
// run. Every role holds CONNECT unless the database's owner revoked it from PUBLIC, and
// "iogate migrate --node-role" grants it then.
func (db *DB) connectPrivilegeError(err error, role, database string) error {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	if !errors.As(err, &ce) || !errors.As(err, &pe) || pe.Code != "42501" {
		return err
	}
	grant := connectGrant(database, role)
	return fmt.Errorf("the role %q may not connect to %s (%s); as the database's owner, run %s, then start this command again",
		role, db.where, pe.Message, grant)
}

// grantError returns the error of a GRANT or REVOKE of GrantNodeRole that failed with err.
func (db *DB) grantError(err error, role string) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		return fmt.Errorf("grant the node role its privileges: %w", err)
	}
	return fmt.Errorf("grant the node role its privileges on %s: the role that runs this command lacks a privilege (%s); "+
		`run "iogate migrate --node-role %s" as the role that owns the schema`, db.where, pe.Message, role)
}

// grantNodeRoleStep returns the next step for a node whose role lacks a privilege: the
// owner applies the migrations and grants role the privileges of a node.
func grantNodeRoleStep(role string) string {
	return fmt.Sprintf(`run "iogate migrate --node-role %s" as the role that owns the schema, then start this command again`, role)
}
