package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iogate/iogate"
	"github.com/spf13/pflag"
)

// auditLogFlags choose the log that an audit command reads: an account's, with --account,
// or the log of the token-signing keys, with --signing-keys.
type auditLogFlags struct {
	accountID   string
	signingKeys bool
}

func (f *auditLogFlags) register(flags *pflag.FlagSet) {
	flags.StringVar(&f.accountID, "account", "", "account ID (this or --signing-keys is required)")
	flags.BoolVar(&f.signingKeys, "signing-keys", false, "the audit log of the token-signing keys instead of an account's")
}

// check rejects both flags together, and neither when required is set. Without either,
// the command reads every log.
func (f *auditLogFlags) check(required bool) error {
	switch {
	case f.signingKeys && f.accountID != "":
		return errorf("invalid --account with --signing-keys: choose one log, an account's or that of the signing keys")
	case required && !f.signingKeys && f.accountID == "":
		return errorf("missing --account: name the account whose audit log to read, or use --signing-keys for the log of the token-signing keys")
	}
	return nil
}

// find returns the account ID of the chosen log: SigningKeyLogID for --signing-keys, the
// ID of --account once the store has found that account, or "" for every log.
func (f *auditLogFlags) find(ctx context.Context, store iogate.Store) (string, error) {
	switch {
	case f.signingKeys:
		return iogate.SigningKeyLogID, nil
	case f.accountID == "":
		return "", nil
	}
	if _, err := store.FindAccountByID(ctx, f.accountID); err != nil {
		return "", accountNotFound(err, f.accountID)
	}
	return f.accountID, nil
}

// signingKeyDetails holds the fields of a signing-key record's details that the text list
// shows. JSON field names match them regardless of case.
type signingKeyDetails struct {
	KID         string
	Algorithm   string
	ActiveAt    string
	RetiredAt   string
	Retired     []struct{ KID string }
	Replacement *struct{ KID string }
	Format      string
}

// printSigningKeyRecords prints records of the signing-key log as a table, with the KID,
// algorithm and schedule that each one's details hold.
func printSigningKeyRecords(w io.Writer, records []*iogate.AuditRecord, next string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tEVENT\tACTOR\tKID\tALGORITHM\tACTIVE FROM\tRETIRED FROM\tNOTE")
	for _, r := range records {
		var d signingKeyDetails
		// A record whose details do not decode still gets its row, with dashes.
		_ = json.Unmarshal(r.Details, &d)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Format(time.RFC3339), r.Event, actorText(r.Actor),
			orDash(d.KID), orDash(d.Algorithm), formatDetailTime(d.ActiveAt), formatDetailTime(d.RetiredAt), orDash(signingKeyNote(r.Event, d)))
	}
	tw.Flush()
	if next != "" {
		fmt.Fprintf(w, "\nOlder records: add --cursor %s\n", next)
	}
}

// signingKeyNote returns the NOTE column of a record: the keys that a rotation retires, the
// replacement of a revoked key, or the format of an export.
func signingKeyNote(event string, d signingKeyDetails) string {
	switch event {
	case iogate.AuditSigningKeyRotated:
		if len(d.Retired) == 0 {
			return "retires no key"
		}
		kids := make([]string, len(d.Retired))
		for i, k := range d.Retired {
			kids[i] = k.KID
		}
		return "retires " + strings.Join(kids, ", ")
	case iogate.AuditSigningKeyRevoked:
		if d.Replacement == nil {
			return "no replacement"
		}
		return "replaced by " + d.Replacement.KID
	case iogate.AuditLogExported:
		return "format " + d.Format
	}
	return ""
}

// formatDetailTime returns a time of a record's details in RFC 3339 to the second, or a dash
// when there is none.
func formatDetailTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return orDash(s)
	}
	return t.Format(time.RFC3339)
}
