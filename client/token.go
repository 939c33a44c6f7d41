package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// cachedToken is an access token and when the client should replace it.
type cachedToken struct {
	value     string
	refreshAt time.Time
}

// tokenFetch is one token request in flight; callers that need a token meanwhile wait for
// it instead of sending their own.
type tokenFetch struct {
	done  chan struct{}
	token *cachedToken
	err   error
}

// maxRefreshMargin bounds how long before its expiry a token is replaced.
const maxRefreshMargin = time.Minute

// Token returns a valid access token, from the cache or freshly fetched. A token is
// replaced a minute before it expires, or halfway through its life if that is shorter, so
// that it does not expire in flight. Concurrent callers share one fetch.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	if t := c.token; t != nil && c.now().Before(t.refreshAt) {
		c.mu.Unlock()
		return t.value, nil
	}
	f := c.fetch
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.fetch = f
		go c.runFetch(f)
	}
	c.mu.Unlock()

	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-f.done:
	}
	if f.err != nil {
		return "", f.err
	}
	return f.token.value, nil
}

// runFetch fetches a token for f. It runs apart from any caller's context, so that a
// caller that gives up does not fail the others that wait for the same fetch. The HTTP
// client's timeout and the retry limit bound it.
func (c *Client) runFetch(f *tokenFetch) {
	f.token, f.err = c.fetchToken(context.Background())
	c.mu.Lock()
	if f.err == nil {
		c.token = f.token
	}
	c.fetch = nil
	c.mu.Unlock()
	close(f.done)
}

// dropToken removes tok from the cache if it is still cached, after the API rejected it.
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	if c.token != nil && c.token.value == tok {
		c.token = nil
	}
	c.mu.Unlock()
}

// fetchToken requests a token from /oauth2/token with client_secret_basic. The ID and
// secret are form-encoded before they are joined, as RFC 6749 section 2.3.1 requires.
func (c *Client) fetchToken(ctx context.Context) (*cachedToken, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(c.scopes) > 0 {
		form.Set("scope", strings.Join(c.scopes, " "))
	}
	started := c.now()
	resp, body, err := c.send(ctx, http.MethodPost, "/oauth2/token", []byte(form.Encode()), func(req *http.Request) {
		req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.clientSecret))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, newOAuthError(resp, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("iogate client: decode token response: %w", err)
	}
	if tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer") || tr.ExpiresIn <= 0 {
		return nil, fmt.Errorf("iogate client: token response has token type %q and expires_in %d; expected a Bearer token with a lifetime", tr.TokenType, tr.ExpiresIn)
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	return &cachedToken{value: tr.AccessToken, refreshAt: started.Add(life - min(maxRefreshMargin, life/2))}, nil
}
