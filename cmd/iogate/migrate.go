package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// migrator is a store that reports the schema migrations it applied when it opened.
type migrator interface {
	Migrations() (version int, applied []int)
}

// nodeRoleGranter is a store that can give a database role of its own to the nodes.
type nodeRoleGranter interface {
	GrantNodeRole(ctx context.Context, role string) (int, error)
}

// migrateResult is the output of "iogate migrate".
type migrateResult struct {
	Database string `json:"database"`
	Version  int    `json:"version"`
	Applied  []int  `json:"applied"`
	// NodeRole and GrantedTables report --node-role.
	NodeRole      string `json:"nodeRole,omitempty"`
	GrantedTables int    `json:"grantedTables,omitempty"`
}

func newMigrateCommand(g *globals) *cobra.Command {
	var nodeRole string
	cmd := &cobra.Command{
		Use:         "migrate",
		Annotations: map[string]string{envAnnotation: "all"},
		Short:       "Apply the database schema migrations this version needs",
		Long: "Apply the database schema migrations this version needs, then exit. Every command applies\n" +
			"them when it opens the database, so this is optional; with several nodes it lets you\n" +
			"upgrade the schema once, before the new version starts. Nodes that migrate at the same\n" +
			"time wait for each other, and each migration is applied once.\n\n" +
			"With PostgreSQL, --node-role ROLE then gives ROLE the privileges that nodes need, so that\n" +
			"they can run as ROLE instead of the schema's owner: such a node cannot change the schema,\n" +
			"disable the audit log's trigger, truncate the audit log or update its records. Run it\n" +
			"as the owner after every upgrade, before the new version starts.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if nodeRole != "" && !g.usesPostgres() {
				return flagErrorf("node-role", "invalid --node-role: it applies to PostgreSQL only; pass --database or set IOGATE_DATABASE")
			}
			store, _, err := g.openStore(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer store.Close()
			m, ok := store.(migrator)
			if !ok {
				return fmt.Errorf("the %T store does not report its migrations", store)
			}
			version, applied := m.Migrations()
			out := migrateResult{Database: g.databaseLabel(), Version: version, Applied: applied, NodeRole: nodeRole}
			if out.Applied == nil {
				out.Applied = []int{}
			}
			if nodeRole != "" {
				granter, ok := store.(nodeRoleGranter)
				if !ok {
					return fmt.Errorf("the %T store cannot grant a node role", store)
				}
				if out.GrantedTables, err = granter.GrantNodeRole(cmd.Context(), nodeRole); err != nil {
					return err
				}
			}
			return g.printResult(out, func(w io.Writer) {
				if len(applied) == 0 {
					fmt.Fprintf(w, "The schema of %s is current at version %d.\n", out.Database, version)
				} else {
					fmt.Fprintf(w, "Applied migrations %v to %s; the schema is at version %d.\n", applied, out.Database, version)
				}
				if nodeRole != "" {
					fmt.Fprintf(w, "Granted the role %s the privileges of a node on %d tables; nodes may now connect as %s.\n", nodeRole, out.GrantedTables, nodeRole)
				}
			})
		},
	}
	cmd.Flags().StringVar(&nodeRole, "node-role", "", "PostgreSQL role to give the privileges that nodes need, so that they do not run as the schema's owner")
	return cmd
}
