package metrics

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/iogate/iogate"
)

// InstrumentStore returns store with every failed call counted in
// iogate_store_errors_total. Outcomes that callers expect (a missing record, a duplicate,
// invalid input) are not errors of the store and are not counted.
func InstrumentStore(store iogate.Store, m *Metrics) iogate.Store {
	if m == nil {
		return store
	}
	return &instrumentedStore{store: store, m: m}
}

// storeOperations lists the operation label of every call that instrumentedStore counts,
// one for each store method, so that New can start each series at zero.
var storeOperations = []string{
	"create_account", "find_account", "list_accounts", "count_accounts", "create_api_key",
	"find_api_key", "list_api_keys", "all_api_keys", "all_api_key_auth", "update_api_key",
	"delete_api_key", "record_key_use", "revoke_token", "list_revoked_tokens", "deleted_api_keys",
	"all_revoked_tokens", "key_changes_since", "latest_key_change", "record_address_unblock", "append_audit_records",
	"list_audit_records", "audit_records", "audit_records_after", "create_vault", "create_vault_once", "find_vault", "list_vaults",
	"sealed_secret", "put_sealed_secret", "signing_keys", "signing_key_log_created_at", "create_signing_key",
	"rotate_signing_key", "retire_signing_keys", "revoke_signing_key", "ping", "audit_checkpoints", "prune_audit_records", "create_user",
	"find_user_by_id", "find_user_by_email", "list_users", "set_user_role", "set_user_totp_seed",
	"enable_user_totp", "disable_user_totp", "delete_user", "use_totp_step", "set_account_status",
	"suspended_accounts", "account_requires_totp", "set_account_require_totp", "create_user_link",
	"find_user_link", "create_account_with_owner", "accept_invite", "reset_password",
	"create_session", "find_session", "update_session", "delete_session", "delete_user_sessions",
	"delete_ended_sessions", "delete_spent_user_links", "use_form_token", "form_token_used",
	"delete_expired_revocations", "delete_key_changes_before", "delete_expired_form_tokens",
	"replace_recovery_codes", "use_recovery_code", "count_recovery_codes", "reseal_secrets", "record_public_url", "public_url",
	"list_pending_invitations", "cancel_invitation",
}

// instrumentedStore wraps every method of iogate.Store. It holds the store in a field
// rather than embedding it, so that a method added to the interface fails to compile here
// until it is counted too.
type instrumentedStore struct {
	store iogate.Store
	m     *Metrics
}

var _ iogate.Store = (*instrumentedStore)(nil)

// Close closes the store. A failure to close is the caller's to report, not a failure of
// the running store, so it is not counted.
func (s *instrumentedStore) Close() error { return s.store.Close() }

// check counts err against op when it is a store failure, and returns it.
func (s *instrumentedStore) check(op string, err error) error {
	switch iogate.ErrorCodeOf(err) {
	case "", iogate.CodeNotFound, iogate.CodeConflict, iogate.CodeInvalid:
	default:
		// A caller that gave up, such as a client that closed its connection, is not a
		// failure of the store.
		if !errors.Is(err, context.Canceled) {
			s.m.StoreError(op)
		}
	}
	return err
}

// visit calls a store method that hands each row to fn, and counts its error unless fn
// returned it: a callback that fails, such as a write to a client that went away, is not
// a failure of the store.
func visit[T any](s *instrumentedStore, op string, fn func(T) error, call func(func(T) error) error) error {
	var fnErr error
	err := call(func(v T) error {
		fnErr = fn(v)
		return fnErr
	})
	if err != nil && fnErr != nil && errors.Is(err, fnErr) {
		return err
	}
	return s.check(op, err)
}

func (s *instrumentedStore) CreateAccount(ctx context.Context, a *iogate.Account, rec *iogate.AuditRecord) error {
	return s.check("create_account", s.store.CreateAccount(ctx, a, rec))
}

func (s *instrumentedStore) FindAccountByID(ctx context.Context, id string) (*iogate.Account, error) {
	a, err := s.store.FindAccountByID(ctx, id)
	return a, s.check("find_account", err)
}

func (s *instrumentedStore) ListAccounts(ctx context.Context, page iogate.Page) ([]*iogate.Account, string, error) {
	a, next, err := s.store.ListAccounts(ctx, page)
	return a, next, s.check("list_accounts", err)
}

func (s *instrumentedStore) CountAccounts(ctx context.Context) (int, error) {
	n, err := s.store.CountAccounts(ctx)
	return n, s.check("count_accounts", err)
}

