package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// mixedRequester is a load client of the mixed scenario: one request in every tokenEvery
// issues a token, with the next of its credentials, and the others read vaults with the
// latest token it received. Each new token is verified once without the cache.
type mixedRequester struct {
	host       string
	paths      paths
	creds      []*credential
	tokenEvery int

	n         int
	cred      int
	vaultsReq []byte
	sentToken bool
}

func (m *mixedRequester) next() []byte {
	m.n++
	m.sentToken = m.vaultsReq == nil || m.n%m.tokenEvery == 0
	if m.sentToken {
		c := m.creds[m.cred%len(m.creds)]
		m.cred++
		return tokenRequest(scenarioToken, m.host, m.paths, c)
	}
	return m.vaultsReq
}

func (m *mixedRequester) done(status int, body []byte) {
	if !m.sentToken || status != 200 {
		return
	}
	if tok, err := parseAccessToken(body); err == nil {
		m.vaultsReq = vaultsRequest(m.host, m.paths, tok)
	}
}

// ChurnStats count the key changes made during a mixed run.
type ChurnStats struct {
	Deletions int `json:"deletions"`
	Rotations int `json:"rotations"`
	// RevocationMs are the times from "iogate key delete" returning to the server's first
	// 401 for a token of the deleted key.
	RevocationMedianMs float64 `json:"revocationMedianMs"`
	RevocationMaxMs    float64 `json:"revocationMaxMs"`
	// NotRevoked counts deleted keys whose token still worked after revocationDeadline.
	NotRevoked int `json:"notRevoked,omitempty"`
	// Errors lists distinct failures, such as a CLI that has no "key rotate" command.
	Errors []string `json:"errors,omitempty"`
}

// revocationDeadline bounds how long the churn loop polls a deleted key's token.
const revocationDeadline = 5 * time.Second

// churn deletes and rotates keys through the iogate CLI while the mixed scenario runs. Every
// interval it alternately deletes a victim key, checking how soon its token is refused,
// and rotates one of the load keys. The rotation's grace period is longer than the run, so
// clients holding the old secret or its tokens keep working.
type churn struct {
	bin, dataDir string
	interval     time.Duration
	target       *target
	paths        paths
	load         []*credential

	mu          sync.Mutex
	victims     []*credential
	rotated     int
	noRotate    bool
	revocations []time.Duration
	stats       ChurnStats
}

func (c *churn) run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	probe := c.target.newConn()
	defer probe.close()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if i%2 == 0 {
			c.deleteOne(ctx, probe)
		} else {
			c.rotateOne(ctx, probe)
		}
	}
}

// deleteOne deletes the next victim key and polls its token until the server refuses it.
func (c *churn) deleteOne(ctx context.Context, probe *conn) {
	c.mu.Lock()
	if len(c.victims) == 0 {
		c.mu.Unlock()
		return
	}
	v := c.victims[0]
	c.victims = c.victims[1:]
	c.mu.Unlock()

	tok, err := fetchToken(ctx, probe, c.target.host, scenarioToken, c.paths, v)
	if err != nil {
		c.fail(fmt.Errorf("token for a key to delete: %w", err))
		return
	}
	read := vaultsRequest(c.target.host, c.paths, tok)
	if status, _, err := probe.do(ctx, read); err != nil || status != 200 {
		c.fail(fmt.Errorf("vault read before deletion: status %d, error %v", status, err))
		return
	}
	if _, err := c.cli(ctx, "key", "delete", v.clientID); err != nil {
		c.fail(err)
		return
	}
	deleted := time.Now()
	for time.Since(deleted) < revocationDeadline && ctx.Err() == nil {
		status, _, err := probe.do(ctx, read)
		if err == nil && status == 401 {
			c.mu.Lock()
			c.stats.Deletions++
			c.revocations = append(c.revocations, time.Since(deleted))
			c.mu.Unlock()
			return
		}
		sleep(ctx, 2*time.Millisecond)
	}
	if ctx.Err() == nil {
		c.mu.Lock()
		c.stats.Deletions++
		c.stats.NotRevoked++
		c.mu.Unlock()
	}
}

// rotateOne rotates the next load key and hands its new secret to the load clients once
// the server accepts it. A running server learns of a CLI rotation through its change feed,
// so the new secret can fail for a few milliseconds while the old one keeps working.
func (c *churn) rotateOne(ctx context.Context, probe *conn) {
	c.mu.Lock()
	if c.noRotate || len(c.load) == 0 {
		c.mu.Unlock()
		return
	}
	cred := c.load[c.rotated%len(c.load)]
	c.rotated++
	c.mu.Unlock()

	out, err := c.cli(ctx, "key", "rotate", cred.clientID, "--grace", "1h")
	if err != nil {
		// Without rotation in the CLI the rest of the run deletes keys only.
		c.mu.Lock()
		c.noRotate = true
		c.mu.Unlock()
		c.fail(err)
		return
	}
	var rotated struct {
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal(out, &rotated); err != nil || rotated.ClientSecret == "" {
		c.fail(errors.New("iogate key rotate printed no clientSecret field"))
		return
	}
	fresh := newCredential(cred.clientID, rotated.ClientSecret)
	accepted := false
	for start := time.Now(); ctx.Err() == nil && time.Since(start) <= revocationDeadline; sleep(ctx, 2*time.Millisecond) {
		if _, err := fetchToken(ctx, probe, c.target.host, scenarioToken, c.paths, fresh); err == nil {
			accepted = true
			break
		}
	}
	// The store holds the new secret as the key's current one whether or not the server
	// accepted it yet. Keeping the old one would break the key for later runs, because the
	// next rotation of the key retires the secret before the current one.
	cred.secret.Store(&rotated.ClientSecret)
	if !accepted {
		if ctx.Err() == nil {
			c.fail(fmt.Errorf("the rotated secret was not accepted within %v", revocationDeadline))
		}
		return
	}
	c.mu.Lock()
	c.stats.Rotations++
	c.mu.Unlock()
}

// cli runs an iogate command on the data directory and returns its JSON output. Its
// stdout carries secrets, so only its stderr ever reaches an error message.
func (c *churn) cli(ctx context.Context, args ...string) ([]byte, error) {
	run := ctx
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(args, "--data-dir", c.dataDir, "--json")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// The run ended and killed the command: that is not a failure of iogate.
		if run.Err() != nil {
			return nil, run.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("iogate %s failed: %v: %s", strings.Join(args[:2], " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// fail records err, unless it only says that the run ended.
func (c *churn) fail(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.stats.Errors, err.Error()) {
		c.stats.Errors = append(c.stats.Errors, err.Error())
	}
}

// result returns the counts so far.
func (c *churn) result() *ChurnStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	if len(c.revocations) > 0 {
		sorted := slices.Clone(c.revocations)
		slices.Sort(sorted)
		s.RevocationMedianMs = ms(percentile(sorted, 0.5))
		s.RevocationMaxMs = ms(sorted[len(sorted)-1])
	}
	return &s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
