package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// migrator is a store that reports the schema migrations it applied when it opened.
type migrator interface {
	Migrations() (version int, applied []int)
}

// migrateResult is the output of "iogate migrate".
type migrateResult struct {
	Database string `json:"database"`
	Version  int    `json:"version"`
	Applied  []int  `json:"applied"`
}

func newMigrateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:         "migrate",
		Annotations: map[string]string{envAnnotation: "all"},
		Short:       "Apply the database schema migrations this version needs",
		Long: "Apply the database schema migrations this version needs, then exit. Every command applies\n" +
			"them when it opens the database, so this is optional; with several nodes it lets you\n" +
			"upgrade the schema once, before the new version starts. Nodes that migrate at the same\n" +
			"time wait for each other, and each migration is applied once.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(g.unusedEnv) > 0 {
				fmt.Fprintf(g.stderr, "iogate: ignoring %s: no flag of iogate migrate, or empty; IOGATE_FOO_BAR sets --foo-bar, and an empty one counts as unset\n", strings.Join(g.unusedEnv, ", "))
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
			out := migrateResult{Database: g.databaseLabel(), Version: version, Applied: applied}
			if out.Applied == nil {
				out.Applied = []int{}
			}
			return g.printResult(out, func(w io.Writer) {
				if len(applied) == 0 {
					fmt.Fprintf(w, "The schema of %s is current at version %d.\n", out.Database, version)
					return
				}
				fmt.Fprintf(w, "Applied migrations %v to %s; the schema is at version %d.\n", applied, out.Database, version)
			})
		},
	}
}
