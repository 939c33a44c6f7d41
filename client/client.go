// Package client is a Go client for iogate's HTTPS API. It fetches an access token with
// the client credentials grant at /oauth2/token, caches it and refreshes it before it
// expires. It retries requests that failed with 429 or a 5xx status, with backoff that
// honours Retry-After. Errors are *APIError or *OAuthError. A Client is safe for
// concurrent use.
//
// The short way to list vaults:
//
//	c, err := client.New("https://api.example.com", clientID, clientSecret)
//	if err != nil {
//		return err
//	}
//	for v, err := range c.Vaults(ctx) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(v.ID, v.Name, v.Threshold)
//	}
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client calls iogate's API with one API key. Create it with New.
type Client struct {
	baseURL      string
	clientID     string
	clientSecret string
	scopes       []string
	hc           *http.Client
	retry        retryPolicy

	// now and sleep are the clock; tests replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	token *cachedToken
	fetch *tokenFetch
}

// Option changes a Client's settings.
type Option func(*Client)

// WithHTTPClient sets the HTTP client, for example one that trusts a private CA. The
// default is a client with a 30-second timeout. The Client uses a copy of hc that follows
// no redirect, whatever hc.CheckRedirect specifies.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithScopes requests tokens narrowed to these scopes instead of all of the key's scopes.
func WithScopes(scopes ...string) Option { return func(c *Client) { c.scopes = scopes } }

// WithRetries sets how often a request that failed with 429, a 5xx status or a network
// error is retried: default 3, and 0 disables retries. first and longest bound the wait
// between attempts when the response has no Retry-After header (default 200ms and 10s).
func WithRetries(max int, first, longest time.Duration) Option {
	return func(c *Client) { c.retry = retryPolicy{max: max, first: first, longest: longest} }
}

// New returns a client for the API at baseURL (such as https://api.example.com) that
// authenticates with clientID and clientSecret. It makes no request: the first call
// fetches the first token.
func New(baseURL, clientID, clientSecret string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("iogate client: invalid base URL %q: expected https://host[:port]", baseURL)
	}
	if clientID == "" || clientSecret == "" {
		return nil, errors.New("iogate client: the client ID and client secret are required")
	}
	c := &Client{
		baseURL:      strings.TrimRight(baseURL, "/"),
		clientID:     clientID,
		clientSecret: clientSecret,
		hc:           &http.Client{Timeout: 30 * time.Second},
		retry:        retryPolicy{max: 3, first: 200 * time.Millisecond, longest: 10 * time.Second},
		now:          time.Now,
		sleep:        sleepContext,
	}
	for _, o := range opts {
		o(c)
	}
	if c.retry.max < 0 || c.retry.first <= 0 || c.retry.longest < c.retry.first {
		return nil, errors.New("iogate client: invalid retry settings: expected max >= 0 and 0 < first <= longest")
	}
	if c.hc == nil {
		return nil, errors.New("iogate client: the HTTP client is nil")
	}
	// The API never redirects. Go's client would send the client secret or the token to
	// the redirect's target, plain HTTP on the same host included, so a redirect is
	// returned as the response and reported as an error.
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &hc
	return c, nil
}

