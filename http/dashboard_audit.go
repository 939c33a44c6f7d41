package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/user"
)

// auditQuery reads the audit page's filters from the query string. Values that no record
// can have are errors rather than empty results, so that a mistyped link is reported.
func auditQuery(r *http.Request, accountID string) (iogate.AuditFilter, error) {
	q := r.URL.Query()
	f := iogate.AuditFilter{AccountID: accountID, ClientID: q.Get("key"), ActorID: q.Get("user"), Event: q.Get("event")}
	if f.ClientID != "" && !iogate.ValidClientID(f.ClientID) {
		return f, iogate.Errorf(iogate.CodeInvalid, "Invalid key filter %s: expected a client ID.", iogate.QuoteInput(f.ClientID))
	}
	if f.ActorID != "" && !iogate.ValidClientID(f.ActorID) {
		return f, iogate.Errorf(iogate.CodeInvalid, "Invalid user filter %s: expected a user ID.", iogate.QuoteInput(f.ActorID))
	}
	if f.Event != "" && !slices.Contains(iogate.AuditEvents, f.Event) {
		return f, iogate.Errorf(iogate.CodeInvalid, "Invalid event filter %s: choose one of the listed events.", iogate.QuoteInput(f.Event))
	}
	return f, nil
}

// filterQuery returns the filter as a query string, for pagination and export links.
func filterQuery(f iogate.AuditFilter) string {
	q := url.Values{}
	if f.ClientID != "" {
		q.Set("key", f.ClientID)
	}
	if f.ActorID != "" {
		q.Set("user", f.ActorID)
	}
	if f.Event != "" {
		q.Set("event", f.Event)
	}
	return q.Encode()
}

// auditURL joins a path, a filter query and one more parameter.
func auditURL(path, query, extra string) string {
	parts := []string{}
	for _, p := range []string{extra, query} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return path
	}
	return path + "?" + strings.Join(parts, "&")
}

// auditRow is one record as the audit page shows it.
type auditRow struct {
	*iogate.AuditRecord
	ActorLabel string
	KeyLabel   string
	Summary    string
}

// keyOption is a key in the audit page's key filter.
type keyOption struct {
	ClientID string
	Name     string
}

// auditPage is the data of the audit page.
type auditPage struct {
	Rows        []auditRow
	Keys        []keyOption
	Users       []*iogate.User
	Events      []string
	Filter      iogate.AuditFilter
	Query       string
	FirstPage   bool
	FilterError string
	// Links of the page, built here because html/template would escape the & and = of a
	// query string inserted into the middle of a URL.
	ExportCSV, ExportJSON, NewestURL, OlderURL string
}

