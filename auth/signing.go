package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/token"
)

// publishMargin is how long a retired signing key stays published beyond the lifetime of
// the last token it signed, to allow for clock differences between iogate and verifiers.
const publishMargin = 5 * time.Minute

// DefaultActivationDelay is how long RotateSigningKey publishes a new key before it
// signs. Verifiers that cache the JWKS for less than this see the new key before the
// first token it signs, and iogate's JWKS responses allow caching for five minutes.
const DefaultActivationDelay = 10 * time.Minute

// keyringSchedule is when the keyring must be loaded again: when a key starts or stops
// signing or its publication ends, or as soon as possible after a signing-keys change.
type keyringSchedule struct {
	mu   sync.Mutex
	next time.Time
	// requested is set by request and cleared when a reload starts, so that a change
	// announced during a reload is not lost when the reload sets the next time.
	requested bool
}

// set records the next scheduled change found by a reload, or zero when none is. A
// request made since the reload started is kept when it is earlier, and also when nothing
// is scheduled: the reload may have read the keys before the change that it requests.
func (k *keyringSchedule) set(t time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.requested && !k.next.IsZero() && (t.IsZero() || k.next.Before(t)) {
		return
	}
	k.next = t
}

// request schedules a reload at t or earlier.
func (k *keyringSchedule) request(t time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requested = true
	if k.next.IsZero() || t.Before(k.next) {
		k.next = t
	}
}

// take reports whether a reload is due at now, and if so marks the request as taken.
func (k *keyringSchedule) take(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.next.IsZero() || now.Before(k.next) {
		return false
	}
	k.requested = false
	return true
}

// loadKeyring loads the keys that are still published into the keyring and schedules the
// next reload. keys are every stored key. It drops the cached tokens of keys that left
// the keyring, and logs a warning for each one that left because it was revoked. The
// stored keys that are no longer published go into the keyring too, so that a token they
// signed counts as one iogate issued (see IsOutdatedCredential). Revoked keys are not
// stored, so their tokens do not.
func (s *Service) loadKeyring(keys []*iogate.SigningKey) error {
	now := s.now()
	var published, unpublished []*iogate.SigningKey
	for _, k := range keys {
		if s.published(k, now) {
			published = append(published, k)
		} else {
			unpublished = append(unpublished, k)
		}
	}
	// Loaded before the published keys, so that a key leaving the JWKS is never missing
	// from both sets.
	if err := s.keyring.LoadUnpublished(unpublished); err != nil {
		s.log.Warn("load retired signing key failed; its tokens count as failed authentications", "error", err)
	}
	before := s.keyring.KeyIDs()
	if err := s.keyring.Load(published, s.cfg.SigningAlgorithm, s.master, now); err != nil {
		return err
	}
	s.dropRemovedKeys(before, keys)
	s.keyringNext.set(s.nextKeyringChange(published, now))
	return nil
}

// dropRemovedKeys removes from the token cache the tokens of the keys in before that the
// keyring no longer holds. A key that is no longer stored at all (keys are every stored
// key) was revoked, and gets a warning.
//
// Tokens of a key that left the keyring fail signature verification, but a token cached
// before would pass without one. Dropping the entries here, after the keyring has lost
// the key, keeps that check off the path of cached tokens.
func (s *Service) dropRemovedKeys(before []string, keys []*iogate.SigningKey) {
	removed := map[string]bool{}
	for _, kid := range before {
		if !s.keyring.Published(kid) {
			removed[kid] = true
		}
	}
	if len(removed) == 0 {
		return
	}
	s.cache.dropSigningKeys(removed)
	stored := make(map[string]bool, len(keys))
	for _, k := range keys {
		stored[k.KID] = true
	}
	for kid := range removed {
		if !stored[kid] {
			s.log.Warn("signing key revoked; tokens it signed are rejected", "signing_key_id", kid)
		}
	}
}

// published reports whether k is still in the JWKS at now: until every token it signed
// has expired. A key signs until RetiredAt, and its last tokens live for TokenTTL.
func (s *Service) published(k *iogate.SigningKey, now time.Time) bool {
	return k.RetiredAt.IsZero() || now.Before(s.publishedUntil(k))
}

func (s *Service) publishedUntil(k *iogate.SigningKey) time.Time {
	return k.RetiredAt.Add(s.cfg.TokenTTL + publishMargin)
}

