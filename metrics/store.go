package metrics

import (
	"context"

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

func (s *instrumentedStore) count(op string, err error) {
	switch iogate.ErrorCodeOf(err) {
	case "", iogate.CodeNotFound, iogate.CodeConflict, iogate.CodeInvalid:
		return
	}
	s.m.StoreError(op)
}

func (s *instrumentedStore) CreateAccount(ctx context.Context, a *iogate.Account) error {
	err := s.Store.CreateAccount(ctx, a)
	s.count("create_account", err)
	return err
}

func (s *instrumentedStore) FindAccountByID(ctx context.Context, id string) (*iogate.Account, error) {
	a, err := s.Store.FindAccountByID(ctx, id)
	s.count("find_account", err)
	return a, err
}

func (s *instrumentedStore) CountAccounts(ctx context.Context) (int, error) {
	n, err := s.Store.CountAccounts(ctx)
	s.count("count_accounts", err)
	return n, err
}

func (s *instrumentedStore) CreateAPIKey(ctx context.Context, k *iogate.APIKey) error {
	err := s.Store.CreateAPIKey(ctx, k)
	s.count("create_api_key", err)
	return err
}

func (s *instrumentedStore) FindAPIKey(ctx context.Context, clientID string) (*iogate.APIKey, error) {
	k, err := s.Store.FindAPIKey(ctx, clientID)
	s.count("find_api_key", err)
	return k, err
}

func (s *instrumentedStore) ListAPIKeys(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.APIKey, string, error) {
	keys, next, err := s.Store.ListAPIKeys(ctx, accountID, page)
	s.count("list_api_keys", err)
	return keys, next, err
}

func (s *instrumentedStore) AllAPIKeys(ctx context.Context, fn func(*iogate.APIKey) error) error {
	err := s.Store.AllAPIKeys(ctx, fn)
	s.count("all_api_keys", err)
	return err
}

func (s *instrumentedStore) DeleteAPIKey(ctx context.Context, clientID string) error {
	err := s.Store.DeleteAPIKey(ctx, clientID)
	s.count("delete_api_key", err)
	return err
}

func (s *instrumentedStore) MarkAPIKeyExposed(ctx context.Context, clientID string) error {
	err := s.Store.MarkAPIKeyExposed(ctx, clientID)
	s.count("mark_api_key_exposed", err)
	return err
}

func (s *instrumentedStore) RecordKeyUse(ctx context.Context, uses []iogate.KeyUse) error {
	err := s.Store.RecordKeyUse(ctx, uses)
	s.count("record_key_use", err)
	return err
}

func (s *instrumentedStore) KeyChangesSince(ctx context.Context, seq int64) ([]iogate.KeyChange, error) {
	c, err := s.Store.KeyChangesSince(ctx, seq)
	s.count("key_changes_since", err)
	return c, err
}

func (s *instrumentedStore) LatestKeyChange(ctx context.Context) (int64, error) {
	seq, err := s.Store.LatestKeyChange(ctx)
	s.count("latest_key_change", err)
	return seq, err
}

func (s *instrumentedStore) CreateVault(ctx context.Context, v *iogate.Vault) error {
	err := s.Store.CreateVault(ctx, v)
	s.count("create_vault", err)
	return err
}

func (s *instrumentedStore) FindVault(ctx context.Context, accountID, id string) (*iogate.Vault, error) {
	v, err := s.Store.FindVault(ctx, accountID, id)
	s.count("find_vault", err)
	return v, err
}

func (s *instrumentedStore) ListVaults(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.Vault, string, error) {
	v, next, err := s.Store.ListVaults(ctx, accountID, page)
	s.count("list_vaults", err)
	return v, next, err
}

func (s *instrumentedStore) SealedSecret(ctx context.Context, name string) ([]byte, error) {
	b, err := s.Store.SealedSecret(ctx, name)
	s.count("sealed_secret", err)
	return b, err
}

func (s *instrumentedStore) PutSealedSecretIfAbsent(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	b, err := s.Store.PutSealedSecretIfAbsent(ctx, name, sealed)
	s.count("put_sealed_secret", err)
	return b, err
}

func (s *instrumentedStore) SigningKeys(ctx context.Context) ([]*iogate.SigningKey, error) {
	k, err := s.Store.SigningKeys(ctx)
	s.count("signing_keys", err)
	return k, err
}

func (s *instrumentedStore) CreateSigningKey(ctx context.Context, k *iogate.SigningKey) error {
	err := s.Store.CreateSigningKey(ctx, k)
	s.count("create_signing_key", err)
	return err
}
