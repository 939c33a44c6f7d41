package metrics

import (
	"context"
	"time"

	"github.com/iogate/iogate"
)

// InstrumentStore returns store with every failed call counted in
// iogate_store_errors_total. Outcomes that callers expect (a missing record, a duplicate,
// invalid input) are not errors of the store and are not counted.
//
// NOTE: methods added to iogate.Store after this file was written pass through the
// embedded interface uncounted until they get a wrapper here.
func InstrumentStore(store iogate.Store, m *Metrics) iogate.Store {
	if m == nil {
		return store
	}
	return &instrumentedStore{Store: store, m: m}
}

type instrumentedStore struct {
	iogate.Store
	m *Metrics
}

// check counts err against op when it is a store failure, and returns it.
func (s *instrumentedStore) check(op string, err error) error {
	switch iogate.ErrorCodeOf(err) {
	case "", iogate.CodeNotFound, iogate.CodeConflict, iogate.CodeInvalid:
	default:
		s.m.StoreError(op)
	}
	return err
}

func (s *instrumentedStore) CreateAccount(ctx context.Context, a *iogate.Account, rec *iogate.AuditRecord) error {
	return s.check("create_account", s.Store.CreateAccount(ctx, a, rec))
}

func (s *instrumentedStore) FindAccountByID(ctx context.Context, id string) (*iogate.Account, error) {
	a, err := s.Store.FindAccountByID(ctx, id)
	return a, s.check("find_account", err)
}

func (s *instrumentedStore) ListAccounts(ctx context.Context, page iogate.Page) ([]*iogate.Account, string, error) {
	a, next, err := s.Store.ListAccounts(ctx, page)
	return a, next, s.check("list_accounts", err)
}

func (s *instrumentedStore) CountAccounts(ctx context.Context) (int, error) {
	n, err := s.Store.CountAccounts(ctx)
	return n, s.check("count_accounts", err)
}

func (s *instrumentedStore) CreateAPIKey(ctx context.Context, k *iogate.APIKey, rec *iogate.AuditRecord) error {
	return s.check("create_api_key", s.Store.CreateAPIKey(ctx, k, rec))
}

func (s *instrumentedStore) FindAPIKey(ctx context.Context, clientID string) (*iogate.APIKey, error) {
	k, err := s.Store.FindAPIKey(ctx, clientID)
	return k, s.check("find_api_key", err)
}

func (s *instrumentedStore) ListAPIKeys(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.APIKey, string, error) {
	keys, next, err := s.Store.ListAPIKeys(ctx, accountID, page)
	return keys, next, s.check("list_api_keys", err)
}

func (s *instrumentedStore) AllAPIKeys(ctx context.Context, fn func(*iogate.APIKey) error) error {
	return s.check("all_api_keys", s.Store.AllAPIKeys(ctx, fn))
}

func (s *instrumentedStore) AllAPIKeyAuth(ctx context.Context, fn func(*iogate.APIKeyAuth) error) error {
	return s.check("all_api_key_auth", s.Store.AllAPIKeyAuth(ctx, fn))
}

func (s *instrumentedStore) UpdateAPIKey(ctx context.Context, clientID string, update func(k *iogate.APIKey) (*iogate.AuditRecord, error)) (*iogate.APIKey, error) {
	k, err := s.Store.UpdateAPIKey(ctx, clientID, update)
	return k, s.check("update_api_key", err)
}

func (s *instrumentedStore) DeleteAPIKey(ctx context.Context, clientID string, rec *iogate.AuditRecord) error {
	return s.check("delete_api_key", s.Store.DeleteAPIKey(ctx, clientID, rec))
}

func (s *instrumentedStore) RecordKeyUse(ctx context.Context, uses []iogate.KeyUse) error {
	return s.check("record_key_use", s.Store.RecordKeyUse(ctx, uses))
}

func (s *instrumentedStore) RevokeToken(ctx context.Context, t *iogate.RevokedToken) error {
	return s.check("revoke_token", s.Store.RevokeToken(ctx, t))
}

func (s *instrumentedStore) ListRevokedTokens(ctx context.Context, clientID string, after time.Time) ([]*iogate.RevokedToken, error) {
	t, err := s.Store.ListRevokedTokens(ctx, clientID, after)
	return t, s.check("list_revoked_tokens", err)
}

