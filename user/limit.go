package user

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Sign-in limits. Each address (an IPv6 address counts as its /64 network, which one host
// usually owns whole) may try 10 sign-ins at once and then one every 6 seconds. Each email,
// and each user's second-factor step, may try 5 at once and then one every 30 seconds from
// one address, and 50 at once and then one every 10 seconds from all addresses together.
// The per-address bucket of an account lets its owner sign in while an attacker elsewhere
// guesses; the shared one still bounds guessing spread over many addresses. Every attempt
// counts, successful ones included, because the check runs before the password hash and so
// bounds the hashing work an attacker can cause.
const (
	addressBurst          = 10
	addressInterval       = 6 * time.Second
	accountBurst          = 5
	accountInterval       = 30 * time.Second
	accountGlobalBurst    = 50
	accountGlobalInterval = 10 * time.Second
	// maxLimiters bounds the memory of the limiter maps. A full map makes room as evict
	// describes, and never refuses an attempt for want of room.
	maxLimiters = 100_000
	limiterIdle = 15 * time.Minute
)

// signInLimits holds one token bucket per client address, one per account name and
// address, and one per account name.
type signInLimits struct {
	now           func() time.Time
	address       *limiterMap
	account       *limiterMap
	accountGlobal *limiterMap
}

func newSignInLimits(now func() time.Time) *signInLimits {
	return &signInLimits{
		now:     now,
		address: &limiterMap{every: rate.Every(addressInterval), burst: addressBurst, entries: map[string]*limiterEntry{}},
		account: &limiterMap{every: rate.Every(accountInterval), burst: accountBurst, entries: map[string]*limiterEntry{}},
		accountGlobal: &limiterMap{every: rate.Every(accountGlobalInterval), burst: accountGlobalBurst,
			entries: map[string]*limiterEntry{}},
	}
}

// allow takes one attempt from the address's bucket and the account's bucket and reports
// whether both had one. An empty key is not limited.
func (l *signInLimits) allow(address, account string) bool {
	now := l.now()
	address = addressBucket(address)
	if address != "" && !l.address.allow(address, now) {
		// An attempt refused by its address adds no account bucket. Otherwise one address
		// could fill the tables with made-up emails and push out the buckets of accounts
		// under attack.
		return false
	}
	return account == "" || l.account.allow(account+"|"+address, now) && l.accountGlobal.allow(account, now)
}

// addressBucket returns the key that an address is limited under: an IPv4 address itself,
// an IPv6 address's /64 network.
func addressBucket(address string) string {
	a, err := netip.ParseAddr(address)
	if err != nil {
		return address
	}
	a = a.Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return a.String()
}

type limiterMap struct {
	every   rate.Limit
	burst   int
	mu      sync.Mutex
	entries map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func (m *limiterMap) allow(key string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	if e == nil {
		if len(m.entries) >= maxLimiters {
			m.evict(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(m.every, m.burst)}
		m.entries[key] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

// evict makes room in a full map. It drops idle entries and those whose bucket has
// refilled, which hold nothing that a new bucket lacks. If more than half of the map is
// still in use, as in a flood from many addresses, it drops the entries with the most
// tokens left until half is free. The bucket of an account under attack is used up, so it
// stays: evicting it would take more used-up buckets than the map has room for. Each
// eviction frees at least half of the map, so its cost is spread over as many new entries.
func (m *limiterMap) evict(now time.Time) {
	type entryTokens struct {
		key    string
		tokens float64
	}
	kept := make([]entryTokens, 0, len(m.entries))
	for k, e := range m.entries {
		tokens := e.lim.TokensAt(now)
		if now.Sub(e.seen) > limiterIdle || tokens >= float64(m.burst) {
			delete(m.entries, k)
			continue
		}
		kept = append(kept, entryTokens{key: k, tokens: tokens})
	}
	excess := len(kept) - maxLimiters/2
	if excess <= 0 {
		return
	}
	slices.SortFunc(kept, func(a, b entryTokens) int { return cmp.Compare(b.tokens, a.tokens) })
	for _, e := range kept[:excess] {
		delete(m.entries, e.key)
	}
}
