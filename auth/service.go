// Package auth is iogate's token engine. It authenticates clients by ID and secret, issues
// access tokens, verifies bearer tokens against a live in-memory view of every key, and
// manages keys so that a change takes effect on the next request in this process and, by
// the store's change feed, within a second in every other process.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/metrics"
	"github.com/iogate/iogate/token"
)

// Config holds the engine's settings.
type Config struct {
	// Issuer is the "iss" claim of issued tokens; tokens with another issuer are rejected.
	Issuer string
	// TokenTTL is the lifetime of issued access tokens.
	TokenTTL time.Duration
	// SigningAlgorithm is one of token.Algorithms.
	SigningAlgorithm string
	// ResyncInterval is how often a running engine reloads every key, in case a change
	// notification was lost. Zero means five minutes.
	ResyncInterval time.Duration
	// MaxStaleness is how long a running engine keeps issuing and accepting tokens after
	// its change feed stopped confirming the view; after that it returns ErrStale until it
	// has reloaded every key. Zero means DefaultMaxStaleness.
	MaxStaleness time.Duration
	// StoreTimeout bounds how long a request waits for the store, see WithStoreTimeout,
	// and how long one group commit of audit records may take. Zero means
	// DefaultStoreTimeout.
	StoreTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// FailureLogInterval is the interval between the lines that count failed writes of
	// last-used times while the store fails. Zero means DefaultFailureLogInterval.
	FailureLogInterval time.Duration
	// Logger receives the engine's background errors; nil discards them.
	Logger *slog.Logger
	// Metrics receives issuance, denial and verification counts; nil records nothing.
	Metrics *metrics.Metrics
}

// Service is the token engine. Create it with New; call Start before issuing or verifying
// tokens. Key management works without Start, as the CLI uses it.
type Service struct {
	store  iogate.Store
	master *iogate.MasterKey
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	// secrets hashes client secrets under the pepper.
	secrets *iogate.SecretHasher
	keyring *token.Keyring

	view  *keyView
	cache *tokenCache
	uses  *useRecorder
	chain *iogate.AuditChain
	audit *auditCommitter

	health *feedHealth
	// keyringFailure holds the error of the last failed reload of the signing keys.
	keyringFailure keyringHealth
	metrics        *metrics.Metrics
	// storeTimeout is the cause of the contexts that WithStoreTimeout bounds, made once so
	// that bounding a request allocates no error.
	storeTimeout *StoreTimeoutError

	started     bool
	syncMu      sync.Mutex
	notifyCh    chan struct{}
	keyringNext keyringSchedule
	// changeListeners are the OnChange functions by change kind, guarded by syncMu.
	changeListeners map[string][]func(iogate.KeyChange)
}

// Slots in the sealed-secrets table: the pepper of the client-secret hashes and the key
// of the audit log's hash chain.
const (
	pepperName   = "pepper/client-secret-hash"
	auditKeyName = "audit/chain-key"
)

