package http

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// TestPendingSeedHiddenAfterInterval checks that the security page and the QR code show
// the seed of an unfinished enrolment until the session's confirmation is as old as the
// confirmation interval, five minutes here, and not from then on.
func TestPendingSeedHiddenAfterInterval(t *testing.T) {
	h := newDashboardHarness(t, 90*24*time.Hour)
	h.owner.CreatedAt = h.now.UTC().Truncate(time.Microsecond)
	h.owner.UpdatedAt = h.owner.CreatedAt
	if err := h.d.cfg.Store.CreateUser(context.Background(), h.owner); err != nil {
		t.Fatal(err)
	}
	c := h.current()
	rec, err := h.postForm(t, h.d.handleBeginTOTP, "/dashboard/security/totp", "", url.Values{}, c)
	if err != nil || rec.Code != http.StatusSeeOther {
		t.Fatalf("begin TOTP within the interval: status %d, error %v; want 303", rec.Code, err)
	}
	pending, err := h.d.users.PendingTOTP(c)
	if err != nil {
		t.Fatalf("PendingTOTP right after the enrolment began: %v", err)
	}
	seed := pending.Secret()

	securityPage := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		if err := h.d.handleSecurity(rec, httptest.NewRequest(http.MethodGet, "/dashboard/security", nil), c); err != nil {
			t.Fatalf("handleSecurity: %v", err)
		}
		return rec.Body.String()
	}
	qrCode := func() (*httptest.ResponseRecorder, error) {
		rec := httptest.NewRecorder()
		return rec, h.d.handleTOTPQR(rec, httptest.NewRequest(http.MethodGet, "/dashboard/security/totp/qr.png", nil), c)
	}

	h.now = h.now.Add(5*time.Minute - time.Second)
	if !strings.Contains(securityPage(), `id="totp-secret">`+seed+`<`) {
		t.Error("the security page does not show the seed 1s before the interval ends")
	}
	if rec, err := qrCode(); err != nil || rec.Header().Get("Content-Type") != "image/png" {
		t.Errorf("QR code 1s before the interval ends: type %q, error %v; want a PNG", rec.Header().Get("Content-Type"), err)
	}

	h.now = h.now.Add(time.Second)
	page := securityPage()
	if strings.Contains(page, seed) || strings.Contains(page, "qr.png") {
		t.Error("the security page shows the seed or its QR code once the interval has passed")
	}
	if !strings.Contains(page, "Start the setup again to get a new key") {
		t.Error("the security page does not say to start the setup again")
	}
	rec, err = qrCode()
	if iogate.ErrorCodeOf(err) != iogate.CodeForbidden || rec.Body.Len() != 0 {
		t.Errorf("QR code once the interval has passed: %d bytes, error %v; want none and CodeForbidden", rec.Body.Len(), err)
	}
}