func (d *Dashboard) handleAudit(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	data := &auditPage{Events: iogate.AuditEvents}
	var err error
	if data.Users, err = d.users.ListUsers(r.Context(), c.Account.ID); err != nil {
		return err
	}
	keys, _, err := d.cfg.Store.ListAPIKeys(r.Context(), c.Account.ID, iogate.Page{Limit: iogate.MaxPageLimit})
	if err != nil {
		return err
	}
	keyNames := map[string]string{}
	for _, k := range keys {
		data.Keys = append(data.Keys, keyOption{ClientID: k.ClientID, Name: k.Name})
		keyNames[k.ClientID] = k.Name
	}
	// Deleted keys stay in the menu, newest deletion first and named from their key.deleted
	// records, because a key's log is often read after its deletion.
	deleted, _, err := d.cfg.Store.ListAuditRecords(r.Context(), iogate.AuditFilter{AccountID: c.Account.ID, Event: iogate.AuditKeyDeleted},
		iogate.Page{Limit: iogate.MaxPageLimit})
	if err != nil {
		return err
	}
	namesFromRecords(deleted, keyNames)
	for _, rec := range deleted {
		if name := keyNames[rec.ClientID]; name != "" {
			data.Keys = append(data.Keys, keyOption{ClientID: rec.ClientID, Name: name + " (deleted)"})
		}
	}
	status := http.StatusOK
	filter, ferr := auditQuery(r, c.Account.ID)
	// A key beyond the menu's keys, selected by a link, is shown by its client ID, so that
	// the menu does not read "All keys" on a filtered page.
	if ferr == nil && filter.ClientID != "" && !slices.ContainsFunc(data.Keys, func(o keyOption) bool { return o.ClientID == filter.ClientID }) {
		data.Keys = append(data.Keys, keyOption{ClientID: filter.ClientID, Name: filter.ClientID})
	}
	data.Filter, data.Query = filter, filterQuery(filter)
	data.ExportCSV = auditURL("/dashboard/audit/export", data.Query, "format=csv")
	data.ExportJSON = auditURL("/dashboard/audit/export", data.Query, "format=json")
	data.NewestURL = auditURL("/dashboard/audit", data.Query, "")
	page, perr := pageFrom(r)
	data.FirstPage = page.Cursor == ""
	switch {
	case ferr != nil:
		data.FilterError, status = iogate.ErrorMessageOf(ferr), http.StatusBadRequest
	case perr != nil:
		data.FilterError, status = iogate.ErrorMessageOf(perr), http.StatusBadRequest
	default:
		records, next, err := d.cfg.Store.ListAuditRecords(r.Context(), filter, page)
		if iogate.ErrorCodeOf(err) == iogate.CodeInvalid {
			data.FilterError, status = iogate.ErrorMessageOf(err), http.StatusBadRequest
		} else if err != nil {
			return err
		}
		if next != "" {
			data.OlderURL = auditURL("/dashboard/audit", data.Query, "cursor="+url.QueryEscape(next))
		}
		emails := map[string]string{}
		for _, u := range data.Users {
			emails[u.ID] = u.Email
		}
		namesFromRecords(records, keyNames)
		for _, rec := range records {
			data.Rows = append(data.Rows, auditRow{AuditRecord: rec, ActorLabel: actorLabel(rec.Actor, emails, keyNames),
				KeyLabel: keyLabel(rec.ClientID, keyNames), Summary: auditSummary(rec)})
		}
	}
	v := d.newView(c, "Audit log", "audit")
	v.Data = data
	d.render(w, r, status, "audit", v)
	return nil
}

// namesFromRecords adds to keyNames the names of deleted keys, from the "name" detail that
// key.created and key.deleted records carry, so the page names them too. The "name" of
// other events, such as a vault's in vault.created, is not the key's.
func namesFromRecords(records []*iogate.AuditRecord, keyNames map[string]string) {
	for _, rec := range records {
		if rec.Event != iogate.AuditKeyCreated && rec.Event != iogate.AuditKeyDeleted {
			continue
		}
		if rec.ClientID == "" || keyNames[rec.ClientID] != "" || len(rec.Details) == 0 {
			continue
		}
		var details struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(rec.Details, &details) == nil && details.Name != "" {
			keyNames[rec.ClientID] = details.Name
		}
	}
}

// actorLabel names an actor for people: a user by email, a key by name.
func actorLabel(a iogate.Actor, emails, keyNames map[string]string) string {
	switch a.Type {
	case iogate.ActorUser:
		if e := emails[a.ID]; e != "" {
			return e
		}
		return "removed user " + a.ID
	case iogate.ActorClient:
		return "key " + keyLabel(a.ID, keyNames)
	case iogate.ActorOperator:
		return "operator " + a.ID + " (CLI)"
	}
	return a.Type
}

func keyLabel(clientID string, keyNames map[string]string) string {
	if clientID == "" {
		return ""
	}
	if n := keyNames[clientID]; n != "" {
		return n
	}
	return clientID
}