// New returns an engine on store. It loads the pepper of the secret hashes and the audit
// chain key, creating them on first use, and fails with iogate.ErrWrongMasterKey when
// master does not decrypt them.
func New(ctx context.Context, store iogate.Store, master *iogate.MasterKey, cfg Config) (*Service, error) {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.SigningAlgorithm == "" {
		cfg.SigningAlgorithm = token.EdDSA
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 5 * time.Minute
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = DefaultMaxStaleness
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.FailureLogInterval <= 0 {
		cfg.FailureLogInterval = DefaultFailureLogInterval
	}
	s := &Service{
		store:    store,
		master:   master,
		cfg:      cfg,
		now:      cfg.Now,
		log:      cfg.Logger,
		keyring:  token.NewKeyring(),
		view:     newKeyView(),
		cache:    newTokenCache(100_000),
		notifyCh: make(chan struct{}, 1),
		health:   &feedHealth{maxStaleness: cfg.MaxStaleness},
		metrics:  cfg.Metrics,

		storeTimeout: &StoreTimeoutError{Timeout: cfg.StoreTimeout},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.uses = newUseRecorder(store, s.log, cfg.FailureLogInterval)
	s.metrics.DeclareTokenFailures(tokenFailureReasons())
	pepper, err := s.loadSealedKey(ctx, pepperName)
	if err != nil {
		return nil, err
	}
	s.secrets = iogate.NewSecretHasher(pepper)
	auditKey, err := s.loadSealedKey(ctx, auditKeyName)
	if err != nil {
		return nil, err
	}
	if s.chain, err = iogate.NewAuditChain(auditKey); err != nil {
		return nil, err
	}
	s.audit = newAuditCommitter(store, s.chain, s.log, cfg.Metrics, cfg.StoreTimeout)
	return s, nil
}

// loadSealedKey returns the 32-byte server secret stored under name, creating it first
// when the store has none.
func (s *Service) loadSealedKey(ctx context.Context, name string) ([]byte, error) {
	return iogate.LoadOrCreateSealedSecret(ctx, s.store, s.master, name, 32)
}

// Start loads the signing keys (creating the first one for the configured algorithm) and
// every key into the in-memory view. The engine then serves IssueToken and Authenticate.
// Run keeps the view current afterwards.
func (s *Service) Start(ctx context.Context) error {
	if err := s.loadSigningKeys(ctx); err != nil {
		return err
	}
	if err := s.resync(ctx); err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	// Keys deleted from now on leave the view through remove or a reload, which remember
	// their accounts and secret hashes. Keys deleted before come from the store's
	// tombstones, with the hashes of their former secrets, and from the key.deleted
	// records of deletions older than the tombstones, without hashes.
	err := s.store.DeletedAPIKeys(ctx, func(k iogate.DeletedAPIKey) error {
		s.view.addDeleted(k)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load deleted keys: %w", err)
	}
	s.started = true
	return nil
}

// loadSigningKeys loads the signing keys into the keyring. When none may sign with the
// configured algorithm now (on first start, or after the algorithm was changed), it
// creates one that signs at once, with a signing_key.created record by the system actor,
// because the engine decided it whatever actor ctx carries.
func (s *Service) loadSigningKeys(ctx context.Context) error {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	err = s.loadKeyring(keys)
	if err == nil {
		return nil
	}
	if errors.Is(err, iogate.ErrWrongMasterKey) {
		return err
	}
	k, genErr := token.GenerateSigningKey(s.cfg.SigningAlgorithm, s.master, s.now())
	if genErr != nil {
		return genErr
	}
	if err := s.store.CreateSigningKey(ctx, k, s.signingKeyRecorder(iogate.Actor{Type: iogate.ActorSystem})); err != nil {
		return fmt.Errorf("store signing key: %w", err)
	}
	return s.loadKeyring(append(keys, k))
}

// AuditChain returns the chain that hashes this store's audit records, for callers that
// build the record of a change which the store appends in the change's own transaction.
func (s *Service) AuditChain() *iogate.AuditChain { return s.chain }

// Keyring returns the signing keys, for the JWKS endpoint.
func (s *Service) Keyring() *token.Keyring { return s.keyring }

// Issuer returns the configured token issuer.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Run keeps the view current until ctx ends: it applies changes whenever feed signals one,
// reloads every key each ResyncInterval and whenever the feed reconnects, refuses tokens
// while the view may be stale (see Config.MaxStaleness), and writes batched last-used
// records. It returns after ctx ends and the last batch of last-used times and of audit
// records is written.
func (s *Service) Run(ctx context.Context, feed ChangeFeed) {
	s.health.start(s.now())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		s.uses.run(ctx)
	}()
	go func() {
		defer wg.Done()
		s.watchFeed(ctx, feed)
	}()
	go func() {
		defer wg.Done()
		s.watchRewind(ctx)
	}()
	resync := time.NewTicker(s.cfg.ResyncInterval)
	defer resync.Stop()
	keyringTick := time.NewTicker(time.Second)
	defer keyringTick.Stop()
	check := time.NewTicker(healthCheckInterval)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			flushCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.audit.flush(flushCtx)
			cancel()
			return
		case <-keyringTick.C:
			s.reloadKeyringIfDue(ctx)
		case <-s.notifyCh:
			s.catchUp(ctx)
			// A signing-keys change that catchUp applied takes effect now rather than at the
			// next tick, so that a revoked key stops verifying as soon as the feed reports it.
			s.reloadKeyringIfDue(ctx)
		case <-resync.C:
			s.resyncOwed(ctx)
			// Reload the signing keys too, in case a change notification was lost.
			s.scheduleKeyringReload(s.now())
		case <-check.C:
			s.checkHealth(ctx)
		}
	}
}

