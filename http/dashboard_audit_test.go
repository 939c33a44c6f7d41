package http

import (
	"context"
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