func (s *instrumentedStore) CreateAPIKey(ctx context.Context, k *iogate.APIKey, rec *iogate.AuditRecord) error {
	return s.check("create_api_key", s.store.CreateAPIKey(ctx, k, rec))
}

func (s *instrumentedStore) FindAPIKey(ctx context.Context, clientID string) (*iogate.APIKey, error) {
	k, err := s.store.FindAPIKey(ctx, clientID)
	return k, s.check("find_api_key", err)
}

func (s *instrumentedStore) ListAPIKeys(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.APIKey, string, error) {
	keys, next, err := s.store.ListAPIKeys(ctx, accountID, page)
	return keys, next, s.check("list_api_keys", err)
}

func (s *instrumentedStore) AllAPIKeys(ctx context.Context, fn func(*iogate.APIKey) error) error {
	return visit(s, "all_api_keys", fn, func(f func(*iogate.APIKey) error) error { return s.store.AllAPIKeys(ctx, f) })
}

func (s *instrumentedStore) AllAPIKeyAuth(ctx context.Context, fn func(*iogate.APIKeyAuth) error) error {
	return visit(s, "all_api_key_auth", fn, func(f func(*iogate.APIKeyAuth) error) error { return s.store.AllAPIKeyAuth(ctx, f) })
}

func (s *instrumentedStore) UpdateAPIKey(ctx context.Context, clientID string, update func(k *iogate.APIKey) (*iogate.AuditRecord, error)) (*iogate.APIKey, error) {
	k, err := s.store.UpdateAPIKey(ctx, clientID, update)
	return k, s.check("update_api_key", err)
}

func (s *instrumentedStore) DeleteAPIKey(ctx context.Context, clientID string, rec *iogate.AuditRecord) error {
	return s.check("delete_api_key", s.store.DeleteAPIKey(ctx, clientID, rec))
}

func (s *instrumentedStore) RecordKeyUse(ctx context.Context, uses []iogate.KeyUse) error {
	return s.check("record_key_use", s.store.RecordKeyUse(ctx, uses))
}

func (s *instrumentedStore) RevokeToken(ctx context.Context, t *iogate.RevokedToken, rec *iogate.AuditRecord) error {
	return s.check("revoke_token", s.store.RevokeToken(ctx, t, rec))
}

func (s *instrumentedStore) DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int, error) {
	v, err := s.store.DeleteExpiredRevocations(ctx, before, limit)
	return v, s.check("delete_expired_revocations", err)
}

func (s *instrumentedStore) ListRevokedTokens(ctx context.Context, clientID string, after time.Time) ([]*iogate.RevokedToken, error) {
	t, err := s.store.ListRevokedTokens(ctx, clientID, after)
	return t, s.check("list_revoked_tokens", err)
}

func (s *instrumentedStore) DeletedAPIKeys(ctx context.Context, fn func(k iogate.DeletedAPIKey) error) error {
	return s.check("deleted_api_keys", s.store.DeletedAPIKeys(ctx, fn))
}

func (s *instrumentedStore) AllRevokedTokens(ctx context.Context, after time.Time, fn func(*iogate.RevokedToken) error) error {
	return visit(s, "all_revoked_tokens", fn, func(f func(*iogate.RevokedToken) error) error { return s.store.AllRevokedTokens(ctx, after, f) })
}

func (s *instrumentedStore) KeyChangesSince(ctx context.Context, seq int64) ([]iogate.KeyChange, error) {
	c, err := s.store.KeyChangesSince(ctx, seq)
	return c, s.check("key_changes_since", err)
}

func (s *instrumentedStore) DeleteKeyChangesBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := s.store.DeleteKeyChangesBefore(ctx, before, limit)
	return n, s.check("delete_key_changes_before", err)
}

func (s *instrumentedStore) LatestKeyChange(ctx context.Context) (int64, error) {
	seq, err := s.store.LatestKeyChange(ctx)
	return seq, s.check("latest_key_change", err)
}

func (s *instrumentedStore) RecordAddressUnblock(ctx context.Context, prefix netip.Prefix, operator string) error {
	return s.check("record_address_unblock", s.store.RecordAddressUnblock(ctx, prefix, operator))
}

func (s *instrumentedStore) AppendAuditRecords(ctx context.Context, records []*iogate.AuditRecord) error {
	return s.check("append_audit_records", s.store.AppendAuditRecords(ctx, records))
}

