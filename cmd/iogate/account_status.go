package main

import (
	"fmt"
	"io"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/spf13/cobra"
)

func newAccountSuspendCommand(g *globals) *cobra.Command {
	return newAccountStatusCommand(g, &cobra.Command{
		Use:   "suspend ACCOUNT_ID",
		Short: "Suspend an account: running servers refuse its tokens within a second, and its dashboard sessions end",
		Long: "Suspend an account. Its API keys get no new tokens, tokens already issued are refused\n" +
			"(by a running server within a second), and its dashboard sessions end. Nothing is deleted:\n" +
			"\"iogate account resume\" lifts the suspension.",
	}, iogate.AccountSuspended, "Suspended account %s. Its tokens are refused and its dashboard sessions have ended.\n")
}

func newAccountResumeCommand(g *globals) *cobra.Command {
	return newAccountStatusCommand(g, &cobra.Command{
		Use:   "resume ACCOUNT_ID",
		Short: "Lift an account's suspension",
	}, iogate.AccountActive, "Resumed account %s. Its keys work again; its users sign in again.\n")
}

// newAccountStatusCommand completes cmd into a command that sets an account's status.
func newAccountStatusCommand(g *globals, cmd *cobra.Command, status, done string) *cobra.Command {
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		e, err := g.open(cmd.Context(), false, auth.Config{})
		if err != nil {
			return err
		}
		defer e.Close()
		set := e.auth.ResumeAccount
		if status == iogate.AccountSuspended {
			set = e.auth.SuspendAccount
		}
		ctx := iogate.WithActor(cmd.Context(), operatorActor(g.getenv))
		if err := set(ctx, args[0]); err != nil {
			return accountNotFound(err, args[0])
		}
		return g.printResult(map[string]any{"id": args[0], "status": status}, func(w io.Writer) {
			fmt.Fprintf(w, done, args[0])
		})
	}
	return cmd
}
