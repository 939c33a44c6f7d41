package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/user"
)

// auditPage renders the audit page for target as the harness's owner.
func (h *dashboardHarness) auditPage(t *testing.T, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.d.handleAudit(rec, httptest.NewRequest(http.MethodGet, target, nil), h.current()); err != nil {
		t.Fatalf("handleAudit(%s): %v", target, err)
	}
	return rec.Code, rec.Body.String()
}

// TestAuditPageFiltersEveryEvent checks that the audit page offers and accepts every event
// iogate records, those of account and vault creation and of key exposure included.
func TestAuditPageFiltersEveryEvent(t *testing.T) {
	h := newDashboardHarness(t, 0)
	_, page := h.auditPage(t, "/dashboard/audit")
	for _, event := range iogate.AuditEvents {
		if !strings.Contains(page, `<option value="`+event+`"`) {
			t.Errorf("the event filter does not offer %s", event)
		}
		if status, _ := h.auditPage(t, "/dashboard/audit?event="+event); status != http.StatusOK {
			t.Errorf("audit page filtered by %s: status %d, want 200", event, status)
		}
	}
	status, body := h.auditPage(t, "/dashboard/audit?event="+iogate.AuditAccountCreated)
	if status != http.StatusOK || !strings.Contains(body, `data-label="Actor">operator tester (CLI)<`) {
		t.Errorf("audit page filtered by account.created: status %d, want the harness account's record by the operator", status)
	}
}

