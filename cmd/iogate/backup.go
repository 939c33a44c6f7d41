package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/iogate/iogate/sqlite"
	"github.com/spf13/cobra"
)

func newBackupCommand(g *globals) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "backup --to FILE",
		Short: "Write a consistent copy of the SQLite database, also while the server runs",
		Long: "Write a consistent copy of the SQLite database to FILE (mode 0600), also while the server runs.\n" +
			"The copy does not contain the master key: back up DATA_DIR/master.key (or IOGATE_MASTER_KEY)\n" +
			"separately and keep it apart from the database copies. To restore, stop the server, replace\n" +
			"DATA_DIR/iogate.db with the copy, delete DATA_DIR/iogate.db-wal and DATA_DIR/iogate.db-shm,\n" +
			"and start the server with the same master key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Copying a SQLite file that the data directory still holds from a first try
			// would look like a backup of the PostgreSQL database.
			if g.usesPostgres() {
				return errorf("iogate backup copies the SQLite database only, and --database names PostgreSQL: " +
					"back it up with pg_dump or the provider's snapshots instead")
			}
			if err := g.ensureDataDir(false); err != nil {
				return err
			}
			dbPath := filepath.Join(g.dataDir, "iogate.db")
			if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
				return errorf("no database at %s: check --data-dir", dbPath)
			}
			db, err := sqlite.Open(cmd.Context(), dbPath)
			if err != nil {
				return err
			}
			defer db.Close()
			size, err := db.Backup(cmd.Context(), to)
			if err != nil {
				return err
			}
			return g.printResult(map[string]any{"backup": to, "bytes": size}, func(w io.Writer) {
				fmt.Fprintf(w, "Wrote a copy of %s to %s (%d bytes).\nThe master key is not in it: keep a copy of the master key apart from the backups.\n", dbPath, to, size)
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "file to write the copy to; it must not exist (required)")
	cmd.MarkFlagRequired("to")
	return cmd
}
