package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
)

// Scenario names, as --scenario takes them.
const (
	scenarioToken       = "token"
	scenarioOAuth2Token = "oauth2-token"
	scenarioVaults      = "vaults"
	scenarioMixed       = "mixed"
)

var allScenarios = []string{scenarioToken, scenarioOAuth2Token, scenarioVaults, scenarioMixed}

// credential is a client ID and secret. The mixed scenario rotates keys while the load
// runs, so the secret is replaced atomically and read once per token request.
type credential struct {
	clientID string
	secret   atomic.Pointer[string]
}

func newCredential(clientID, secret string) *credential {
	c := &credential{clientID: clientID}
	c.secret.Store(&secret)
	return c
}

// errUnavailable marks a scenario the target does not serve, such as a token endpoint
// that answers 404. The harness reports it and goes on with the other scenarios.
var errUnavailable = errors.New("scenario unavailable")

// requester produces one load client's requests. next returns the serialized request to
// send; done sees each response, whose body is valid only during the call.
type requester interface {
	next() []byte
	done(status int, body []byte)
}

// paths are the endpoints the scenarios call.
type paths struct {
	token  string
	oauth2 string
	vaults string
}

// tokenRequest serializes a token request of the given scenario for cred's current secret.
func tokenRequest(scenario, host string, p paths, cred *credential) []byte {
	secret := *cred.secret.Load()
	if scenario == scenarioOAuth2Token {
		// RFC 6749 section 2.3.1: the ID and secret are form-encoded before Basic encoding.
		basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(cred.clientID) + ":" + url.QueryEscape(secret)))
		return requestBytes("POST", host, p.oauth2, [][2]string{
			{"Authorization", "Basic " + basic},
			{"Content-Type", "application/x-www-form-urlencoded"},
			{"Accept", "application/json"},
		}, []byte("grant_type=client_credentials"))
	}
	body, _ := json.Marshal(map[string]string{"clientId": cred.clientID, "clientSecret": secret})
	return requestBytes("POST", host, p.token, [][2]string{
		{"Content-Type", "application/json"},
		{"Accept", "application/json"},
	}, body)
}

func vaultsRequest(host string, p paths, accessToken string) []byte {
	return requestBytes("GET", host, p.vaults, [][2]string{
		{"Authorization", "Bearer " + accessToken},
		{"Accept", "application/json"},
	}, nil)
}

// parseAccessToken reads the token from a response of either token endpoint: iogate's
// own ("accessToken") or RFC 6749's ("access_token").
func parseAccessToken(body []byte) (string, error) {
	var r struct {
		OAuth2 string `json:"access_token"`
		IOGate string `json:"accessToken"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("token response is not JSON: %w", err)
	}
	if r.OAuth2 != "" {
		return r.OAuth2, nil
	}
	if r.IOGate != "" {
		return r.IOGate, nil
	}
	return "", errors.New("token response has neither access_token nor accessToken")
}

// cycle sends a fixed list of requests round-robin and ignores the responses.
type cycle struct {
	reqs [][]byte
	i    int
}

func (c *cycle) next() []byte {
	r := c.reqs[c.i%len(c.reqs)]
	c.i++
	return r
}

func (c *cycle) done(int, []byte) {}

// share returns the items of list that load client worker of clients uses: every
// clients-th item, or one item when list is shorter than clients.
func share[T any](list []T, worker, clients int) []T {
	if len(list) <= clients {
		return []T{list[worker%len(list)]}
	}
	var out []T
	for i := worker; i < len(list); i += clients {
		out = append(out, list[i])
	}
	return out
}

// fetchTokens obtains one access token per credential through the token endpoint of
// scenario, over clients parallel connections.
func fetchTokens(ctx context.Context, t *target, scenario string, p paths, creds []*credential, clients int) ([]string, error) {
	tokens := make([]string, len(creds))
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := t.newConn()
			defer c.close()
			for i := w; i < len(creds); i += clients {
				tok, err := fetchToken(ctx, c, t.host, scenario, p, creds[i])
				if err != nil {
					errs[w] = err
					return
				}
				tokens[i] = tok
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return tokens, nil
}

func fetchToken(ctx context.Context, c *conn, host, scenario string, p paths, cred *credential) (string, error) {
	status, body, err := c.do(ctx, tokenRequest(scenario, host, p, cred))
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	path := p.token
	if scenario == scenarioOAuth2Token {
		path = p.oauth2
	}
	switch {
	case status == 404 || status == 405:
		return "", fmt.Errorf("%w: POST %s returned status %d", errUnavailable, path, status)
	case status != 200:
		return "", fmt.Errorf("POST %s for client %s returned status %d", path, cred.clientID, status)
	}
	return parseAccessToken(body)
}