// TestAuditPageNamesDeletedKeyNotVault checks that a vault.created record of a deleted key
// does not lend the vault's name to the key: the page names a deleted key only from its own
// key.deleted record, also on a page that does not list that record.
func TestAuditPageNamesDeletedKeyNotVault(t *testing.T) {
	h := newDashboardHarness(t, 0)
	ctx := context.Background()
	k, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "writer"})
	if err != nil {
		t.Fatal(err)
	}
	v := &iogate.Vault{ID: iogate.NewID(), AccountID: h.account.ID, Name: "Treasury", Threshold: 2, Status: iogate.VaultActive, CreatedAt: time.Now().UTC()}
	rec, err := h.auth.AuditChain().NewVaultCreatedRecord(v, iogate.Actor{Type: iogate.ActorClient, ID: k.ClientID, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.d.cfg.Store.CreateVault(ctx, v, rec); err != nil {
		t.Fatal(err)
	}
	if err := h.auth.DeleteKey(ctx, k.ClientID); err != nil {
		t.Fatal(err)
	}

	status, body := h.auditPage(t, "/dashboard/audit?event="+iogate.AuditVaultCreated)
	if status != http.StatusOK {
		t.Fatalf("audit page filtered by vault.created: status %d", status)
	}
	if strings.Contains(body, "key Treasury") {
		t.Error("the audit page names the deleted key after the vault it created")
	}
	if !strings.Contains(body, "key writer") {
		t.Error("the audit page does not name the deleted key writer from its key.deleted record")
	}
}

// TestAuditKeyMenuDeletedKeys checks that the audit page's key menu offers a deleted key,
// marked as deleted, and selects a key that a link names even when the menu lacks it.
func TestAuditKeyMenuDeletedKeys(t *testing.T) {
	h := newDashboardHarness(t, 0)
	ctx := context.Background()
	liveKey, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "live"})
	if err != nil {
		t.Fatal(err)
	}
	deletedKey, _, err := h.auth.CreateKey(ctx, auth.CreateKeyRequest{AccountID: h.account.ID, Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.auth.DeleteKey(ctx, deletedKey.ClientID); err != nil {
		t.Fatal(err)
	}
	option := func(clientID, name string, selected bool) string {
		attr := ""
		if selected {
			attr = " selected"
		}
		return `<option value="` + clientID + `"` + attr + `>` + name + `</option>`
	}

	_, body := h.auditPage(t, "/dashboard/audit")
	for _, want := range []string{option(liveKey.ClientID, "live", false), option(deletedKey.ClientID, "gone (deleted)", false)} {
		if !strings.Contains(body, want) {
			t.Errorf("the key menu lacks %s", want)
		}
	}
	_, body = h.auditPage(t, "/dashboard/audit?key="+deletedKey.ClientID)
	if want := option(deletedKey.ClientID, "gone (deleted)", true); !strings.Contains(body, want) {
		t.Errorf("the page filtered by the deleted key does not select it: want %s", want)
	}
	unknown := iogate.NewClientID()
	_, body = h.auditPage(t, "/dashboard/audit?key="+unknown)
	if want := option(unknown, unknown, true); !strings.Contains(body, want) {
		t.Errorf("the page filtered by a key outside the menu does not select it: want %s", want)
	}
}

// goneClient is a response whose connection was closed: every write fails.
type goneClient struct {
	header http.Header
}

func (g *goneClient) Header() http.Header       { return g.header }
func (g *goneClient) WriteHeader(int)           {}
func (g *goneClient) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

// failingExportStore is the real store with one fault added: the export's first page of
// records holds at most after records, and reading the next page fails, as a database that
// goes away during an export.
type failingExportStore struct {
	iogate.Store
	after int
}

func (s *failingExportStore) AuditRecordsAfter(ctx context.Context, accountID string, after int64, limit int) ([]*iogate.AuditRecord, error) {
	if after > 0 {
		return nil, errors.New("read audit records: connection reset by the test")
	}
	return s.Store.AuditRecordsAfter(ctx, accountID, after, min(limit, s.after))
}

// TestAuditExportAbortLogLevel checks that an export that the client aborts, by closing the
// connection or by cancelling the request, is logged at info level, and that an export that
// the store fails after part of it was sent is logged at error level.
func TestAuditExportAbortLogLevel(t *testing.T) {
	const failed, aborted = "audit export failed", "audit export aborted by the client"
	cases := []struct {
		name string
		wrap func(iogate.Store) iogate.Store
		// keys is how many keys the case creates, each with its key.created record.
		keys  int
		abort func(h *dashboardHarness, r *http.Request) (http.ResponseWriter, *http.Request)
		msg   string
		level string
	}{
		{"closed connection", nil, 0, func(h *dashboardHarness, r *http.Request) (http.ResponseWriter, *http.Request) {
			return &goneClient{header: http.Header{}}, r
		}, aborted, "INFO"},
		{"cancelled request", nil, 0, func(h *dashboardHarness, r *http.Request) (http.ResponseWriter, *http.Request) {
			ctx, cancel := context.WithCancel(r.Context())
			cancel()
			return httptest.NewRecorder(), r.WithContext(ctx)
		}, aborted, "INFO"},
		// The CSV writer buffers 4 KiB, which 30 records of about 300 bytes exceed, so
		// both formats have sent part of the export when the store fails.
		{"store failure", func(db iogate.Store) iogate.Store { return &failingExportStore{Store: db, after: 30} }, 40,
			func(h *dashboardHarness, r *http.Request) (http.ResponseWriter, *http.Request) {
				return httptest.NewRecorder(), r
			}, failed, "ERROR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wrap := c.wrap
			if wrap == nil {
				wrap = func(db iogate.Store) iogate.Store { return db }
			}
			h := newDashboardHarnessOn(t, 0, wrap)
			for range c.keys {
				if _, _, err := h.auth.CreateKey(context.Background(), auth.CreateKeyRequest{AccountID: h.account.ID, Name: "k"}); err != nil {
					t.Fatal(err)
				}
			}
			var logs logBuffer
			h.d.log = slog.New(slog.NewJSONHandler(&logs, nil))
			for _, format := range []string{"json", "csv"} {
				w, r := c.abort(h, httptest.NewRequest(http.MethodGet, "/dashboard/audit/export?format="+format, nil))
				if err := h.d.handleAuditExport(w, r, h.current()); err != nil {
					t.Fatalf("handleAuditExport(%s): %v", format, err)
				}
			}
			lines := logs.records(t, failed, aborted)
			if len(lines) != 2 {
				t.Fatalf("export log lines = %d, want one for each format", len(lines))
			}
			for _, line := range lines {
				if line["msg"] != c.msg || line["level"] != c.level {
					t.Errorf("export logged %q at %v, want %q at %s", line["msg"], line["level"], c.msg, c.level)
				}
				if line["account_id"] != h.account.ID {
					t.Errorf("export log line names account %v, want %s", line["account_id"], h.account.ID)
				}
			}
		})
	}
}