// nextKeyringChange returns the first time after now at which a key starts signing, stops
// signing or leaves the JWKS, or zero when nothing is scheduled.
func (s *Service) nextKeyringChange(keys []*iogate.SigningKey, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, k := range keys {
		consider(k.ActiveAt)
		if !k.RetiredAt.IsZero() {
			consider(k.RetiredAt)
			consider(s.publishedUntil(k))
		}
	}
	return next
}

// scheduleKeyringReload makes Run reload the signing keys at its first tick after at.
func (s *Service) scheduleKeyringReload(at time.Time) { s.keyringNext.request(at) }

// reloadKeyringIfDue reloads the signing keys when a change is due. A failed reload keeps
// the keys in use and is tried again a second later.
func (s *Service) reloadKeyringIfDue(ctx context.Context) {
	now := s.now()
	if !s.keyringNext.take(now) {
		return
	}
	before := s.keyring.ActiveKeyID()
	if err := s.loadSigningKeys(ctx); err != nil {
		// A node whose master key no longer opens the stored signing keys (the master key
		// was rotated and this node not restarted) would sign with a retired key that the
		// other nodes no longer publish. It reports not ready so a load balancer drains it.
		first := s.keyringFailure.fail(err, now)
		if ctx.Err() == nil && (first || s.keyringFailure.shouldLog(now)) {
			s.log.Error("reload signing keys failed; the loaded keys stay in use and /readyz reports not ready", "error", err)
		}
		s.scheduleKeyringReload(now.Add(time.Second))
		return
	}
	s.keyringFailure.clear()
	if after := s.keyring.ActiveKeyID(); after != before {
		s.log.Info("signing key changed", "signing_key_id", after, "previous_signing_key_id", before)
	}
}

