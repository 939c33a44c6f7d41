package http

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
)

// listResponse is the shape of every list: a page of data and the cursor of the next page,
// absent on the last page.
type listResponse[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// pageFrom reads ?limit= and ?cursor=, each at most once.
func pageFrom(r *http.Request) (iogate.Page, error) {
	// GET /v1/vaults without parameters is a hot path: it returns before any parsing.
	if r.URL.RawQuery == "" {
		return iogate.Page{Limit: iogate.DefaultPageLimit}, nil
	}
	q, err := queryValues(r)
	if err != nil {
		return iogate.Page{}, err
	}
	p := iogate.Page{Limit: iogate.DefaultPageLimit, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > iogate.MaxPageLimit {
			return p, iogate.Errorf(iogate.CodeInvalid, "invalid limit %s: expected a number from 1 to %d", iogate.QuoteInput(v), iogate.MaxPageLimit)
		}
		p.Limit = n
	}
	if len(p.Cursor) > 200 {
		return p, iogate.Errorf(iogate.CodeInvalid, "invalid cursor: use the nextCursor value of the previous page")
	}
	return p, nil
}

// handleListVaults serves GET /v1/vaults: the caller's account's vaults, oldest first.
func (s *Server) handleListVaults(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	// Vault cursors are vault IDs; anything else was not issued by this server.
	if page.Cursor != "" && !iogate.ValidClientID(page.Cursor) {
		return iogate.Errorf(iogate.CodeInvalid, "invalid cursor: use the nextCursor value of the previous page")
	}
	p := principalFrom(r.Context())
	body, err := s.vaults.body(p.AccountID, vaultListKey(page), func() ([]byte, error) {
		// Only a cache miss waits on the store, so only it gets the bound.
		ctx, cancel := s.auth.WithStoreTimeout(r.Context())
		defer cancel()
		vaults, next, err := s.store.ListVaults(ctx, p.AccountID, page)
		if err != nil {
			return nil, auth.StoreError(ctx, err)
		}
		resp := listResponse[*iogate.Vault]{Data: vaults, NextCursor: next}
		if resp.Data == nil {
			resp.Data = []*iogate.Vault{}
		}
		return encodeJSON(resp)
	})
	if err != nil {
		return err
	}
	writeEncoded(w, http.StatusOK, "application/json", body)
	return nil
}

// handleGetVault serves GET /v1/vaults/{id}. Another account's vault is 404, the same as a
// vault that does not exist.
func (s *Server) handleGetVault(w http.ResponseWriter, r *http.Request) error {
	// The endpoint reads no parameters, but a repeated one is rejected on every /v1 GET.
	if _, err := queryValues(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	notFound := iogate.Errorf(iogate.CodeNotFound, "vault not found")
	if !iogate.ValidClientID(id) {
		return notFound
	}
	accountID := principalFrom(r.Context()).AccountID
	body, err := s.vaults.body(accountID, vaultKey(id), func() ([]byte, error) {
		ctx, cancel := s.auth.WithStoreTimeout(r.Context())
		defer cancel()
		v, err := s.store.FindVault(ctx, accountID, id)
		if err != nil {
			return nil, auth.StoreError(ctx, err)
		}
		return encodeJSON(v)
	})
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		return notFound
	}
	if err != nil {
		return err
	}
	writeEncoded(w, http.StatusOK, "application/json", body)
	return nil
}

// handleCreateVault serves POST /v1/vaults: JSON {"name": "...", "threshold": N} in, the new
// vault out with 201 and its URL in Location.
func (s *Server) handleCreateVault(w http.ResponseWriter, r *http.Request) error {
	if err := requireMediaType(r, "application/json", iogate.CodeUnsupportedMediaType, "invalid Content-Type: send the body as application/json"); err != nil {
		return err
	}
	body, err := readBody(w, r, maxBodyBytes)
	if err != nil {
		return err
	}
	fields, err := decodeStrict(body, jsonField{"name", jsonString}, jsonField{"threshold", jsonInteger})
	if err != nil {
		return err
	}
	for _, name := range []string{"name", "threshold"} {
		if _, ok := fields[name]; !ok {
			return iogate.Errorf(iogate.CodeInvalid, "missing field %q: the body must be {\"name\": \"...\", \"threshold\": N}", name)
		}
	}

	p := principalFrom(r.Context())
	v := &iogate.Vault{
		ID:        iogate.NewID(),
		AccountID: p.AccountID,
		Name:      fields["name"].(string),
		Threshold: fields["threshold"].(int),
		Status:    iogate.VaultActive,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	if err := v.Validate(); err != nil {
		return err
	}
	actor := iogate.Actor{Type: iogate.ActorClient, ID: p.ClientID, IP: clientAddr(r).String()}
	rec, err := s.auth.AuditChain().NewVaultCreatedRecord(v, actor)
	if err != nil {
		return err
	}
	rec.TokenID = p.TokenID
	if err := s.createVault(r.Context(), v, rec); err != nil {
		return err
	}
	// This process serves the new vault on the next request, without waiting for the
	// change feed that tells the others.
	s.vaults.drop(iogate.KeyChange{Kind: iogate.ChangeVaults, AccountID: v.AccountID})
	w.Header().Set("Location", "/v1/vaults/"+v.ID)
	writeJSON(w, http.StatusCreated, "application/json", v)
	return nil
}

// createVault stores v with its audit record, waiting at most the store timeout. When the
// wait times out, the vault may still have been created, as with any write whose
// acknowledgement is lost. So the error is CodeOutcomeUnknown (504), which clients do not
// retry by themselves, rather than the 503 that means nothing was done: a retry could
// create a second vault.
func (s *Server) createVault(ctx context.Context, v *iogate.Vault, rec *iogate.AuditRecord) error {
	ctx, cancel := s.auth.WithStoreTimeout(ctx)
	defer cancel()
	err := auth.StoreError(ctx, s.store.CreateVault(ctx, v, rec))
	if auth.StoreTimedOut(ctx) && iogate.ErrorCodeOf(err) == iogate.CodeUnavailable {
		return iogate.WrapError(iogate.CodeOutcomeUnknown, err, "the database did not confirm the new vault within "+
			iogate.FormatDuration(s.auth.StoreTimeout())+": it may or may not exist; list the vaults before you send the request again")
	}
	return err
}
