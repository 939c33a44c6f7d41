package main

import (
	"fmt"
	"io"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/spf13/cobra"
)

func newAuditCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read, export and verify the audit log",
		Long: "Every account has an append-only audit log of the creation of the account and its vaults, of key changes\n" +
			"and of token requests, issued and denied. The token-signing keys have one too, which --signing-keys selects:\n" +
			"every creation, rotation, retirement and revocation of a signing key.\n" +
			"Its records form a hash chain, so that \"iogate audit verify\" detects a record edited in the database.",
	}
	cmd.AddCommand(newAuditListCommand(g), newAuditExportCommand(g), newAuditVerifyCommand(g))
	return cmd
}

// operatorActor is the actor of changes made from the CLI: the operating-system user who
// runs it.
func operatorActor(getenv func(string) string) iogate.Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	return iogate.Actor{Type: iogate.ActorOperator, ID: name}
}

func newAuditListCommand(g *globals) *cobra.Command {
	var log auditLogFlags
	var filters auditFilterFlags
	var page iogate.Page
	cmd := &cobra.Command{
		Use:   "list (--account ID | --signing-keys)",
		Short: "List an account's audit records, or those of the signing keys, newest first",
		Long: "List an account's audit records, or with --signing-keys those of the token-signing keys, newest first.\n" +
			"The filters --client-id, --actor and --event combine: a record is listed when it matches each one given.\n" +
			"For an account, --event takes one of these events:\n  " + strings.Join(iogate.AuditEvents, ", ") + "\n" +
			"With --signing-keys, it takes one of these:\n  " + strings.Join(iogate.SigningKeyAuditEvents, ", ") + "\n\n" +
			auditActorHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := log.check(true); err != nil {
				return err
			}
			if page.Limit < 1 || page.Limit > iogate.MaxPageLimit {
				return errorf("invalid --limit %d: it must be from 1 to %d", page.Limit, iogate.MaxPageLimit)
			}
			if err := filters.check(log.signingKeys); err != nil {
				return err
			}
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			accountID, err := log.find(cmd.Context(), e.store)
			if err != nil {
				return err
			}
			filter, err := filters.resolve(cmd.Context(), e.store, accountID)
			if err != nil {
				return err
			}
			records, next, err := e.store.ListAuditRecords(cmd.Context(), filter, page)
			if err != nil {
				return err
			}
			if records == nil {
				records = []*iogate.AuditRecord{}
			}
			out := map[string]any{"data": records}
			if next != "" {
				out["nextCursor"] = next
			}
			return g.printResult(out, func(w io.Writer) {
				if log.signingKeys {
					printSigningKeyRecords(w, records, next)
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tTIME\tEVENT\tACTOR\tADDRESS\tCLIENT ID\tREASON")
				for _, r := range records {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Format(time.RFC3339), r.Event,
						actorText(r.Actor), orDash(r.Actor.IP), orDash(r.ClientID), orDash(r.Reason))
				}
				tw.Flush()
				if next != "" {
					fmt.Fprintf(w, "\nOlder records: add --cursor %s\n", next)
				}
			})
		},
	}
	f := cmd.Flags()
	log.register(f)
	filters.register(f)
	f.IntVar(&page.Limit, "limit", iogate.DefaultPageLimit, fmt.Sprintf("number of records to list, at most %d", iogate.MaxPageLimit))
	f.StringVar(&page.Cursor, "cursor", "", "continue after the last page, with the cursor it printed")
	return cmd
}

