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

func newAccountCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage accounts"}
	cmd.AddCommand(newAccountCreateCommand(g), newAccountListCommand(g))
	cmd.AddCommand(newAccountSuspendCommand(g), newAccountResumeCommand(g))
	return cmd
}

func newAccountCreateCommand(g *globals) *cobra.Command {
	var name, email string
	cmd := &cobra.Command{
		Use:   "create --name NAME --email EMAIL",
		Short: "Create an account",
		Long: "Create an account. With SQLite the data directory must exist: start the server with\n" +
			"\"iogate serve\" first, or create it with \"iogate migrate\". As serve does, it creates the\n" +
			"master key file when the file is missing and the database holds no secrets yet.\n\n" +
			"--email is the contact address of the account's owner. iogate stores it with the account, shows it\n" +
			"in \"iogate account list\", records it in the account.created audit record and puts it in the\n" +
			"\"iogate user invite\" command that this command prints. It creates no dashboard user, sends no mail\n" +
			"and signs nobody in: to give the account an owner who can sign in, run that invite command.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A data directory created here would hold a second database and master key
			// that no server uses, and the account would seem lost.
			if !g.usesPostgres() {
				if err := g.ensureDataDir(false); err != nil {
					return err
				}
			}
			e, err := g.open(cmd.Context(), true, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			a := &iogate.Account{
				ID:        iogate.NewID(),
				Name:      name,
				Email:     email,
				Status:    iogate.AccountActive,
				CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
			}
			if err := a.Validate(); err != nil {
				return err
			}
			rec, err := e.auth.AuditChain().NewAccountCreatedRecord(a, iogate.ActorFrom(cmd.Context()), "cli")
			if err != nil {
				return err
			}
			if err := e.store.CreateAccount(cmd.Context(), a, rec); err != nil {
				return err
			}
			return g.printResult(a, func(w io.Writer) {
				store := g.storeFlags(cmd)
				fmt.Fprintf(w, "Created account %s (%s).\nNext: iogate key create%s --account %s --name NAME\n", a.ID, a.Name, store, a.ID)
				fmt.Fprintf(w, "The account has no dashboard user yet. To give it an owner: iogate user invite%s --account %s --email %s --role owner\n", store, a.ID, a.Email)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "account name (required)")
	cmd.Flags().StringVar(&email, "email", "", "contact email of the account owner, stored with the account; creates no user (required)")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("email")
	return cmd
}

func newAccountListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			accounts := []*iogate.Account{}
			page := iogate.Page{Limit: iogate.MaxPageLimit}
			for {
				batch, next, err := e.store.ListAccounts(cmd.Context(), page)
				if err != nil {
					return err
				}
				accounts = append(accounts, batch...)
				if next == "" {
					break
				}
				page.Cursor = next
			}
			return g.printResult(map[string]any{"data": accounts}, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tSTATUS\tCREATED")
				for _, a := range accounts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, cell(a.Name), a.Email, a.Status, a.CreatedAt.Format(time.RFC3339))
				}
				tw.Flush()
			})
		},
	}
}