// TestAuditExportStoreFailureBeforeRecords checks that an export whose store fails before
// the first record returns the error, for the error page, and has sent nothing: no body
// and no download header.
func TestAuditExportStoreFailureBeforeRecords(t *testing.T) {
	for _, format := range []string{"json", "csv"} {
		t.Run(format, func(t *testing.T) {
			h := newDashboardHarness(t, 0)
			if err := h.d.cfg.Store.Close(); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			err := h.d.handleAuditExport(rec, httptest.NewRequest(http.MethodGet, "/dashboard/audit/export?format="+format, nil), h.current())
			if err == nil {
				t.Fatal("handleAuditExport on a closed store returned no error")
			}
			if rec.Body.Len() != 0 {
				t.Errorf("the failed export wrote %d body bytes, want none", rec.Body.Len())
			}
			if got := rec.Header().Get("Content-Disposition"); got != "" {
				t.Errorf("the failed export set Content-Disposition %q, which would turn the error page into a download", got)
			}
		})
	}
}

// slowExportStore is the real store with one delay added: each page of an export holds
// one record and takes delay to read, as a database reading a long log does.
type slowExportStore struct {
	iogate.Store
	delay time.Duration
}

func (s *slowExportStore) AuditRecordsAfter(ctx context.Context, accountID string, after int64, limit int) ([]*iogate.AuditRecord, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(s.delay):
	}
	return s.Store.AuditRecordsAfter(ctx, accountID, after, 1)
}

