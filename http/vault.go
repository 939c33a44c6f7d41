package http

import (
	"context"
	"net/http"
	"strconv"
	"strings"
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
// vault out with 201 and its URL in Location. A request with an Idempotency-Key header that
// the account used before creates nothing. With the name and threshold of the first request
// it gets the same response, marked by Idempotent-Replayed, and otherwise CodeConflict.
func (s *Server) handleCreateVault(w http.ResponseWriter, r *http.Request) error {
	ascii, err := requireMediaType(r, "application/json", iogate.CodeUnsupportedMediaType, "invalid Content-Type: send the body as application/json")
	if err != nil {
		return err
	}
	key, err := idempotencyKeyFrom(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, maxBodyBytes)
	if err != nil {
		return err
	}
	if err := s.reverifyBearer(w, r); err != nil {
		return err
	}
	if err := requireASCIIJSON(ascii, body); err != nil {
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
	stored, created, err := s.createVault(r.Context(), v, key, rec)
	if err != nil {
		return err
	}
	if created {
		// This process serves the new vault on the next request, without waiting for the
		// change feed that notifies the other processes.
		s.vaults.drop(iogate.KeyChange{Kind: iogate.ChangeVaults, AccountID: v.AccountID})
	} else {
		if stored.Name != v.Name || stored.Threshold != v.Threshold {
			return iogate.Errorf(iogate.CodeConflict, "Idempotency-Key %s was already used to create vault %s with another name or threshold: "+
				"send a new key to create another vault", iogate.QuoteInput(key), stored.ID)
		}
		w.Header().Set(idempotentReplayedHeader, "true")
	}
	w.Header().Set("Location", "/v1/vaults/"+stored.ID)
	writeJSON(w, http.StatusCreated, "application/json", stored)
	return nil
}

// createVault stores v with its audit record and idempotency key (none when key is empty),
// waiting at most the store timeout. It returns the stored vault and whether this call
// created it, as iogate.Store.CreateVaultOnce does. When the wait times out, the vault may
// still have been created, as with any write whose acknowledgement is lost. So the error
// is CodeOutcomeUnknown (504) rather than the 503 that means nothing was done. The Go
// client retries a 504 only for a request with an idempotency key, because without one a
// retry could create a second vault.
func (s *Server) createVault(ctx context.Context, v *iogate.Vault, key string, rec *iogate.AuditRecord) (*iogate.Vault, bool, error) {
	ctx, cancel := s.auth.WithStoreTimeout(ctx)
	defer cancel()
	stored, created, err := s.store.CreateVaultOnce(ctx, v, key, rec)
	err = auth.StoreError(ctx, err)
	if auth.StoreTimedOut(ctx) && iogate.ErrorCodeOf(err) == iogate.CodeUnavailable {
		next := "List the vaults before you send the request again. Send an Idempotency-Key header with creations, " +
			"so that a repeat returns the vault instead of creating another"
		if key != "" {
			next = "Send the same request with the same Idempotency-Key header again: it returns the vault if it exists and creates it otherwise"
		}
		return nil, false, iogate.WrapError(iogate.CodeOutcomeUnknown, err, "the database did not confirm the new vault within "+
			iogate.FormatDuration(s.auth.StoreTimeout())+": it may or may not exist. "+next)
	}
	return stored, created, err
}

// Headers of idempotent vault creation. A request's idempotencyKeyHeader names the
// creation, so that a repeat of the request returns the vault that the first one created.
// The response to such a repeat carries idempotentReplayedHeader.
const (
	idempotencyKeyHeader     = "Idempotency-Key"
	idempotentReplayedHeader = "Idempotent-Replayed"
)

// idempotencyKeyFrom returns the request's Idempotency-Key header, or "" when it has none.
// It rejects a repeated header, and a value that iogate.ValidateIdempotencyKey rejects.
// Spaces and tabs at either end are not part of the key (RFC 9110 section 5.5). Go's
// HTTP/1.1 server drops them before the handler runs, but its HTTP/2 server keeps them,
// so without the trim one request would name two keys, depending on the protocol.
func idempotencyKeyFrom(r *http.Request) (string, error) {
	values := r.Header.Values(idempotencyKeyHeader)
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", iogate.Errorf(iogate.CodeInvalid, "repeated Idempotency-Key header: send one key per request")
	}
	key := strings.Trim(values[0], " \t")
	if err := iogate.ValidateIdempotencyKey("Idempotency-Key header", key); err != nil {
		return "", err
	}
	return key, nil
}
