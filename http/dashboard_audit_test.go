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
// key.created and key.deleted records.
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
	if !strings.Contains(body, "key "+k.ClientID) {
		t.Errorf("the audit page does not name the deleted key by its client ID %s", k.ClientID)
	}
}

// goneClient is a response whose connection was closed: every write fails.
type goneClient struct {
	header http.Header
}

func (g *goneClient) Header() http.Header       { return g.header }
func (g *goneClient) WriteHeader(int)           {}
func (g *goneClient) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

// failingExportStore is the real store with one fault added: AuditRecords fails after it
// has passed on after records, as a database that goes away during an export.
type failingExportStore struct {
	iogate.Store
	after int
}

func (s *failingExportStore) AuditRecords(ctx context.Context, accountID string, fn func(*iogate.AuditRecord) error) error {
	passed := 0
	return s.Store.AuditRecords(ctx, accountID, func(r *iogate.AuditRecord) error {
		if passed == s.after {
			return errors.New("read audit records: connection reset by the test")
		}
		passed++
		return fn(r)
	})
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

// slowExportStore is the real store with one delay added: AuditRecords waits delay before
// it passes on each record, as a database reading a long log does.
type slowExportStore struct {
	iogate.Store
	delay time.Duration
}

func (s *slowExportStore) AuditRecords(ctx context.Context, accountID string, fn func(*iogate.AuditRecord) error) error {
	return s.Store.AuditRecords(ctx, accountID, func(r *iogate.AuditRecord) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.delay):
		}
		return fn(r)
	})
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

// gatedExportStore is the real store with one pause added: AuditRecords announces on
// entered that an export has begun reading, then waits until release is closed.
type gatedExportStore struct {
	iogate.Store
	entered chan string
	release chan struct{}
}

func (s *gatedExportStore) AuditRecords(ctx context.Context, accountID string, fn func(*iogate.AuditRecord) error) error {
	s.entered <- accountID
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.release:
	}
	return s.Store.AuditRecords(ctx, accountID, fn)
}

// TestAuditExportOneAtATime checks that an account runs one audit export at a time and the
// process at most maxExports: a further export gets the rate-limited error, before any
// record of it is written, and the places are free again once the exports end.
func TestAuditExportOneAtATime(t *testing.T) {
	gate := &gatedExportStore{entered: make(chan string), release: make(chan struct{})}
	h := newDashboardHarnessOn(t, 0, func(db iogate.Store) iogate.Store { gate.Store = db; return gate })
	accounts := []*user.Current{h.current()}
	for i := range maxExports {
		a := &iogate.Account{ID: iogate.NewID(), Name: fmt.Sprintf("Other %d", i), Email: fmt.Sprintf("ops%d@other.test", i),
			Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
		createAccount(t, h.auth, gate.Store, a)
		owner := &iogate.User{ID: iogate.NewID(), AccountID: a.ID, Email: fmt.Sprintf("owner%d@other.test", i), Role: iogate.RoleOwner}
		c := h.current()
		c.Account, c.User = a, owner
		accounts = append(accounts, c)
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

	// The first maxExports accounts start an export each, which waits in the store.
	results := make(chan error, maxExports)
	for _, c := range accounts[:maxExports] {
		go func() {
			rec, err := export(c)
			if err == nil && rec.Code != http.StatusOK {
				err = fmt.Errorf("status %d", rec.Code)
			}
			results <- err
		}()
		<-gate.entered
	}

	for _, c := range []struct {
		name    string
		current *user.Current
		want    error
	}{
		{"same account", accounts[0], errExportRunning},
		{"process full", accounts[maxExports], errExportsBusy},
	} {
		before := exported(c.current)
		_, err := export(c.current)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: export while %d run returned %v, want %q", c.name, maxExports, err, c.want)
		}
		if code := iogate.ErrorCodeOf(err); statusOf[code] != http.StatusTooManyRequests {
			t.Errorf("%s: code %q maps to status %d, want 429", c.name, code, statusOf[code])
		}
		if after := exported(c.current); after != before {
			t.Errorf("%s: the rejected export added %d audit.exported records, want none", c.name, after-before)
		}
	}

	close(gate.release)
	for range maxExports {
		if err := <-results; err != nil {
			t.Errorf("an export that held a place failed: %v", err)
		}
	}
	// Every place is free again: each account exports, one after another.
	go func() {
		for range gate.entered {
		}
	}()
	defer close(gate.entered)
	for i, c := range accounts {
		rec, err := export(c)
		if err != nil || rec.Code != http.StatusOK {
			t.Errorf("account %d: export after the others ended: status %d, error %v", i, rec.Code, err)
		}
	}
}
