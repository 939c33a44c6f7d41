package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/spf13/cobra"
)

func newVaultCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "vault", Short: "Manage vaults"}
	cmd.AddCommand(newVaultCreateCommand(g), newVaultListCommand(g))
	return cmd
}

func newVaultCreateCommand(g *globals) *cobra.Command {
	var accountID, name string
	var threshold int
	cmd := &cobra.Command{
		Use:   "create --account ID --name NAME --threshold N",
		Short: "Create a vault",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			if _, err := e.store.FindAccountByID(cmd.Context(), accountID); err != nil {
				return accountNotFound(err, accountID)
			}
			v := &iogate.Vault{
				ID:        iogate.NewID(),
				AccountID: accountID,
				Name:      name,
				Threshold: threshold,
				Status:    iogate.VaultActive,
				CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
			}
			if err := v.Validate(); err != nil {
				return err
			}
			rec, err := e.auth.AuditChain().NewVaultCreatedRecord(v, iogate.ActorFrom(cmd.Context()))
			if err != nil {
				return err
			}
			if err := e.store.CreateVault(cmd.Context(), v, rec); err != nil {
				return err
			}
			return g.printResult(v, func(w io.Writer) {
				fmt.Fprintf(w, "Created vault %s (%s, threshold %d).\n", v.ID, v.Name, v.Threshold)
			})
		},
	}
	cmd.Flags().StringVar(&accountID, "account", "", "ID of the account that owns the vault (required)")
	cmd.Flags().StringVar(&name, "name", "", "vault name (required)")
	cmd.Flags().IntVar(&threshold, "threshold", 0, "number of signers that must take part in a signature (required)")
	cmd.MarkFlagRequired("account")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("threshold")
	return cmd
}

func newVaultListCommand(g *globals) *cobra.Command {
	var accountID string
	cmd := &cobra.Command{
		Use:   "list --account ID",
		Short: "List an account's vaults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			if _, err := e.store.FindAccountByID(cmd.Context(), accountID); err != nil {
				return accountNotFound(err, accountID)
			}
			vaults := []*iogate.Vault{}
			page := iogate.Page{Limit: iogate.MaxPageLimit}
			for {
				batch, next, err := e.store.ListVaults(cmd.Context(), accountID, page)
				if err != nil {
					return err
				}
				vaults = append(vaults, batch...)
				if next == "" {
					break
				}
				page.Cursor = next
			}
			return g.printResult(map[string]any{"data": vaults}, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tTHRESHOLD\tSTATUS\tCREATED")
				for _, v := range vaults {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", v.ID, cell(v.Name), v.Threshold, v.Status, v.CreatedAt.Format(time.RFC3339))
				}
				tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&accountID, "account", "", "account ID (required)")
	cmd.MarkFlagRequired("account")
	return cmd
}

// accountNotFound turns a not-found error from looking up an account into a message that
// names the ID.
func accountNotFound(err error, id string) error {
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return iogate.Errorf(iogate.CodeNotFound, "account %q not found: use an ID printed by \"iogate account create\" or \"iogate account list\"", id)
	}
	return err
}