// RotateSigningKey creates a signing key for alg that is published at once and signs from
// now plus activateIn, and retires the keys of alg that sign now at that moment. Keys of
// other algorithms keep signing, for servers configured with them. The retired keys stay
// published until the tokens they signed have expired. An empty alg means the algorithm of
// the newest key with no retirement, or the configured one when there is none. Running
// servers learn of the new key through the change feed.
func (s *Service) RotateSigningKey(ctx context.Context, alg string, activateIn time.Duration) (*iogate.SigningKey, error) {
	if activateIn < 0 {
		return nil, iogate.Errorf(iogate.CodeInvalid, "invalid activation delay %s: it must not be negative", activateIn)
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	if alg == "" {
		alg = defaultRotationAlgorithm(keys, s.cfg.SigningAlgorithm)
	}
	if !slices.Contains(token.Algorithms, alg) {
		return nil, iogate.Errorf(iogate.CodeInvalid, "unsupported signing algorithm %s: use one of %s", iogate.QuoteInput(alg), strings.Join(token.Algorithms, ", "))
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	if err := iogate.CheckRotationGap(keys, alg, now, now.Add(activateIn)); err != nil {
		return nil, err
	}
	k, err := token.GenerateSigningKey(alg, s.master, now)
	if err != nil {
		return nil, err
	}
	k.ActiveAt = now.Add(activateIn)
	if err := s.store.RotateSigningKey(ctx, k, s.signingKeyRecorder(iogate.ActorFrom(ctx))); err != nil {
		return nil, fmt.Errorf("store signing key: %w", err)
	}
	s.applySigningKeysChange(ctx)
	return k, nil
}

// RetireSigningKeys retires every key of alg that signs or is scheduled at now plus
// retireIn, and returns the retired keys. It is the last step of moving servers to another
// --signing-alg. The retired keys stay published until the tokens they signed have expired.
// It fails with CodeInvalid unless keys of another algorithm sign from then on, because
// servers still configured with alg would create keys that no verifier has seen. It fails
// with CodeNotFound when no key of alg is left to retire. Running servers learn of the
// change through the change feed.
func (s *Service) RetireSigningKeys(ctx context.Context, alg string, retireIn time.Duration) ([]*iogate.SigningKey, error) {
	if retireIn < 0 {
		return nil, iogate.Errorf(iogate.CodeInvalid, "invalid retirement delay %s: it must not be negative", retireIn)
	}
	if !slices.Contains(token.Algorithms, alg) {
		return nil, iogate.Errorf(iogate.CodeInvalid, "unsupported signing algorithm %s: use one of %s", iogate.QuoteInput(alg), strings.Join(token.Algorithms, ", "))
	}
	at := s.now().UTC().Truncate(time.Microsecond).Add(retireIn)
	retired, err := s.store.RetireSigningKeys(ctx, alg, at, s.signingKeyRecorder(iogate.ActorFrom(ctx)))
	if err != nil {
		return nil, fmt.Errorf("retire %s signing keys: %w", alg, err)
	}
	s.applySigningKeysChange(ctx)
	return retired, nil
}

// applySigningKeysChange makes this process load the signing keys again after a change
// that it stored. The change is stored, so a failed Sync is logged rather than returned:
// the keyring reloads at the next tick of Run either way, and other processes learn of the
// change through the change feed.
func (s *Service) applySigningKeysChange(ctx context.Context) {
	s.scheduleKeyringReload(s.now())
	s.applyOwnWrite(ctx, nil)
}

// defaultRotationAlgorithm returns the algorithm of the newest key that has no retirement,
// past or scheduled, or configured when there is none. A key with a retirement was either
// rotated out, and then its successor has none, or retired by "retire", which a rotation
// without an algorithm must neither bring back nor undo before it takes effect.
func defaultRotationAlgorithm(keys []*iogate.SigningKey, configured string) string {
	for i := len(keys) - 1; i >= 0; i-- {
		if k := keys[i]; k.RetiredAt.IsZero() {
			return k.Algorithm
		}
	}
	return configured
}

// SigningKeyRevocation is the result of RevokeSigningKey.
type SigningKeyRevocation struct {
	// Revoked is the deleted key.
	Revoked *iogate.SigningKey
	// Replacement is the key that took the revoked key's place, or nil when the revoked
	// key no longer signed and was not scheduled to.
	Replacement *iogate.SigningKey
}

// RevokeSigningKey distrusts the signing key kid at once, for a private key that leaked.
// It deletes the key with its sealed private key, so that it leaves the JWKS and no server
// accepts its tokens once it has reloaded its keyring, which running servers do within
// about a second through the change feed. When the key signs or is scheduled to, a new key
// of its algorithm takes its place in the same transaction, published and signing at the
// same moment, because servers configured with that algorithm need a key to sign with.
// Verifiers that cached the JWKS reject the new key's tokens until they fetch it again.
// It fails with CodeNotFound for an unknown kid. Once the revocation is stored it
// succeeds, as applySigningKeysChange describes, even when the Sync after it fails.
func (s *Service) RevokeSigningKey(ctx context.Context, kid string) (*SigningKeyRevocation, error) {
	if kid == "" {
		return nil, iogate.Errorf(iogate.CodeInvalid, "missing KID: name the signing key to revoke; iogate signing-key list shows the KIDs")
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	// The replacement is generated before the transaction, because an RS256 key takes
	// long enough to generate that holding the store's write lock meanwhile would delay
	// every other write. The store decides again inside the transaction whether it is
	// needed, and a key can only lose the ability to sign meanwhile, never gain it. The
	// store also returns CodeNotFound for an unknown kid.
	var replacement *iogate.SigningKey
	for _, k := range keys {
		if k.KID == kid && k.SignsAtOrAfter(now) {
			if replacement, err = token.GenerateSigningKey(k.Algorithm, s.master, now); err != nil {
				return nil, err
			}
		}
	}
	revoked, inserted, err := s.store.RevokeSigningKey(ctx, kid, now, replacement, s.signingKeyRecorder(iogate.ActorFrom(ctx)))
	if err != nil {
		return nil, fmt.Errorf("revoke signing key %s: %w", kid, err)
	}
	s.applySigningKeysChange(ctx)
	return &SigningKeyRevocation{Revoked: revoked, Replacement: inserted}, nil
}

// keyringHealth remembers a failed reload of the signing keys, for readiness and for
// logging the failure once a minute rather than on every retry.
type keyringHealth struct {
	mu      sync.Mutex
	err     error
	lastLog time.Time
}

// fail records err and reports whether it is the first failure since the last success.
func (h *keyringHealth) fail(err error, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	first := h.err == nil
	h.err = err
	if first {
		h.lastLog = now
	}
	return first
}

// shouldLog reports whether a minute has passed since the failure was last logged.
func (h *keyringHealth) shouldLog(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Sub(h.lastLog) < time.Minute {
		return false
	}
	h.lastLog = now
	return true
}

func (h *keyringHealth) clear() {
	h.mu.Lock()
	h.err = nil
	h.mu.Unlock()
}

func (h *keyringHealth) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}
