package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAPI is an httptest server that implements the parts of iogate's API the client
// uses. It is a fake at the process edge, and e2e tests the client against the real server.
type fakeAPI struct {
	srv         *httptest.Server
	tokenCalls  atomic.Int32
	vaultCalls  atomic.Int32
	expiresIn   int
	tokenSeq    atomic.Int32
	mu          sync.Mutex
	vaultStatus []int // statuses that /v1/vaults returns before it succeeds
	retryAfter  string
	revoked     map[string]bool
	basicOK     func(id, secret string) bool
	// postKeys are the Idempotency-Key headers of the POST /v1/vaults requests, in order.
	postKeys []string
	// dropPosts is how many POST /v1/vaults requests, from the next one, get their
	// connection closed without a response.
	dropPosts int
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{expiresIn: 3600, revoked: map[string]bool{}}
	f.basicOK = func(id, secret string) bool { return id == "client" && secret == "s3cr+t:%é" }
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", "req-1")
	switch r.URL.Path {
	case "/oauth2/token":
		f.tokenCalls.Add(1)
		id, secret, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if r.FormValue("grant_type") != "client_credentials" || !f.basicOK(id, secret) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d,"scope":"vaults:read"}`, f.tokenSeq.Add(1), f.expiresIn)
	case "/v1/vaults":
		f.vaultCalls.Add(1)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		drop := false
		if r.Method == http.MethodPost {
			f.postKeys = append(f.postKeys, r.Header.Get("Idempotency-Key"))
			drop = f.dropPosts > 0
			if drop {
				f.dropPosts--
			}
		}
		if drop {
			f.mu.Unlock()
			// Panicking with ErrAbortHandler closes the connection without a response.
			panic(http.ErrAbortHandler)
		}
		revoked := f.revoked[tok]
		var status int
		if len(f.vaultStatus) > 0 {
			status, f.vaultStatus = f.vaultStatus[0], f.vaultStatus[1:]
		}
		f.mu.Unlock()
		if revoked {
			status = http.StatusUnauthorized
		}
		if status != 0 {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"status":%d,"code":"code_%d","detail":"failed","requestId":"req-1"}`, status, status)
			return
		}
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"id":"v2","name":"New","threshold":2,"status":"active","createdAt":"2026-01-01T00:00:00Z"}`)
			return
		}
		if r.URL.Query().Get("cursor") == "" {
			fmt.Fprint(w, `{"data":[{"id":"v1","name":"Treasury","threshold":2,"status":"active","createdAt":"2026-01-01T00:00:00Z"}],"nextCursor":"v1"}`)
			return
		}
		fmt.Fprint(w, `{"data":[{"id":"v2","name":"Cold","threshold":3,"status":"active","createdAt":"2026-01-02T00:00:00Z"}]}`)
	default:
		http.NotFound(w, r)
	}
}

// sentKeys returns a copy of postKeys.
func (f *fakeAPI) sentKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.postKeys...)
}

// newTestClient returns a client of f with a settable clock and recorded sleeps.
func newTestClient(t *testing.T, f *fakeAPI, now *atomic.Int64, slept *[]time.Duration) *Client {
	t.Helper()
	c, err := New(f.srv.URL, "client", "s3cr+t:%é", WithHTTPClient(f.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	c.now = func() time.Time { return time.Unix(now.Load(), 0) }
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*slept = append(*slept, d)
		mu.Unlock()
		return nil
	}
	return c
}

func TestVaultsIteratesPages(t *testing.T) {
	f := newFakeAPI(t)
	var now atomic.Int64
	var slept []time.Duration
	c := newTestClient(t, f, &now, &slept)
	var names []string
	for v, err := range c.Vaults(context.Background()) {
		if err != nil {
			t.Fatalf("Vaults: %v", err)
		}
		names = append(names, v.Name)
	}
	if got := strings.Join(names, ","); got != "Treasury,Cold" {
		t.Errorf("Vaults yielded %s, want Treasury,Cold", got)
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1 for both pages", n)
	}
}

func TestTokenCacheAndRefresh(t *testing.T) {
	f := newFakeAPI(t)
	f.expiresIn = 120
	var now atomic.Int64
	now.Store(1_000_000)
	var slept []time.Duration
	c := newTestClient(t, f, &now, &slept)
	ctx := context.Background()

	steps := []struct {
		name      string
		advance   int64
		wantToken string
		wantCalls int32
	}{
		{"first call fetches", 0, "tok-1", 1},
		{"cached while fresh", 30, "tok-1", 1},
		{"still cached before the refresh margin", 29, "tok-1", 1},
		// 120s tokens are replaced 60s before expiry, so at 61s a new one is fetched.
		{"refreshed before expiry", 2, "tok-2", 2},
	}
	for _, st := range steps {
		now.Add(st.advance)
		tok, err := c.Token(ctx)
		if err != nil {
			t.Fatalf("%s: Token: %v", st.name, err)
		}
		if tok != st.wantToken || f.tokenCalls.Load() != st.wantCalls {
			t.Errorf("%s: token %s after %d fetches, want %s after %d", st.name, tok, f.tokenCalls.Load(), st.wantToken, st.wantCalls)
		}
	}
}

func TestConcurrentCallsShareOneToken(t *testing.T) {
	f := newFakeAPI(t)
	var now atomic.Int64
	var slept []time.Duration
	c := newTestClient(t, f, &now, &slept)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := c.ListVaults(context.Background(), ListOptions{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ListVaults: %v", err)
	}
	if n := f.tokenCalls.Load(); n != 1 {
		t.Errorf("token requests = %d for 20 concurrent calls, want 1", n)
	}
}

func TestRetries(t *testing.T) {
	cases := []struct {
		name       string
		method     string
		statuses   []int
		retryAfter string
		wantCalls  int32
		wantSleeps int
		wantSleep  time.Duration // exact sleep expected, when Retry-After sets it
		wantStatus int           // status of the returned *APIError, or 0 for success
	}{
		{"429 with Retry-After seconds", "GET", []int{429}, "2", 2, 1, 2 * time.Second, 0},
		{"503 with Retry-After date", "GET", []int{503}, time.Unix(1_000_003, 0).UTC().Format(http.TimeFormat), 2, 1, 3 * time.Second, 0},
		{"500 then 502 then success", "GET", []int{500, 502}, "", 3, 2, 0, 0},
		{"always 500", "GET", []int{500, 500, 500, 500, 500}, "", 4, 3, 0, 500},
		{"Retry-After too long", "GET", []int{429}, "3600", 1, 0, 0, 429},
		{"404 is not retried", "GET", []int{404}, "", 1, 0, 0, 404},
		{"POST with its key is retried after 500", "POST", []int{500}, "", 2, 1, 0, 0},
		{"POST with its key is retried after 504", "POST", []int{504}, "", 2, 1, 0, 0},
		{"POST is retried after 503", "POST", []int{503}, "1", 2, 1, time.Second, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.vaultStatus = tc.statuses
			f.retryAfter = tc.retryAfter
			var now atomic.Int64
			now.Store(1_000_000)
			var slept []time.Duration
			c := newTestClient(t, f, &now, &slept)
			var err error
			if tc.method == "POST" {
				_, err = c.CreateVault(context.Background(), "New", 2)
			} else {
				_, err = c.ListVaults(context.Background(), ListOptions{})
			}
			var apiErr *APIError
			switch {
			case tc.wantStatus == 0 && err != nil:
				t.Errorf("call error = %v, want success", err)
			case tc.wantStatus != 0 && (!errors.As(err, &apiErr) || apiErr.StatusCode != tc.wantStatus):
				t.Errorf("call error = %v, want *APIError with status %d", err, tc.wantStatus)
			case apiErr != nil && apiErr.Code != fmt.Sprintf("code_%d", tc.wantStatus):
				t.Errorf("APIError code = %q, want code_%d", apiErr.Code, tc.wantStatus)
			}
			if n := f.vaultCalls.Load(); n != tc.wantCalls {
				t.Errorf("requests = %d, want %d", n, tc.wantCalls)
			}
			if len(slept) != tc.wantSleeps {
				t.Fatalf("waits = %v, want %d", slept, tc.wantSleeps)
			}
			if tc.wantSleep != 0 && slept[0] != tc.wantSleep {
				t.Errorf("wait = %v, want %v from Retry-After", slept[0], tc.wantSleep)
			}
			for _, d := range slept {
				if d <= 0 || d > 10*time.Second {
					t.Errorf("wait %v outside (0, 10s]", d)
				}
			}
		})
	}
}

func TestRevokedTokenIsReplacedOnce(t *testing.T) {
	f := newFakeAPI(t)
	var now atomic.Int64
	var slept []time.Duration
	c := newTestClient(t, f, &now, &slept)
	ctx := context.Background()
	if _, err := c.ListVaults(ctx, ListOptions{}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.revoked["tok-1"] = true
	f.mu.Unlock()
	if _, err := c.ListVaults(ctx, ListOptions{}); err != nil {
		t.Fatalf("ListVaults after revocation: %v, want success with a new token", err)
	}
	if n := f.tokenCalls.Load(); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
	// A token refused right after it was fetched is not fetched again in a loop.
	f.mu.Lock()
	f.revoked["tok-2"], f.revoked["tok-3"] = true, true
	f.mu.Unlock()
	var apiErr *APIError
	if _, err := c.ListVaults(ctx, ListOptions{}); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("ListVaults with every token refused = %v, want *APIError 401", err)
	}
	if n := f.tokenCalls.Load(); n != 3 {
		t.Errorf("token requests = %d, want 3", n)
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFakeAPI(t)
	c, err := New(f.srv.URL, "client", "wrong-secret", WithHTTPClient(f.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListVaults(context.Background(), ListOptions{})
	var oauthErr *OAuthError
	if !errors.As(err, &oauthErr) || oauthErr.StatusCode != 401 || oauthErr.ErrorCode != "invalid_client" || oauthErr.RequestID != "req-1" {
		t.Fatalf("ListVaults with a wrong secret = %v, want *OAuthError 401 invalid_client", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Error("the error message contains the client secret")
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	cases := []struct {
		name, baseURL, id, secret string
		opts                      []Option
	}{
		{"plain HTTP", "http://api.example.com", "a", "b", nil},
		{"no host", "https://", "a", "b", nil},
		{"missing secret", "https://api.example.com", "a", "", nil},
		{"negative retries", "https://api.example.com", "a", "b", []Option{WithRetries(-1, time.Second, time.Second)}},
		{"longest below first", "https://api.example.com", "a", "b", []Option{WithRetries(1, time.Second, time.Millisecond)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.baseURL, c.id, c.secret, c.opts...); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-5 * time.Second).Format(http.TimeFormat), 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, ok := retryAfter(c.value, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", c.value, got, ok, c.want, c.ok)
		}
	}
}
