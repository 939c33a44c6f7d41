// Package auth is iogate's token engine. It authenticates clients by ID and secret, issues
// access tokens, verifies bearer tokens against a live in-memory view of every key, and
// manages keys so that a change takes effect on the next request in this process and, by
// the store's change feed, within a second in every other process.
package auth

import (
	"context"
	"crypto/rand"
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
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives the engine's background errors; nil discards them.
	Logger *slog.Logger
	// MaxFeedLag is how far behind the store the key view may fall before CheckHealth
	// reports the engine not ready. Zero means DefaultMaxFeedLag.
	MaxFeedLag time.Duration
	// Metrics receives issuance, denial and verification counts; nil records nothing.
	Metrics *metrics.Metrics
}

// Service is the token engine. Create it with New; call Start before issuing or verifying
// tokens. Key management works without Start, as the CLI uses it.
type Service struct {
	store   iogate.Store
	master  *iogate.MasterKey
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	pepper  []byte
	keyring *token.Keyring

	view  *keyView
	cache *tokenCache
	uses  *useRecorder

	started  bool
	syncMu   sync.Mutex
	notifyCh chan struct{}
	metrics  *metrics.Metrics

	lag lagTracker
}

// pepperName is the slot of the client-secret hash pepper in the sealed-secrets table.
const pepperName = "pepper/client-secret-hash"

// New returns an engine on store. It loads the pepper of the secret hashes, creating it on
// first use, and fails with iogate.ErrWrongMasterKey when master does not decrypt it.
func New(ctx context.Context, store iogate.Store, master *iogate.MasterKey, cfg Config) (*Service, error) {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.SigningAlgorithm == "" {
		cfg.SigningAlgorithm = token.EdDSA
	}
	if cfg.MaxFeedLag <= 0 {
		cfg.MaxFeedLag = DefaultMaxFeedLag
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 5 * time.Minute
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
		metrics:  cfg.Metrics,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.uses = newUseRecorder(store, s.log)
	pepper, err := s.loadPepper(ctx)
	if err != nil {
		return nil, err
	}
	s.pepper = pepper
	return s, nil
}

func (s *Service) loadPepper(ctx context.Context) ([]byte, error) {
	sealed, err := s.store.SealedSecret(ctx, pepperName)
	if iogate.ErrorCodeOf(err) == iogate.CodeNotFound {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		newSealed, err := s.master.Seal(pepperName, fresh)
		if err != nil {
			return nil, err
		}
		// Another process may have stored a pepper first; keep whichever the store holds.
		sealed, err = s.store.PutSealedSecretIfAbsent(ctx, pepperName, newSealed)
		if err != nil {
			return nil, fmt.Errorf("store secret-hash pepper: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("load secret-hash pepper: %w", err)
	}
	return s.master.Open(pepperName, sealed)
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
	s.started = true
	return nil
}

func (s *Service) loadSigningKeys(ctx context.Context) error {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	now := s.now()
	err = s.keyring.Load(keys, s.cfg.SigningAlgorithm, s.master, now)
	if err == nil {
		return nil
	}
	if errors.Is(err, iogate.ErrWrongMasterKey) {
		return err
	}
	k, genErr := token.GenerateSigningKey(s.cfg.SigningAlgorithm, s.master, now)
	if genErr != nil {
		return genErr
	}
	if err := s.store.CreateSigningKey(ctx, k); err != nil {
		return fmt.Errorf("store signing key: %w", err)
	}
	return s.keyring.Load(append(keys, k), s.cfg.SigningAlgorithm, s.master, now)
}

// Keyring returns the signing keys, for the JWKS endpoint.
func (s *Service) Keyring() *token.Keyring { return s.keyring }

// Issuer returns the configured token issuer.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// ChangeFeed tells a running engine that the store may have changed. Watch calls changed
// whenever that may be so, until ctx ends or the feed fails.
type ChangeFeed interface {
	Watch(ctx context.Context, changed func()) error
}

// Run keeps the view current until ctx ends: it applies changes whenever feed signals one,
// reloads every key each ResyncInterval, and writes batched last-used records. It returns
// after ctx ends and the last batch is written.
func (s *Service) Run(ctx context.Context, feed ChangeFeed) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.uses.run(ctx)
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			err := feed.Watch(ctx, s.notify)
			if ctx.Err() != nil {
				return
			}
			s.log.Error("change feed failed; restarting it", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	resync := time.NewTicker(s.cfg.ResyncInterval)
	defer resync.Stop()
	health := time.NewTicker(time.Second)
	defer health.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-health.C:
			s.CheckHealth(ctx)
		case <-s.notifyCh:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("apply key changes failed", "error", err)
			}
		case <-resync.C:
			if err := s.resync(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("key resync failed", "error", err)
			}
		}
	}
}

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
		for _, c := range changes {
			if done[c.ClientID] {
				continue
			}
			done[c.ClientID] = true
			k, err := s.store.FindAPIKey(ctx, c.ClientID)
			switch {
			case iogate.ErrorCodeOf(err) == iogate.CodeNotFound:
				s.view.remove(c.ClientID)
			case err != nil:
				return err
			default:
				s.view.put(k)
			}
		}
		s.view.setSeq(changes[len(changes)-1].Seq)
	}
}

// resync reloads every key. It reads the change sequence first, so that changes committed
// during the load are applied again by the next Sync rather than missed.
func (s *Service) resync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	seq, err := s.store.LatestKeyChange(ctx)
	if err != nil {
		return err
	}
	keys := make(map[string]*keyState)
	err = s.store.AllAPIKeys(ctx, func(k *iogate.APIKey) error {
		keys[k.ClientID] = newKeyState(k)
		return nil
	})
	if err != nil {
		return err
	}
	s.view.replace(keys, seq)
	return nil
}