func (s *instrumentedStore) ListAuditRecords(ctx context.Context, filter iogate.AuditFilter, page iogate.Page) ([]*iogate.AuditRecord, string, error) {
	r, next, err := s.store.ListAuditRecords(ctx, filter, page)
	return r, next, s.check("list_audit_records", err)
}

func (s *instrumentedStore) AuditRecords(ctx context.Context, accountID string, fn func(*iogate.AuditRecord) error) error {
	return visit(s, "audit_records", fn, func(f func(*iogate.AuditRecord) error) error { return s.store.AuditRecords(ctx, accountID, f) })
}

func (s *instrumentedStore) AuditRecordsAfter(ctx context.Context, accountID string, after int64, limit int) ([]*iogate.AuditRecord, error) {
	r, err := s.store.AuditRecordsAfter(ctx, accountID, after, limit)
	return r, s.check("audit_records_after", err)
}

func (s *instrumentedStore) CreateVault(ctx context.Context, v *iogate.Vault, rec *iogate.AuditRecord) error {
	return s.check("create_vault", s.store.CreateVault(ctx, v, rec))
}

func (s *instrumentedStore) CreateVaultOnce(ctx context.Context, v *iogate.Vault, idempotencyKey string, rec *iogate.AuditRecord) (*iogate.Vault, bool, error) {
	stored, created, err := s.store.CreateVaultOnce(ctx, v, idempotencyKey, rec)
	return stored, created, s.check("create_vault_once", err)
}

func (s *instrumentedStore) FindVault(ctx context.Context, accountID, id string) (*iogate.Vault, error) {
	v, err := s.store.FindVault(ctx, accountID, id)
	return v, s.check("find_vault", err)
}

func (s *instrumentedStore) ListVaults(ctx context.Context, accountID string, page iogate.Page) ([]*iogate.Vault, string, error) {
	v, next, err := s.store.ListVaults(ctx, accountID, page)
	return v, next, s.check("list_vaults", err)
}

func (s *instrumentedStore) SealedSecret(ctx context.Context, name string) ([]byte, error) {
	b, err := s.store.SealedSecret(ctx, name)
	return b, s.check("sealed_secret", err)
}

func (s *instrumentedStore) PutSealedSecretIfAbsent(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	b, err := s.store.PutSealedSecretIfAbsent(ctx, name, sealed)
	return b, s.check("put_sealed_secret", err)
}

func (s *instrumentedStore) SigningKeys(ctx context.Context) ([]*iogate.SigningKey, error) {
	k, err := s.store.SigningKeys(ctx)
	return k, s.check("signing_keys", err)
}

func (s *instrumentedStore) SigningKeyLogCreatedAt(ctx context.Context) (time.Time, error) {
	at, err := s.store.SigningKeyLogCreatedAt(ctx)
	return at, s.check("signing_key_log_created_at", err)
}

func (s *instrumentedStore) CreateSigningKey(ctx context.Context, k *iogate.SigningKey, record iogate.SigningKeyRecorder) error {
	return s.check("create_signing_key", s.store.CreateSigningKey(ctx, k, record))
}

func (s *instrumentedStore) RotateSigningKey(ctx context.Context, k *iogate.SigningKey, record iogate.SigningKeyRecorder) error {
	return s.check("rotate_signing_key", s.store.RotateSigningKey(ctx, k, record))
}

func (s *instrumentedStore) RetireSigningKeys(ctx context.Context, alg string, at time.Time, record iogate.SigningKeyRecorder) ([]*iogate.SigningKey, error) {
	k, err := s.store.RetireSigningKeys(ctx, alg, at, record)
	return k, s.check("retire_signing_keys", err)
}

func (s *instrumentedStore) ListPendingInvitations(ctx context.Context, accountID string, now time.Time) ([]*iogate.UserLink, error) {
	links, err := s.store.ListPendingInvitations(ctx, accountID, now)
	return links, s.check("list_pending_invitations", err)
}

func (s *instrumentedStore) CancelInvitation(ctx context.Context, id string, rec *iogate.AuditRecord) error {
	return s.check("cancel_invitation", s.store.CancelInvitation(ctx, id, rec))
}

func (s *instrumentedStore) RecordPublicURL(ctx context.Context, url string, at time.Time) error {
	return s.check("record_public_url", s.store.RecordPublicURL(ctx, url, at))
}