// auditSummary renders a record's reason and details as "name: value" pairs in name order.
func auditSummary(rec *iogate.AuditRecord) string {
	var parts []string
	if rec.Reason != "" {
		parts = append(parts, "reason: "+rec.Reason)
	}
	var details map[string]any
	if len(rec.Details) > 0 && json.Unmarshal(rec.Details, &details) == nil {
		names := make([]string, 0, len(details))
		for k := range details {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			v := details[k]
			text, ok := v.(string)
			if !ok {
				b, _ := json.Marshal(v)
				text = string(b)
			}
			parts = append(parts, k+": "+text)
		}
	}
	s := strings.Join(parts, "; ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}

// handleAuditExport sends the account's records that the filters select, oldest first, as
// a CSV or JSON download. exportLimit bounds the exports that run at once. A store that
// fails or stops responding before anything has been sent gets the error page. After that,
// the download breaks off and the log records why.
func (d *Dashboard) handleAuditExport(w http.ResponseWriter, r *http.Request, c *user.Current) error {
	filter, err := auditQuery(r, c.Account.ID)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	write, contentType := iogate.WriteAuditJSON, "application/json"
	switch format {
	case "json":
	case "csv":
		write, contentType = iogate.WriteAuditCSV, "text/csv; charset=utf-8"
	default:
		return iogate.Errorf(iogate.CodeInvalid, "Invalid export format %s: use csv or json.", iogate.QuoteInput(format))
	}
	done, err := d.exports.start(c.User.ID)
	if err != nil {
		return err
	}
	defer done()
	name := fmt.Sprintf("iogate-audit-%s-%s.%s", c.Account.ID, d.users.Now().UTC().Format("20060102T150405Z"), format)
	d.record(r, c.User, c.Account.ID, iogate.AuditLogExported, map[string]any{"format": format, "filter": filterQuery(filter)})
	out := &exportWriter{w: w, contentType: contentType, filename: name}
	bound := storeBoundFrom(r.Context())
	err = write(out, func(fn func(*iogate.AuditRecord) error) error {
		return iogate.EachAuditRecord(r.Context(), d.cfg.Store, c.Account.ID, func(rec *iogate.AuditRecord) error {
			// Each record shows that the store still responds, filtered out or not.
			bound.extend()
			out.flow()
			if !filter.Matches(rec) {
				return nil
			}
			return fn(rec)
		})
	})
	clientGone := out.err != nil || r.Context().Err() != nil && !auth.StoreTimedOut(r.Context())
	switch {
	case err == nil:
		out.finish()
	// A client that went away is no failure of the server, and an error-level line for it
	// would let any signed-in user raise error alerts at will.
	case clientGone:
		d.log.InfoContext(r.Context(), "audit export aborted by the client", "account_id", c.Account.ID, "error", err,
			"request_id", requestIDFrom(r.Context()))
	case !out.sent:
		return err
	// The status line is sent already, so the log is the only place left to tell.
	default:
		d.log.ErrorContext(r.Context(), "audit export failed", "account_id", c.Account.ID, "error", auth.StoreError(r.Context(), err),
			"request_id", requestIDFrom(r.Context()))
	}
	return nil
}

// exportWriter passes an export to the response. Until the store has returned a record, it
// buffers what the export writes, so that a store that fails first leaves the response free
// for the error page. It sets the download's headers with the first byte it sends, and
// keeps the first write error. Writes fail only when the connection is gone or the client
// stopped reading until the server's write timeout, so such an error is the client's, not
// the store's.
type exportWriter struct {
	w           http.ResponseWriter
	contentType string
	filename    string

	// flowing is set once the store has returned a record: from then on every write
	// goes to the response.
	flowing  bool
	buffered []byte
	// sent is set once a write has reached the response, headers included.
	sent bool
	err  error
}

// flow writes what the export buffered and lets every later write through.
func (e *exportWriter) flow() {
	if e.flowing {
		return
	}
	e.flowing = true
	buffered := e.buffered
	e.buffered = nil
	if len(buffered) > 0 {
		e.Write(buffered)
	}
}

// finish sends what is left of an export that completed, the headers at least.
func (e *exportWriter) finish() {
	e.flow()
	if !e.sent {
		e.Write(nil)
	}
}

func (e *exportWriter) Write(p []byte) (int, error) {
	if !e.flowing {
		e.buffered = append(e.buffered, p...)
		return len(p), nil
	}
	if !e.sent {
		e.sent = true
		h := e.w.Header()
		h.Set("Content-Type", e.contentType)
		h.Set("Content-Disposition", `attachment; filename="`+e.filename+`"`)
	}
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