func (s *instrumentedStore) DeletedAPIKeys(ctx context.Context, fn func(clientID, accountID string) error) error {
	return s.check("deleted_api_keys", s.Store.DeletedAPIKeys(ctx, fn))
}

func (s *instrumentedStore) AllRevokedTokens(ctx context.Context, after time.Time, fn func(*iogate.RevokedToken) error) error {
	return s.check("all_revoked_tokens", s.Store.AllRevokedTokens(ctx, after, fn))
}

func (s *instrumentedStore) KeyChangesSince(ctx context.Context, seq int64) ([]iogate.KeyChange, error) {
	c, err := s.Store.KeyChangesSince(ctx, seq)
	return c, s.check("key_changes_since", err)
}

func (s *instrumentedStore) LatestKeyChange(ctx context.Context) (int64, error) {
	seq, err := s.Store.LatestKeyChange(ctx)
	return seq, s.check("latest_key_change", err)
}

func (s *instrumentedStore) AppendAuditRecords(ctx context.Context, records []*iogate.AuditRecord) error {
	return s.check("append_audit_records", s.Store.AppendAuditRecords(ctx, records))
}

func (s *instrumentedStore) ListAuditRecords(ctx context.Context, filter iogate.AuditFilter, page iogate.Page) ([]*iogate.AuditRecord, string, error) {
	r, next, err := s.Store.ListAuditRecords(ctx, filter, page)
	return r, next, s.check("list_audit_records", err)
}

func (s *instrumentedStore) AuditRecords(ctx context.Context, accountID string, fn func(*iogate.AuditRecord) error) error {
	return s.check("audit_records", s.Store.AuditRecords(ctx, accountID, fn))
}

func (s *instrumentedStore) CreateVault(ctx context.Context, v *iogate.Vault, rec *iogate.AuditRecord) error {
	return s.check("create_vault", s.Store.CreateVault(ctx, v, rec))
}

func (s *instrumentedStore) FindVault(ctx context.Context, accountID, id string) (*iogate.Vault, error) {
	v, err := s.Store.FindVault(ctx, accountID, id)
	return v, s.check("find_vault", err)
}

func (s *instrumentedStore) ListVaults(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.Vault, string, error) {
	v, next, err := s.Store.ListVaults(ctx, accountID, page)
	return v, next, s.check("list_vaults", err)
}

func (s *instrumentedStore) SealedSecret(ctx context.Context, name string) ([]byte, error) {
	b, err := s.Store.SealedSecret(ctx, name)
	return b, s.check("sealed_secret", err)
}

func (s *instrumentedStore) PutSealedSecretIfAbsent(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	b, err := s.Store.PutSealedSecretIfAbsent(ctx, name, sealed)
	return b, s.check("put_sealed_secret", err)
}

func (s *instrumentedStore) SigningKeys(ctx context.Context) ([]*iogate.SigningKey, error) {
	k, err := s.Store.SigningKeys(ctx)
	return k, s.check("signing_keys", err)
}

func (s *instrumentedStore) CreateSigningKey(ctx context.Context, k *iogate.SigningKey) error {
	return s.check("create_signing_key", s.Store.CreateSigningKey(ctx, k))
}

func (s *instrumentedStore) RotateSigningKey(ctx context.Context, k *iogate.SigningKey) error {
	return s.check("rotate_signing_key", s.Store.RotateSigningKey(ctx, k))
}

func (s *instrumentedStore) Ping(ctx context.Context) error {
	return s.check("ping", s.Store.Ping(ctx))
}

func (s *instrumentedStore) AuditCheckpoints(ctx context.Context, accountID string) ([]*iogate.AuditCheckpoint, error) {
	cps, err := s.Store.AuditCheckpoints(ctx, accountID)
	return cps, s.check("audit_checkpoints", err)
}

func (s *instrumentedStore) PruneAuditRecords(ctx context.Context, cp *iogate.AuditCheckpoint) (int64, error) {
	n, err := s.Store.PruneAuditRecords(ctx, cp)
	return n, s.check("prune_audit_records", err)
}