func (s *instrumentedStore) PublicURL(ctx context.Context) (string, time.Time, error) {
	url, at, err := s.store.PublicURL(ctx)
	return url, at, s.check("public_url", err)
}

func (s *instrumentedStore) RevokeSigningKey(ctx context.Context, kid string, at time.Time, replacement *iogate.SigningKey,
	record iogate.SigningKeyRecorder) (*iogate.SigningKey, *iogate.SigningKey, error) {
	revoked, inserted, err := s.store.RevokeSigningKey(ctx, kid, at, replacement, record)
	return revoked, inserted, s.check("revoke_signing_key", err)
}

func (s *instrumentedStore) Ping(ctx context.Context) error {
	return s.check("ping", s.store.Ping(ctx))
}

func (s *instrumentedStore) AuditCheckpoints(ctx context.Context, accountID string) ([]*iogate.AuditCheckpoint, error) {
	cps, err := s.store.AuditCheckpoints(ctx, accountID)
	return cps, s.check("audit_checkpoints", err)
}

func (s *instrumentedStore) PruneAuditRecords(ctx context.Context, cp *iogate.AuditCheckpoint) (int64, error) {
	n, err := s.store.PruneAuditRecords(ctx, cp)
	return n, s.check("prune_audit_records", err)
}

func (s *instrumentedStore) CreateUser(ctx context.Context, u *iogate.User) error {
	return s.check("create_user", s.store.CreateUser(ctx, u))
}

func (s *instrumentedStore) FindUserByID(ctx context.Context, id string) (*iogate.User, error) {
	v, err := s.store.FindUserByID(ctx, id)
	return v, s.check("find_user_by_id", err)
}

func (s *instrumentedStore) FindUserByEmail(ctx context.Context, email string) (*iogate.User, error) {
	v, err := s.store.FindUserByEmail(ctx, email)
	return v, s.check("find_user_by_email", err)
}

func (s *instrumentedStore) ListUsers(ctx context.Context, accountID string) ([]*iogate.User, error) {
	v, err := s.store.ListUsers(ctx, accountID)
	return v, s.check("list_users", err)
}

func (s *instrumentedStore) SetUserRole(ctx context.Context, userID string, role iogate.Role, at time.Time, rec *iogate.AuditRecord) error {
	return s.check("set_user_role", s.store.SetUserRole(ctx, userID, role, at, rec))
}

func (s *instrumentedStore) SetUserTOTPSeed(ctx context.Context, userID string, sealed []byte, at time.Time) error {
	return s.check("set_user_totp_seed", s.store.SetUserTOTPSeed(ctx, userID, sealed, at))
}

func (s *instrumentedStore) EnableUserTOTP(ctx context.Context, userID string, sealed []byte, hashes [][]byte, at time.Time, rec *iogate.AuditRecord) error {
	return s.check("enable_user_totp", s.store.EnableUserTOTP(ctx, userID, sealed, hashes, at, rec))
}

func (s *instrumentedStore) DisableUserTOTP(ctx context.Context, userID string, at time.Time, rec *iogate.AuditRecord) error {
	return s.check("disable_user_totp", s.store.DisableUserTOTP(ctx, userID, at, rec))
}

func (s *instrumentedStore) DeleteUser(ctx context.Context, id string, rec *iogate.AuditRecord) error {
	return s.check("delete_user", s.store.DeleteUser(ctx, id, rec))
}

func (s *instrumentedStore) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	return s.check("use_totp_step", s.store.UseTOTPStep(ctx, userID, step))
}

func (s *instrumentedStore) SetAccountStatus(ctx context.Context, accountID, status string, rec *iogate.AuditRecord) error {
	return s.check("set_account_status", s.store.SetAccountStatus(ctx, accountID, status, rec))
}

func (s *instrumentedStore) SuspendedAccounts(ctx context.Context) ([]string, error) {
	v, err := s.store.SuspendedAccounts(ctx)
	return v, s.check("suspended_accounts", err)
}

func (s *instrumentedStore) AccountRequiresTOTP(ctx context.Context, accountID string) (bool, error) {
	v, err := s.store.AccountRequiresTOTP(ctx, accountID)
	return v, s.check("account_requires_totp", err)
}

func (s *instrumentedStore) SetAccountRequireTOTP(ctx context.Context, accountID string, require bool, rec *iogate.AuditRecord) error {
	return s.check("set_account_require_totp", s.store.SetAccountRequireTOTP(ctx, accountID, require, rec))
}

