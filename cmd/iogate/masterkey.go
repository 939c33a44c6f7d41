package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/spf13/cobra"
)

func newMasterKeyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "master-key", Short: "Create and rotate the master key that encrypts stored secrets"}
	cmd.AddCommand(newMasterKeyGenerateCommand(g), newMasterKeyRotateCommand(g))
	return cmd
}

func newMasterKeyGenerateCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "generate --output FILE",
		Short: "Write a new random master key to a file (mode 0600)",
		Long: "Write a new random 32-byte master key, in base64, to a new file with mode 0600. With\n" +
			"PostgreSQL every node needs the same master key: copy the file to each node, or put its\n" +
			"content in IOGATE_MASTER_KEY.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(output); err == nil {
				return errorf("%s already exists: it may hold a master key in use, so choose another path", output)
			}
			if _, err := iogate.LoadOrCreateMasterKeyFile(output, true); err != nil {
				return errorf("%v", err)
			}
			return g.printResult(map[string]any{"output": output}, func(w io.Writer) {
				fmt.Fprintf(w, "Wrote a new master key to %s.\n", output)
			})
		},
	}
	cmd.Flags().StringVar(&output, "output", "", "file to create (required)")
	cmd.MarkFlagRequired("output")
	return cmd
}

func newMasterKeyRotateCommand(g *globals) *cobra.Command {
	var newKeyFile string
	cmd := &cobra.Command{
		Use:   "rotate --new-key-file FILE",
		Short: "Re-encrypt the stored secrets and signing keys under a new master key",
		Long: "Re-encrypt every secret the database holds under the master key (the pepper of the client\n" +
			"secret hashes and the token-signing private keys) with the key in --new-key-file, in one\n" +
			"transaction. The current key comes from IOGATE_MASTER_KEY or --master-key-file as usual.\n" +
			"Running servers keep working; restart each with the new key afterwards, because a\n" +
			"server started with the old key refuses to start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			current, err := g.loadMasterKey()
			if err != nil {
				return err
			}
			next, err := iogate.LoadOrCreateMasterKeyFile(newKeyFile, false)
			if err != nil {
				return errorf("%v; create the new key with \"iogate master-key generate --output FILE\"", err)
			}
			if sameMasterKey(current, next) {
				return errorf("the key in %s is the current master key: generate a new one with \"iogate master-key generate --output FILE\"", newKeyFile)
			}
			store, _, err := g.openStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer store.Close()
			n, err := auth.RotateMasterKey(cmd.Context(), store, current, next)
			if errors.Is(err, iogate.ErrWrongMasterKey) {
				return errorf("nothing was changed: %v", err)
			}
			if err != nil {
				return err
			}
			return g.printResult(map[string]any{"reencrypted": n, "newKeyFile": newKeyFile}, func(w io.Writer) {
				fmt.Fprintf(w, "Re-encrypted %d secrets under the master key in %s.\n", n, newKeyFile)
				fmt.Fprintln(w, "Next: give every node the new key (IOGATE_MASTER_KEY or --master-key-file) and restart them one by one.")
				if !g.usesPostgres() && g.masterKeyFile == "" && g.getenv("IOGATE_MASTER_KEY") == "" {
					fmt.Fprintf(w, "With the default key file: cp %s %s/master.key\n", newKeyFile, g.dataDir)
				}
			})
		},
	}
	cmd.Flags().StringVar(&newKeyFile, "new-key-file", "", "file holding the new base64 master key (required)")
	cmd.MarkFlagRequired("new-key-file")
	return cmd
}

// sameMasterKey reports whether a and b are the same key: a value sealed by a opens with b
// only then.
func sameMasterKey(a, b *iogate.MasterKey) bool {
	sealed, err := a.Seal("master-key-comparison", []byte("probe"))
	if err != nil {
		return false
	}
	_, err = b.Open("master-key-comparison", sealed)
	return err == nil
}
