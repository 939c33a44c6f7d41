package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
)

// preparedServer creates an account and keys before the server starts, so that the server
// loads them at start and the test spends no request waiting for its change feed.
func preparedServer(t *testing.T, keys int, args ...string) (*testenv.Server, string, []createdKey) {
	t.Helper()
	dir := newDataDir(t)
	account := createAccount(t, dir, "Acme", "ops@acme.test")
	var created []createdKey
	for i := range keys {
		created = append(created, createKey(t, dir, account, "key-"+strconv.Itoa(i)))
	}
	srv := testenv.Start(t, dir, testenv.Options{ProductionLimits: true, Args: args})
	return srv, account, created
}

func retryAfter(t *testing.T, r response) int {
	t.Helper()
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After = %q, want a positive number of seconds", r.header.Get("Retry-After"))
	}
	return n
}

// withoutRequestID returns a response body with the parts that differ per request removed.
func withoutRequestID(t *testing.T, r response) string {
	t.Helper()
	body := r.json(t)
	delete(body, "requestId")
	b, _ := json.Marshal(body)
	return strconv.Itoa(r.status) + " " + string(b)
}

func TestTokenRateLimits(t *testing.T) {
	srv, _, keys := preparedServer(t, 1,
		"--rate-limit-token-per-address", "0.001", "--rate-limit-token-per-address-burst", "8",
		"--rate-limit-token-per-client", "0.001", "--rate-limit-token-per-client-burst", "3",
		"--auth-failures-before-block", "0")
	known := keys[0]
	local := srv.Client

	// The same sequence of requests for an existing and a made-up client ID must get the
	// same responses, so that the limit does not reveal which IDs exist.
	sequence := func(clientID string) []string {
		var out []string
		for range 4 {
			r := tokenRequest(t, local, srv, nil, clientID, "iogs_wrong")
			if r.status == http.StatusTooManyRequests {
				retryAfter(t, r)
			}
			out = append(out, withoutRequestID(t, r))
		}
		return out
	}
	forKnown := sequence(known.ClientID)
	forUnknown := sequence("6f1c2a7e-0c1b-4a8e-9d55-3b6f0e2d9a11")
	for i := range forKnown {
		if forKnown[i] != forUnknown[i] {
			t.Errorf("request %d: known client ID got %s, unknown got %s", i+1, forKnown[i], forUnknown[i])
		}
	}
	if !strings.HasPrefix(forKnown[2], "401 ") || !strings.HasPrefix(forKnown[3], "429 ") {
		t.Errorf("answers %v, want 401 up to the pair's burst of 3 and 429 after", forKnown)
	}

	t.Run("other address keeps its own pair budget", func(t *testing.T) {
		r := tokenRequest(t, clientFrom(t, srv, "127.0.0.2"), srv, nil, known.ClientID, known.ClientSecret)
		if r.status != 200 {
			t.Errorf("token from 127.0.0.2: status %d, want 200", r.status)
		}
	})

	t.Run("per-address limit", func(t *testing.T) {
		r := tokenRequest(t, local, srv, nil, "4a3b7d2e-1111-4a8e-9d55-3b6f0e2d9a11", "iogs_wrong")
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("ninth request from 127.0.0.1: status %d, want 429 (burst of 8 per address)", r.status)
		}
		retryAfter(t, r)
		if code := r.json(t)["code"]; code != "rate_limited" {
			t.Errorf("code = %v, want rate_limited", code)
		}
	})
}