func (s *instrumentedStore) CreateUserLink(ctx context.Context, l *iogate.UserLink, rec *iogate.AuditRecord) error {
	return s.check("create_user_link", s.store.CreateUserLink(ctx, l, rec))
}

func (s *instrumentedStore) FindUserLink(ctx context.Context, tokenHash []byte, purpose string, now time.Time) (*iogate.UserLink, error) {
	v, err := s.store.FindUserLink(ctx, tokenHash, purpose, now)
	return v, s.check("find_user_link", err)
}

func (s *instrumentedStore) CreateAccountWithOwner(ctx context.Context, tokenHash []byte, now time.Time, a *iogate.Account, owner *iogate.User, accountRec, ownerRec *iogate.AuditRecord) error {
	return s.check("create_account_with_owner", s.store.CreateAccountWithOwner(ctx, tokenHash, now, a, owner, accountRec, ownerRec))
}

func (s *instrumentedStore) AcceptInvite(ctx context.Context, tokenHash []byte, now time.Time, u *iogate.User, rec *iogate.AuditRecord) error {
	return s.check("accept_invite", s.store.AcceptInvite(ctx, tokenHash, now, u, rec))
}

func (s *instrumentedStore) ResetPassword(ctx context.Context, tokenHash []byte, now time.Time, passwordHash string, rec *iogate.AuditRecord) error {
	return s.check("reset_password", s.store.ResetPassword(ctx, tokenHash, now, passwordHash, rec))
}

func (s *instrumentedStore) CreateSession(ctx context.Context, sess *iogate.Session) error {
	return s.check("create_session", s.store.CreateSession(ctx, sess))
}

func (s *instrumentedStore) FindSession(ctx context.Context, idHash []byte) (*iogate.Session, error) {
	v, err := s.store.FindSession(ctx, idHash)
	return v, s.check("find_session", err)
}

func (s *instrumentedStore) UpdateSession(ctx context.Context, sess *iogate.Session) error {
	return s.check("update_session", s.store.UpdateSession(ctx, sess))
}

func (s *instrumentedStore) DeleteSession(ctx context.Context, idHash []byte) error {
	return s.check("delete_session", s.store.DeleteSession(ctx, idHash))
}

func (s *instrumentedStore) DeleteUserSessions(ctx context.Context, userID string) error {
	return s.check("delete_user_sessions", s.store.DeleteUserSessions(ctx, userID))
}

func (s *instrumentedStore) DeleteEndedSessions(ctx context.Context, now, idleSince time.Time, limit int) (int, error) {
	v, err := s.store.DeleteEndedSessions(ctx, now, idleSince, limit)
	return v, s.check("delete_ended_sessions", err)
}

func (s *instrumentedStore) DeleteSpentUserLinks(ctx context.Context, now time.Time, limit int) (int, error) {
	v, err := s.store.DeleteSpentUserLinks(ctx, now, limit)
	return v, s.check("delete_spent_user_links", err)
}

func (s *instrumentedStore) UseFormToken(ctx context.Context, tokenHash []byte, usedAt, expiresAt time.Time) error {
	return s.check("use_form_token", s.store.UseFormToken(ctx, tokenHash, usedAt, expiresAt))
}

func (s *instrumentedStore) FormTokenUsed(ctx context.Context, tokenHash []byte) (bool, error) {
	v, err := s.store.FormTokenUsed(ctx, tokenHash)
	return v, s.check("form_token_used", err)
}

func (s *instrumentedStore) DeleteExpiredFormTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	v, err := s.store.DeleteExpiredFormTokens(ctx, now, limit)
	return v, s.check("delete_expired_form_tokens", err)
}

func (s *instrumentedStore) ReplaceRecoveryCodes(ctx context.Context, userID string, sealed []byte, hashes [][]byte, rec *iogate.AuditRecord) error {
	return s.check("replace_recovery_codes", s.store.ReplaceRecoveryCodes(ctx, userID, sealed, hashes, rec))
}

func (s *instrumentedStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) error {
	return s.check("use_recovery_code", s.store.UseRecoveryCode(ctx, userID, hash, now))
}

func (s *instrumentedStore) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	v, err := s.store.CountRecoveryCodes(ctx, userID)
	return v, s.check("count_recovery_codes", err)
}

func (s *instrumentedStore) ResealSecrets(ctx context.Context, reseal func(iogate.SealedValue) ([]byte, error)) (int, error) {
	v, err := s.store.ResealSecrets(ctx, reseal)
	return v, s.check("reseal_secrets", err)
}
