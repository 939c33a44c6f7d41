package iogate

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteAuditJSON writes the records as one JSON array, a record per line, without holding
// them all in memory.
func WriteAuditJSON(w io.Writer, each func(func(*AuditRecord) error) error) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	sep := "\n"
	err := each(func(r *AuditRecord) error {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s%s", sep, b)
		sep = ",\n"
		return err
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
}

// AuditCSVHeader names the CSV columns; the JSON field names, with the actor's fields
// flattened.
var AuditCSVHeader = []string{"accountId", "seq", "id", "time", "event", "actorType", "actorId", "actorIp",
	"clientId", "tokenId", "reason", "details", "prevHash", "hash"}

// WriteAuditCSV writes the records as CSV with a header row. A cell that starts with =, +,
// -, @, tab or carriage return gets a leading ' so that spreadsheets do not run it as a
// formula.
func WriteAuditCSV(w io.Writer, each func(func(*AuditRecord) error) error) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(AuditCSVHeader); err != nil {
		return err
	}
	err := each(func(r *AuditRecord) error {
		row := []string{r.AccountID, strconv.FormatInt(r.Seq, 10), r.ID, r.Time.Format(time.RFC3339Nano), r.Event,
			r.Actor.Type, r.Actor.ID, r.Actor.IP, r.ClientID, r.TokenID, r.Reason, string(r.Details), r.PrevHash.String(), r.Hash.String()}
		for i, cell := range row {
			row[i] = neutralizeFormula(cell)
		}
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// neutralizeFormula prefixes a CSV cell that a spreadsheet would read as a formula with a
// single quote, as OWASP's advice on CSV injection recommends.
func neutralizeFormula(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// auditExportPage is the number of records that EachAuditRecord reads per store call.
const auditExportPage = 500

// EachAuditRecord calls fn for every record of accountID, oldest first, up to the newest
// record at the time of the call, so that a log that grows during an export still ends. It
// reads the log in pages through AuditRecordsAfter and holds no store connection while fn
// runs, which may wait for a slow client to take an export. It returns a CodeConflict
// error when a retention sweep prunes records that fn has not received yet.
func EachAuditRecord(ctx context.Context, store Store, accountID string, fn func(*AuditRecord) error) error {
	newest, _, err := store.ListAuditRecords(ctx, AuditFilter{AccountID: accountID}, Page{Limit: 1})
	if err != nil || len(newest) == 0 {
		return err
	}
	last := newest[0].Seq
	// Sequence numbers start at 1, and pruning removes the lowest.
	for after := int64(0); after < last; {
		page, err := store.AuditRecordsAfter(ctx, accountID, after, auditExportPage)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, r := range page {
			if r.Seq > last {
				return nil
			}
			// An account's sequence numbers have no gaps, so a gap after the first record
			// means that a retention sweep pruned records that fn has not seen yet.
			if after > 0 && r.Seq != after+1 {
				return Errorf(CodeConflict, "audit records %d to %d of account %s were pruned during the export: export again, "+
					"and the export starts after them", after+1, r.Seq-1, accountID)
			}
			if err := fn(r); err != nil {
				return err
			}
			after = r.Seq
		}
	}
	return nil
}