func TestFailedAuthenticationBlocksAddress(t *testing.T) {
	srv, _, keys := preparedServer(t, 1,
		"--auth-failures-before-slowdown", "0", "--auth-failures-before-block", "5", "--auth-block-duration", "1h")
	victim := keys[0]
	attacker := clientFrom(t, srv, "127.0.0.2")

	for i := range 5 {
		if r := tokenRequest(t, attacker, srv, nil, victim.ClientID, "iogs_guess"+strconv.Itoa(i)); r.status != 401 {
			t.Fatalf("guess %d: status %d, want 401", i+1, r.status)
		}
	}
	r := tokenRequest(t, attacker, srv, nil, victim.ClientID, victim.ClientSecret)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("request from the blocked address, even with the right secret: status %d, want 429", r.status)
	}
	if n := retryAfter(t, r); n < 3500 || n > 3600 {
		t.Errorf("Retry-After = %d, want about 3600 (the 1h block)", n)
	}
	if r := do(t, attacker, "GET", srv.URL+"/v1/vaults", map[string]string{"Authorization": "Bearer x"}, ""); r.status != http.StatusTooManyRequests {
		t.Errorf("bearer request from the blocked address: status %d, want 429", r.status)
	}
	if r := tokenRequest(t, srv.Client, srv, nil, victim.ClientID, victim.ClientSecret); r.status != 200 {
		t.Errorf("the key's owner at 127.0.0.1: status %d, want 200: an attacker elsewhere must not lock it out", r.status)
	}
	if logs := srv.SyncedLogs(t); !strings.Contains(logs, "address blocked after repeated failed authentication") || !strings.Contains(logs, `"address":"127.0.0.2/32"`) {
		t.Error("the block was not logged with the address")
	}
	if got := metricValue(t, srv, "iogate_address_blocks_total"); got != 1 {
		t.Errorf("iogate_address_blocks_total = %v, want 1", got)
	}
}

func TestFailedBearerTokensSlowDown(t *testing.T) {
	srv, _, _ := preparedServer(t, 0, "--auth-failures-before-slowdown", "2", "--auth-failures-before-block", "100")
	bad := map[string]string{"Authorization": "Bearer not.a.token"}
	for i := range 3 {
		if r := do(t, srv.Client, "GET", srv.URL+"/v1/vaults", bad, ""); r.status != 401 {
			t.Fatalf("bad token %d: status %d, want 401", i+1, r.status)
		}
	}
	r := do(t, srv.Client, "GET", srv.URL+"/v1/vaults", bad, "")
	if r.status != http.StatusTooManyRequests || retryAfter(t, r) != 1 {
		t.Fatalf("after 3 failures: status %d, Retry-After %q; want 429 and 1", r.status, r.header.Get("Retry-After"))
	}
	time.Sleep(1100 * time.Millisecond)
	if r := do(t, srv.Client, "GET", srv.URL+"/v1/vaults", bad, ""); r.status != 401 {
		t.Fatalf("after waiting: status %d, want 401", r.status)
	}
	r = do(t, srv.Client, "GET", srv.URL+"/v1/vaults", bad, "")
	if r.status != http.StatusTooManyRequests || retryAfter(t, r) != 2 {
		t.Errorf("after the next failure: status %d, Retry-After %q; want 429 and 2 (doubled)", r.status, r.header.Get("Retry-After"))
	}
	if r := do(t, srv.Client, "GET", srv.URL+"/v1/vaults", nil, ""); r.status != http.StatusTooManyRequests {
		t.Errorf("request without a token while slowed down: status %d, want 429", r.status)
	}
}

func TestAPIRateLimitPerKey(t *testing.T) {
	srv, _, keys := preparedServer(t, 2, "--rate-limit-api-per-key", "0.001", "--rate-limit-api-per-key-burst", "2")
	busy := accessToken(t, srv, keys[0].ClientID, keys[0].ClientSecret)
	quiet := accessToken(t, srv, keys[1].ClientID, keys[1].ClientSecret)
	for i := range 2 {
		if r := getVaults(t, srv, busy); r.status != 200 {
			t.Fatalf("request %d: status %d, want 200", i+1, r.status)
		}
	}
	r := getVaults(t, srv, busy)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("third request in a burst of 2: status %d, want 429", r.status)
	}
	retryAfter(t, r)
	if r := getVaults(t, srv, quiet); r.status != 200 {
		t.Errorf("another key's request: status %d, want 200", r.status)
	}
	if got := metricValue(t, srv, `iogate_rate_limit_hits_total{limit="key"}`); got != 1 {
		t.Errorf(`iogate_rate_limit_hits_total{limit="key"} = %v, want 1`, got)
	}
}
