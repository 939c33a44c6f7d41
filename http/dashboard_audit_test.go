package http

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
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

// TestAuditExportAbortLogLevel checks that an export that the client aborts, by closing the
// connection or by cancelling the request, is logged at info level, and that an export that
// the store fails is logged at error level.
func TestAuditExportAbortLogLevel(t *testing.T) {
	const failed, aborted = "audit export failed", "audit export aborted by the client"
	cases := []struct {
		name  string
		abort func(h *dashboardHarness, r *http.Request) (http.ResponseWriter, *http.Request)
		msg   string
		level string
	}{
		{"closed connection", func(h *dashboardHarness, r *http.Request) (http.ResponseWriter, *http.Request) {
			return &goneClient{header: http.Header{}}, r
		}, aborted, "INFO"},
		{"cancelled request", func(h *dashboardHarness, r *http.Request) (http.ResponseWriter, *http.Request) {
			ctx, cancel := context.WithCancel(r.Context())
			cancel()
			return httptest.NewRecorder(), r.WithContext(ctx)
		}, aborted, "INFO"},
		{"store failure", func(h *dashboardHarness, r *http.Request) (http.ResponseWriter, *http.Request) {
			if err := h.d.cfg.Store.Close(); err != nil {
				t.Fatal(err)
			}
			return httptest.NewRecorder(), r
		}, failed, "ERROR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newDashboardHarness(t, 0)
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