func newAuditExportCommand(g *globals) *cobra.Command {
	var log auditLogFlags
	var filters auditFilterFlags
	var format string
	cmd := &cobra.Command{
		Use:   "export (--account ID | --signing-keys) [--format json|csv]",
		Short: "Write an account's whole audit log, or that of the signing keys, to standard output, oldest first",
		Long: "Write an account's whole audit log, or with --signing-keys that of the token-signing keys, to standard\n" +
			"output, oldest first, as a JSON array or as CSV with a header row. In CSV, a value that starts with\n" +
			"=, +, -, @, tab or carriage return gets a leading ' so that spreadsheets do not run it as a formula.\n" +
			"The export is itself recorded as an audit.exported record by the operator in the log it exports,\n" +
			"which the output includes.\n" +
			"The filters --client-id, --actor and --event select records as they do for \"iogate audit list\", and\n" +
			"combine: only the records that match each one given are written, in the same order and format.\n" +
			"The audit.exported record then holds the filters, and the output includes it only when it matches them.\n\n" +
			auditActorHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := log.check(true); err != nil {
				return err
			}
			var write func(w io.Writer, each func(func(*iogate.AuditRecord) error) error) error
			switch format {
			case "json":
				write = iogate.WriteAuditJSON
			case "csv":
				write = iogate.WriteAuditCSV
			default:
				return errorf("invalid --format %q: use json or csv", format)
			}
			if err := filters.check(log.signingKeys); err != nil {
				return err
			}
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			accountID, err := log.find(cmd.Context(), e.store)
			if err != nil {
				return err
			}
			filter, err := filters.resolve(cmd.Context(), e.store, accountID)
			if err != nil {
				return err
			}
			// As in the dashboard, the record commits before the export starts, so that no
			// export leaves the log without one. The context's actor is the operator.
			if err := e.auth.RecordEvent(cmd.Context(), accountID, iogate.AuditLogExported, exportDetails(format, filter)); err != nil {
				return err
			}
			return write(g.stdout, func(fn func(*iogate.AuditRecord) error) error {
				return e.store.AuditRecords(cmd.Context(), accountID, func(r *iogate.AuditRecord) error {
					if !filter.Matches(r) {
						return nil
					}
					return fn(r)
				})
			})
		},
	}
	log.register(cmd.Flags())
	filters.register(cmd.Flags())
	cmd.Flags().StringVar(&format, "format", "json", "output format: json or csv")
	return cmd
}

func newAuditVerifyCommand(g *globals) *cobra.Command {
	var log auditLogFlags
	cmd := &cobra.Command{
		Use:   "verify [--account ID | --signing-keys]",
		Short: "Check the hash chain of the audit log; exit non-zero at the first broken record",
		Long: "Check the hash chain of every account's audit log and of the signing keys' log, or of one of them.\n" +
			"A record edited, inserted or removed in the middle of a chain breaks it: the command then names the\n" +
			"first broken record and exits with status 1. Records removed from the end of a chain leave it intact; to detect that, keep the head\n" +
			"hashes this command prints somewhere outside the database and compare them later.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := log.check(false); err != nil {
				return err
			}
			e, err := g.open(cmd.Context(), false, auth.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			accountID, err := log.find(cmd.Context(), e.store)
			if err != nil {
				return err
			}
			report, err := e.auth.VerifyAudit(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			return g.printResult(report, func(w io.Writer) {
				accounts, signingKeys := len(report.Heads), ""
				if slices.ContainsFunc(report.Heads, func(h iogate.AuditHead) bool { return h.AccountID == iogate.SigningKeyLogID }) {
					accounts--
					signingKeys = " and of the signing-key log"
				}
				fmt.Fprintf(w, "Verified %d audit records of %d account(s)%s.\n", report.Records, accounts, signingKeys)
				if n := len(report.SigningKeysWithoutRecord); n > 0 {
					fmt.Fprintf(w, "%d signing key(s) have no record because they were created before the signing-key log existed or before its retention checkpoint: %s. Check that you know each of them.\n",
						n, strings.Join(report.SigningKeysWithoutRecord, ", "))
				}
				if len(report.Heads) == 0 {
					return
				}
				fmt.Fprintln(w)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ACCOUNT\tRECORDS\tHEAD HASH")
				for _, h := range report.Heads {
					fmt.Fprintf(tw, "%s\t%d\t%s\n", h.AccountID, h.Records, h.Hash)
				}
				tw.Flush()
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&log.accountID, "account", "", "verify only this account's log (default: every account's and the signing keys' log)")
	f.BoolVar(&log.signingKeys, "signing-keys", false, "verify only the log of the token-signing keys")
	return cmd
}

// actorText returns an actor as the audit list shows it: type:id, or the type alone for
// an actor without an ID, such as iogate itself.
func actorText(a iogate.Actor) string {
	if a.ID == "" {
		return a.Type
	}
	return a.Type + ":" + a.ID
}