// TestAuditExportExtendsStoreBound checks that an export that takes longer than the store
// timeout, while its records keep arriving within it, sends every record: the bound ends
// only a store that stops responding.
func TestAuditExportExtendsStoreBound(t *testing.T) {
	const timeout = 200 * time.Millisecond
	h := newDashboardHarnessOn(t, 0, func(db iogate.Store) iogate.Store { return &slowExportStore{Store: db, delay: timeout / 2} })
	for range 4 {
		if _, _, err := h.auth.CreateKey(context.Background(), auth.CreateKeyRequest{AccountID: h.account.ID, Name: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	var logs logBuffer
	h.d.log = slog.New(slog.NewJSONHandler(&logs, nil))

	ctx, bound := newStoreBound(context.Background(), timeout)
	defer bound.stop()
	rec := httptest.NewRecorder()
	start := time.Now()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/dashboard/audit/export?format=json", nil)
	if err := h.d.handleAuditExport(rec, r, h.current()); err != nil {
		t.Fatalf("handleAuditExport: %v", err)
	}
	took := time.Since(start)

	var records []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &records); err != nil {
		t.Fatalf("the export is not a JSON array: %v", err)
	}
	// account.created, four key.created and the export's own audit.exported.
	if len(records) != 6 {
		t.Errorf("the export has %d records, want 6", len(records))
	}
	if took <= timeout {
		t.Errorf("the export took %s, not longer than the store timeout %s, so it does not show that records extend the bound", took, timeout)
	}
	if lines := logs.records(t, "audit export failed"); len(lines) != 0 {
		t.Errorf("the export logged %d failures, want none", len(lines))
	}
}

// gatedExportStore is the real store with one pause added: before an export reads its
// first page of records, it announces its account on entered, then waits until release is
// closed.
type gatedExportStore struct {
	iogate.Store
	entered chan string
	release chan struct{}
}

func (s *gatedExportStore) AuditRecordsAfter(ctx context.Context, accountID string, after int64, limit int) ([]*iogate.AuditRecord, error) {
	if after == 0 {
		s.entered <- accountID
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.release:
		}
	}
	return s.Store.AuditRecordsAfter(ctx, accountID, after, limit)
}

// TestAuditExportPlacesPerUser checks that a user runs at most maxExportsPerUser audit
// exports at once and the process at most maxExports. A further export gets the
// rate-limited error before any record of it is written. A user at the bound keeps no other
// member of the account from exporting, and the places are free again once the exports end.
func TestAuditExportPlacesPerUser(t *testing.T) {
	gate := &gatedExportStore{entered: make(chan string), release: make(chan struct{})}
	h := newDashboardHarnessOn(t, 0, func(db iogate.Store) iogate.Store { gate.Store = db; return gate })
	owner := h.current()
	viewer := h.current()
	viewer.User = &iogate.User{ID: iogate.NewID(), AccountID: h.account.ID, Email: "viewer@acme.test", Role: iogate.RoleViewer}
	// The owner and the viewer take three places. The others take the rest, two each, and
	// the last one's export finds the process full.
	others := make([]*user.Current, (maxExports-3+maxExportsPerUser-1)/maxExportsPerUser+1)
	for i := range others {
		a := &iogate.Account{ID: iogate.NewID(), Name: fmt.Sprintf("Other %d", i), Email: fmt.Sprintf("ops%d@other.test", i),
			Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
		createAccount(t, h.auth, gate.Store, a)
		c := h.current()
		c.Account = a
		c.User = &iogate.User{ID: iogate.NewID(), AccountID: a.ID, Email: fmt.Sprintf("owner%d@other.test", i), Role: iogate.RoleOwner}
		others[i] = c
	}
	export := func(c *user.Current) (*httptest.ResponseRecorder, error) {
		rec := httptest.NewRecorder()
		err := h.d.handleAuditExport(rec, httptest.NewRequest(http.MethodGet, "/dashboard/audit/export?format=json", nil), c)
		return rec, err
	}
	exported := func(c *user.Current) int {
		t.Helper()
		n := 0
		err := gate.Store.AuditRecords(context.Background(), c.Account.ID, func(r *iogate.AuditRecord) error {
			if r.Event == iogate.AuditLogExported {
				n++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	results := make(chan error, maxExports+1)
	// begin starts an export by c that waits in the store until the gate opens. An export
	// rejected before it reaches the store fails the test.
	begin := func(c *user.Current) {
		t.Helper()
		go func() {
			rec, err := export(c)
			if err == nil && rec.Code != http.StatusOK {
				err = fmt.Errorf("status %d", rec.Code)
			}
			results <- err
		}()
		select {
		case <-gate.entered:
		case err := <-results:
			t.Fatalf("an export that should hold a place ended at once: %v", err)
		}
	}
	rejected := func(name string, c *user.Current, want error) {
		t.Helper()
		before := exported(c)
		_, err := export(c)
		if !errors.Is(err, want) {
			t.Errorf("%s: export returned %v, want %q", name, err, want)
		}
		if code := iogate.ErrorCodeOf(err); statusOf[code] != http.StatusTooManyRequests {
			t.Errorf("%s: code %q maps to status %d, want 429", name, code, statusOf[code])
		}
		if after := exported(c); after != before {
			t.Errorf("%s: the rejected export added %d audit.exported records, want none", name, after-before)
		}
	}

	for range maxExportsPerUser {
		begin(owner)
	}
	rejected("user at the bound", owner, errExportsOfUser)
	// The viewer of the same account and users of other accounts still export, until the
	// process is full.
	begin(viewer)
	places := maxExports - maxExportsPerUser - 1
	for _, c := range others[:len(others)-1] {
		for range min(maxExportsPerUser, places) {
			begin(c)
			places--
		}
	}
	if places != 0 {
		t.Fatalf("the test left %d places free, want none", places)
	}
	rejected("process full", others[len(others)-1], errExportsBusy)

	close(gate.release)
	for range maxExports {
		if err := <-results; err != nil {
			t.Errorf("an export that held a place failed: %v", err)
		}
	}
	// Every place is free again: each user exports, one after another.
	go func() {
		for range gate.entered {
		}
	}()
	defer close(gate.entered)
	for i, c := range append([]*user.Current{owner, viewer}, others...) {
		rec, err := export(c)
		if err != nil || rec.Code != http.StatusOK {
			t.Errorf("user %d: export after the others ended: status %d, error %v", i, rec.Code, err)
		}
	}
}
