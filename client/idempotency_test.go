package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestCreateVaultSendsOneKeyPerVault checks that CreateVault sends an Idempotency-Key,
// the same on every attempt of one call and a new one for the next call.
func TestCreateVaultSendsOneKeyPerVault(t *testing.T) {
	f := newFakeAPI(t)
	f.vaultStatus = []int{http.StatusGatewayTimeout, http.StatusInternalServerError}
	var now atomic.Int64
	var slept []time.Duration
	c := newTestClient(t, f, &now, &slept)
	ctx := context.Background()

	if _, err := c.CreateVault(ctx, "New", 2); err != nil {
		t.Fatalf("CreateVault after a 504 and a 500: %v, want the vault of the third attempt", err)
	}
	if _, err := c.CreateVault(ctx, "New", 2); err != nil {
		t.Fatalf("second CreateVault: %v", err)
	}
	keys := f.sentKeys()
	if len(keys) != 4 {
		t.Fatalf("POST /v1/vaults requests = %d, want 3 attempts of the first call and 1 of the second", len(keys))
	}
	if keys[0] == "" {
		t.Fatal("CreateVault sent no Idempotency-Key")
	}
	if len(keys[0]) > 255 {
		t.Errorf("Idempotency-Key %q is %d bytes long, want at most 255", keys[0], len(keys[0]))
	}
	if keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("Idempotency-Key of the three attempts = %q, want one key on all", keys[:3])
	}
	if keys[3] == keys[0] {
		t.Errorf("the second CreateVault sent the first call's Idempotency-Key %q, want a new key", keys[3])
	}
}

// TestCreateVaultRetriesLostConnection checks that CreateVault repeats a request whose
// connection closed without a response, with the same key, and returns the vault.
func TestCreateVaultRetriesLostConnection(t *testing.T) {
	f := newFakeAPI(t)
	// Go's Transport itself repeats a request with an Idempotency-Key once when a reused
	// connection closes, so the second drop, on a new connection, reaches the client.
	f.dropPosts = 2
	var now atomic.Int64
	var slept []time.Duration
	c := newTestClient(t, f, &now, &slept)

	v, err := c.CreateVault(context.Background(), "New", 2)
	if err != nil {
		t.Fatalf("CreateVault after two lost connections: %v, want the vault", err)
	}
	if v.ID != "v2" {
		t.Errorf("CreateVault returned vault %q, want v2", v.ID)
	}
	keys := f.sentKeys()
	if len(keys) != 3 {
		t.Fatalf("POST /v1/vaults requests = %d, want 3", len(keys))
	}
	for i, key := range keys {
		if key == "" || key != keys[0] {
			t.Errorf("attempt %d sent Idempotency-Key %q, want %q as the first", i+1, key, keys[0])
		}
	}
	if len(slept) == 0 {
		t.Error("the client did not wait before a retry, so its own retry policy did not repeat the request")
	}
}

// TestCreateVaultWithIdempotencyKey checks that the caller's key is sent as given, and
// that an empty key fails before any request.
func TestCreateVaultWithIdempotencyKey(t *testing.T) {
	f := newFakeAPI(t)
	var now atomic.Int64
	var slept []time.Duration
	c := newTestClient(t, f, &now, &slept)
	ctx := context.Background()

	if _, err := c.CreateVaultWithIdempotencyKey(ctx, "New", 2, "order-42"); err != nil {
		t.Fatalf("CreateVaultWithIdempotencyKey: %v", err)
	}
	if keys := f.sentKeys(); len(keys) != 1 || keys[0] != "order-42" {
		t.Errorf("Idempotency-Key headers sent = %q, want [order-42]", keys)
	}

	if _, err := c.CreateVaultWithIdempotencyKey(ctx, "New", 2, ""); err == nil {
		t.Error("CreateVaultWithIdempotencyKey with an empty key succeeded, want an error")
	}
	if n := f.vaultCalls.Load(); n != 1 {
		t.Errorf("requests after the call with an empty key = %d, want 1", n)
	}
}

// TestRetryPolicyWithoutKey checks that a request that is not idempotent is retried only
// when the server cannot have acted on it.
func TestRetryPolicyWithoutKey(t *testing.T) {
	p := retryPolicy{max: 3, first: time.Millisecond, longest: time.Second}
	now := time.Now()
	response := func(status int) *http.Response { return &http.Response{StatusCode: status, Header: http.Header{}} }
	cases := []struct {
		name       string
		idempotent bool
		resp       *http.Response
		err        error
		want       bool
	}{
		{"500 without a key", false, response(500), nil, false},
		{"504 without a key", false, response(504), nil, false},
		{"lost connection without a key", false, nil, io.ErrUnexpectedEOF, false},
		{"503 without a key", false, response(503), nil, true},
		{"429 without a key", false, response(429), nil, true},
		{"failed dial without a key", false, nil, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"500 with a key", true, response(500), nil, true},
		{"lost connection with a key", true, nil, io.ErrUnexpectedEOF, true},
		{"cancelled with a key", true, nil, context.Canceled, false},
		{"400 with a key", true, response(400), nil, false},
	}
	for _, c := range cases {
		if _, got := p.next(0, c.idempotent, c.resp, c.err, now); got != c.want {
			t.Errorf("next(%s) retries = %t, want %t", c.name, got, c.want)
		}
	}
}