// Vault is a vault of the key's account.
type Vault struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Threshold int       `json:"threshold"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// VaultPage is one page of vaults. NextCursor is empty on the last page.
type VaultPage struct {
	Vaults     []Vault
	NextCursor string
}

// ListOptions selects a page: at most Limit vaults (1 to 200; 0 means the server's
// default of 50) after Cursor, the NextCursor of the previous page.
type ListOptions struct {
	Limit  int
	Cursor string
}

// ListVaults returns one page of the account's vaults, oldest first. It needs the
// vaults:read scope.
func (c *Client) ListVaults(ctx context.Context, opts ListOptions) (*VaultPage, error) {
	q := url.Values{}
	if opts.Limit != 0 {
		q.Set("limit", fmt.Sprint(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	path := "/v1/vaults"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var page struct {
		Data       []Vault `json:"data"`
		NextCursor string  `json:"nextCursor"`
	}
	if err := c.call(ctx, http.MethodGet, path, nil, "", &page); err != nil {
		return nil, err
	}
	return &VaultPage{Vaults: page.Data, NextCursor: page.NextCursor}, nil
}

// Vaults iterates over all of the account's vaults, oldest first, fetching pages as it
// goes. An error ends the iteration after it is yielded.
func (c *Client) Vaults(ctx context.Context) func(yield func(Vault, error) bool) {
	return func(yield func(Vault, error) bool) {
		opts := ListOptions{Limit: 200}
		for {
			page, err := c.ListVaults(ctx, opts)
			if err != nil {
				yield(Vault{}, err)
				return
			}
			for _, v := range page.Vaults {
				if !yield(v, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			opts.Cursor = page.NextCursor
		}
	}
}

// GetVault returns one vault. A vault that does not exist, or belongs to another account,
// is an *APIError with status 404. It needs the vaults:read scope.
func (c *Client) GetVault(ctx context.Context, id string) (*Vault, error) {
	var v Vault
	if err := c.call(ctx, http.MethodGet, "/v1/vaults/"+url.PathEscape(id), nil, "", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// CreateVault creates a vault in which threshold signers must take part in a signature.
// It needs the vaults:write scope. It sends a random Idempotency-Key, the same on every
// attempt, so it retries after any 5xx status and after a lost connection without the risk
// of creating two vaults: a repeat returns the vault that an earlier attempt created.
// When every attempt fails, the vault may still exist. A caller that wants to repeat the
// creation later, after a restart for example, stores a key of its own and calls
// CreateVaultWithIdempotencyKey.
func (c *Client) CreateVault(ctx context.Context, name string, threshold int) (*Vault, error) {
	return c.CreateVaultWithIdempotencyKey(ctx, name, threshold, rand.Text())
}

// CreateVaultWithIdempotencyKey creates a vault as CreateVault does, with the caller's
// idempotency key: 1 to 255 printable ASCII characters, unique per intended vault, such as
// a random UUID. A call with a key that the account already used returns the vault that
// the key created, unless its name or threshold differ: then the error is an *APIError
// with status 409 and code "conflict". It returns an error without sending a request when
// the key is empty, and the server rejects other invalid keys with 400.
func (c *Client) CreateVaultWithIdempotencyKey(ctx context.Context, name string, threshold int, idempotencyKey string) (*Vault, error) {
	if idempotencyKey == "" {
		return nil, errors.New("iogate client: the idempotency key is empty: pass 1 to 255 printable ASCII characters, or call CreateVault")
	}
	body, err := json.Marshal(map[string]any{"name": name, "threshold": threshold})
	if err != nil {
		return nil, err
	}
	var v Vault
	if err := c.call(ctx, http.MethodPost, "/v1/vaults", body, idempotencyKey, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// call sends an authenticated API request, with an Idempotency-Key header unless
// idempotencyKey is empty, and decodes a successful response into out. A 401 with a cached
// token fetches a new token once and repeats the request, because the token may have been
// revoked or its signing key retired.
func (c *Client) call(ctx context.Context, method, path string, body []byte, idempotencyKey string, out any) error {
	for attempt := 0; ; attempt++ {
		tok, err := c.Token(ctx)
		if err != nil {
			return err
		}
		resp, respBody, err := c.send(ctx, method, path, body, func(req *http.Request) {
			req.Header.Set("Authorization", "Bearer "+tok)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			if idempotencyKey != "" {
				req.Header.Set("Idempotency-Key", idempotencyKey)
			}
		})
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			c.dropToken(tok)
			continue
		}
		if resp.StatusCode >= 300 {
			return newAPIError(resp, respBody)
		}
		if err := json.Unmarshal(respBody, out); err != nil {
			return fmt.Errorf("iogate client: %s %s: decode response: %w", method, path, err)
		}
		return nil
	}
}

// send sends a request, retrying as the retry policy allows, and returns the last
// response with its body read. The request is idempotent, and retried after any failure,
// unless it is a POST other than the token request that prepare gives no Idempotency-Key.
func (c *Client) send(ctx context.Context, method, path string, body []byte, prepare func(*http.Request)) (*http.Response, []byte, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "iogate-go-client")
		prepare(req)

		resp, err := c.hc.Do(req)
		var respBody []byte
		if err == nil {
			respBody, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
		}
		idempotent := method != http.MethodPost || path == "/oauth2/token" || req.Header.Get("Idempotency-Key") != ""
		wait, retry := c.retry.next(attempt, idempotent, resp, err, c.now())
		if !retry {
			if err != nil {
				return nil, nil, fmt.Errorf("iogate client: %s %s: %w", method, path, err)
			}
			return resp, respBody, nil
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, nil, fmt.Errorf("iogate client: %s %s: %w while waiting to retry", method, path, err)
		}
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