// healthCheckInterval is how often Run checks whether the view has become stale, which
// bounds how late the log reports it.
const healthCheckInterval = 250 * time.Millisecond

func (s *Service) notify() {
	select {
	case s.notifyCh <- struct{}{}:
	default:
	}
}

// Sync applies to the view every key change recorded after the last one it applied. The
// engine calls it after its own writes, so a change made in this process takes effect on
// the very next request, and whenever the change feed signals another process's write.
func (s *Service) Sync(ctx context.Context) error {
	if !s.started {
		return nil
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for {
		changes, err := s.store.KeyChangesSince(ctx, s.view.seq())
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			return nil
		}
		done := make(map[string]bool, len(changes))
		signingKeysChanged := false
		for _, c := range changes {
			switch c.Kind {
			case iogate.ChangeSigningKeys:
				signingKeysChanged = true
				continue
			case iogate.ChangeAPIKey:
			default:
				s.deliverChange(c)
				continue
			}
			if done[c.ClientID] {
				continue
			}
			done[c.ClientID] = true
			if err := s.reloadKey(ctx, c.ClientID); err != nil {
				return err
			}
		}
		if signingKeysChanged {
			s.scheduleKeyringReload(s.now())
		}
		s.view.setSeq(changes[len(changes)-1].Seq)
	}
}

// resync reloads every key. It reads the change sequence first, so that changes committed
// during the load are applied again by the next Sync rather than missed. Once the engine
// has started, the OnChange listeners also get the changes that the reload skips.
func (s *Service) resync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	seq, err := s.store.LatestKeyChange(ctx)
	if err != nil {
		return err
	}
	// At start the listeners have no state that older changes could apply to.
	var skipped []iogate.KeyChange
	if s.started {
		if skipped, err = s.skippedChanges(ctx, s.view.seq(), seq); err != nil {
			return err
		}
	}
	revoked := make(map[string][]*iogate.RevokedToken)
	err = s.store.AllRevokedTokens(ctx, s.now(), func(t *iogate.RevokedToken) error {
		revoked[t.ClientID] = append(revoked[t.ClientID], t)
		return nil
	})
	if err != nil {
		return err
	}
	suspendedIDs, err := s.store.SuspendedAccounts(ctx)
	if err != nil {
		return err
	}
	suspended := make(map[string]bool, len(suspendedIDs))
	for _, id := range suspendedIDs {
		suspended[id] = true
	}
	reload := s.view.beginReload(revoked, suspended)
	if err := s.store.AllAPIKeyAuth(ctx, func(k *iogate.APIKeyAuth) error {
		reload.add(k)
		return nil
	}); err != nil {
		return err
	}
	reload.finish(seq)
	s.deliverReload()
	for _, c := range skipped {
		s.deliverChange(c)
	}
	return nil
}

// reloadKey replaces one key's state in the view with what the store holds, or removes it
// when the key no longer exists.
func (s *Service) reloadKey(ctx context.Context, clientID string) error {
	k, err := s.store.FindAPIKey(ctx, clientID)
	switch {
	case iogate.ErrorCodeOf(err) == iogate.CodeNotFound:
		s.view.remove(clientID)
		return nil
	case err != nil:
		return err
	}
	revoked, err := s.store.ListRevokedTokens(ctx, clientID, s.now())
	if err != nil {
		return err
	}
	suspended, err := s.accountSuspended(ctx, k.AccountID)
	if err != nil {
		return err
	}
	s.view.put(k.Auth(), revoked, suspended)
	return nil
}
