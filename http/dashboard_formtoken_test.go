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
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/user"
)

// disconnectingStore is the real store with one fault added: while disconnect is set, it
// cancels the request's context right before a key is created or updated, as a browser
// that closes its connection at that moment does. The write then fails on the real store.
type disconnectingStore struct {
	iogate.Store
	disconnect context.CancelFunc
}

func (s *disconnectingStore) CreateAPIKey(ctx context.Context, k *iogate.APIKey, rec *iogate.AuditRecord) error {
	if s.disconnect != nil {
		s.disconnect()
	}
	return s.Store.CreateAPIKey(ctx, k, rec)
}

func (s *disconnectingStore) UpdateAPIKey(ctx context.Context, clientID string, update func(k *iogate.APIKey) (*iogate.AuditRecord, error)) (*iogate.APIKey, error) {
	if s.disconnect != nil {
		s.disconnect()
	}
	return s.Store.UpdateAPIKey(ctx, clientID, update)
}

// postDisconnecting posts form to handler as postForm does, with a request context that
// the store cancels when the handler writes the key.
func (h *dashboardHarness) postDisconnecting(t *testing.T, store *disconnectingStore, handler pageHandler, path, clientID string, form url.Values, c *user.Current) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store.disconnect = cancel
	defer func() { store.disconnect = nil }()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		r.SetPathValue("id", clientID)
	}
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	return handler(httptest.NewRecorder(), r, c)
}

// TestCreateFormAfterDisconnect checks that a create form whose post ended with the client
// gone, before the key was stored, creates the key when it is posted again, instead of
// reporting that the key was already created.
func TestCreateFormAfterDisconnect(t *testing.T) {
	store := &disconnectingStore{}
	h := newDashboardHarnessOn(t, 90*24*time.Hour, func(db iogate.Store) iogate.Store {
		store.Store = db
		return store
	})
	form := url.Values{"name": {"ci"}, "scope": {"vaults:read"}, "form_token": {h.d.users.NewFormToken(h.current(), createKeyPurpose)}}

	if err := h.postDisconnecting(t, store, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current()); err == nil {
		t.Fatal("post whose client disconnected: no error, want the store's error")
	}
	if n := h.keyCount(t); n != 0 {
		t.Fatalf("%d keys after the post whose client disconnected, want 0", n)
	}
	rec, err := h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current())
	if err != nil || rec.Code != http.StatusOK {
		t.Fatalf("the same form posted again: status %d, error %v; want 200 with the new key", rec.Code, err)
	}
	if !strings.Contains(rec.Body.String(), `id="client-secret"`) {
		t.Error("the form posted again does not show the new secret")
	}
	rec, err = h.postForm(t, h.d.handleCreateKey, "/dashboard/keys", "", form, h.current())
	if err != nil || rec.Code != http.StatusConflict {
		t.Errorf("the form posted a third time, after its key was created: status %d, error %v; want 409", rec.Code, err)
	}
	if n := h.keyCount(t); n != 1 {
		t.Errorf("%d keys after the three posts, want 1", n)
	}
}

// TestRotateFormAfterDisconnect is TestCreateFormAfterDisconnect for the rotation form.
func TestRotateFormAfterDisconnect(t *testing.T) {
	store := &disconnectingStore{}
	h := newDashboardHarnessOn(t, 90*24*time.Hour, func(db iogate.Store) iogate.Store {
		store.Store = db
		return store
	})
	k, _, err := h.auth.CreateKey(context.Background(), auth.CreateKeyRequest{AccountID: h.account.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/dashboard/keys/" + k.ClientID + "/rotate"
	form := url.Values{"grace": {"24h"}, "generation": {"1"}, "form_token": {h.d.users.NewFormToken(h.current(), rotateKeyPurpose(k.ClientID))}}

	if err := h.postDisconnecting(t, store, h.d.handleRotateKey, path, k.ClientID, form, h.current()); err == nil {
		t.Fatal("rotation whose client disconnected: no error, want the store's error")
	}
	rec, err := h.postForm(t, h.d.handleRotateKey, path, k.ClientID, form, h.current())
	if err != nil || rec.Code != http.StatusOK {
		t.Fatalf("the same form posted again: status %d, error %v; want 200 with the new secret", rec.Code, err)
	}
	rec, err = h.postForm(t, h.d.handleRotateKey, path, k.ClientID, form, h.current())
	if err != nil || rec.Code != http.StatusConflict {
		t.Errorf("the form posted a third time, after the rotation: status %d, error %v; want 409", rec.Code, err)
	}
	got, err := h.d.cfg.Store.FindAPIKey(context.Background(), k.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretGeneration != 2 {
		t.Errorf("secret generation after the three posts = %d, want 2 (one rotation)", got.SecretGeneration)
	}
}
