package auth_test

import (
	"context"
	"crypto/rand"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/auth"
	"github.com/iogate/iogate/sqlite"
)

// The benchmarks below hold the hot-path budget: run them with
//
//	go test ./auth -run '^$' -bench . -benchmem
//
// They use a real SQLite store in a temporary directory, so they measure what a server
// does, but none of the measured calls may touch the store.

// benchEngine is a started engine with one key, on a fresh SQLite store.
type benchEngine struct {
	svc       *auth.Service
	accountID string
	clientID  string
	secret    string
	remote    netip.Addr
}

func newBenchEngine(b *testing.B) *benchEngine {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "iogate.db"))
	if err != nil {
		b.Fatalf("sqlite.Open: %v", err)
	}
	b.Cleanup(func() { db.Close() })
	raw := make([]byte, 32)
	rand.Read(raw)
	master, err := iogate.NewMasterKey(raw)
	if err != nil {
		b.Fatalf("NewMasterKey: %v", err)
	}
	svc, err := auth.New(ctx, db, master, auth.Config{Issuer: "https://127.0.0.1:8443"})
	if err != nil {
		b.Fatalf("auth.New: %v", err)
	}
	if err := svc.Start(ctx); err != nil {
		b.Fatalf("Start: %v", err)
	}
	account := &iogate.Account{ID: iogate.NewID(), Name: "Bench", Email: "bench@example.com", Status: iogate.AccountActive, CreatedAt: time.Now()}
	rec, err := svc.AuditChain().NewAccountCreatedRecord(account, iogate.Actor{Type: iogate.ActorOperator, ID: "bench"}, "cli")
	if err != nil {
		b.Fatalf("NewAccountCreatedRecord: %v", err)
	}
	if err := db.CreateAccount(ctx, account, rec); err != nil {
		b.Fatalf("CreateAccount: %v", err)
	}
	k, secret, err := svc.CreateKey(ctx, auth.CreateKeyRequest{AccountID: account.ID, Name: "bench"})
	if err != nil {
		b.Fatalf("CreateKey: %v", err)
	}
	return &benchEngine{svc: svc, accountID: account.ID, clientID: k.ClientID, secret: secret.Reveal(), remote: netip.MustParseAddr("127.0.0.1")}
}

func (e *benchEngine) issue(b *testing.B) string {
	b.Helper()
	tok, err := e.svc.IssueToken(context.Background(), auth.TokenRequest{ClientID: e.clientID, ClientSecret: e.secret, RemoteAddr: e.remote})
	if err != nil {
		b.Fatalf("IssueToken: %v", err)
	}
	return tok.AccessToken
}

// BenchmarkAuthenticateCached verifies a token seen before: a hash, a cache read and the
// checks against the live key view.
func BenchmarkAuthenticateCached(b *testing.B) {
	e := newBenchEngine(b)
	tok := e.issue(b)
	ctx := context.Background()
	if _, err := e.svc.Authenticate(ctx, tok, e.remote); err != nil {
		b.Fatalf("Authenticate: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Authenticate(ctx, tok, e.remote); err != nil {
			b.Fatalf("Authenticate: %v", err)
		}
	}
}

// BenchmarkAuthenticateCachedParallel is BenchmarkAuthenticateCached from every CPU at once,
// which shows contention on the cache and view locks.
func BenchmarkAuthenticateCachedParallel(b *testing.B) {
	e := newBenchEngine(b)
	tok := e.issue(b)
	ctx := context.Background()
	if _, err := e.svc.Authenticate(ctx, tok, e.remote); err != nil {
		b.Fatalf("Authenticate: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.Authenticate(ctx, tok, e.remote); err != nil {
				b.Errorf("Authenticate: %v", err)
				return
			}
		}
	})
}

// BenchmarkAuthenticateUncached verifies tokens never seen before: one signature check
// each, plus parsing the JWT.
func BenchmarkAuthenticateUncached(b *testing.B) {
	e := newBenchEngine(b)
	ctx := context.Background()
	b.ReportAllocs()
	// A fresh token per verification keeps the cache out of the measurement. The tokens
	// are issued in batches with the timer stopped.
	const batch = 256
	tokens := make([]string, 0, batch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(tokens) == 0 {
			b.StopTimer()
			for range batch {
				tokens = append(tokens, e.issue(b))
			}
			b.StartTimer()
		}
		tok := tokens[len(tokens)-1]
		tokens = tokens[:len(tokens)-1]
		if _, err := e.svc.Authenticate(ctx, tok, e.remote); err != nil {
			b.Fatalf("Authenticate: %v", err)
		}
	}
}

// BenchmarkDenialLatency times token requests with a wrong secret for a known, an
// unknown and a deleted key's client ID, whose response times must not differ. The audit
// writer commits the known and deleted IDs' records on another goroutine, so each request
// is timed alone, followed by a wait. Compare the reported medians, unknown-p50-ns,
// known-p50-ns and deleted-p50-ns.
func BenchmarkDenialLatency(b *testing.B) {
	e := newBenchEngine(b)
	ctx := context.Background()
	wrong, err := iogate.GenerateSecret()
	if err != nil {
		b.Fatalf("GenerateSecret: %v", err)
	}
	doomed, _, err := e.svc.CreateKey(ctx, auth.CreateKeyRequest{AccountID: e.accountID, Name: "deleted"})
	if err != nil {
		b.Fatalf("CreateKey: %v", err)
	}
	if err := e.svc.DeleteKey(ctx, doomed.ClientID); err != nil {
		b.Fatalf("DeleteKey: %v", err)
	}
	unknown := auth.TokenRequest{ClientID: iogate.NewClientID(), ClientSecret: wrong.Reveal(), RemoteAddr: e.remote}
	known := unknown
	known.ClientID = e.clientID
	deleted := unknown
	deleted.ClientID = doomed.ClientID

	var unknownTimes, knownTimes, deletedTimes []time.Duration
	timeOne := func(req auth.TokenRequest) time.Duration {
		start := time.Now()
		_, err := e.svc.IssueToken(ctx, req)
		elapsed := time.Since(start)
		if err == nil {
			b.Fatal("IssueToken accepted a wrong secret")
		}
		// A busy wait keeps this CPU's caches and clock as warm as under load, which a
		// sleep would not.
		for time.Since(start) < 50*time.Microsecond {
		}
		return elapsed
	}

	for b.Loop() {
		unknownTimes = append(unknownTimes, timeOne(unknown))
		knownTimes = append(knownTimes, timeOne(known))
		deletedTimes = append(deletedTimes, timeOne(deleted))
	}

	median := func(times []time.Duration) float64 {
		slices.Sort(times)
		return float64(times[len(times)/2].Nanoseconds())
	}
	b.ReportMetric(median(unknownTimes), "unknown-p50-ns")
	b.ReportMetric(median(knownTimes), "known-p50-ns")
	b.ReportMetric(median(deletedTimes), "deleted-p50-ns")
}

// BenchmarkIssueToken issues a token: the keyed hash of the secret, the signature, and the
// bookkeeping around them.
func BenchmarkIssueToken(b *testing.B) {
	e := newBenchEngine(b)
	ctx := context.Background()
	req := auth.TokenRequest{ClientID: e.clientID, ClientSecret: e.secret, RemoteAddr: e.remote}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.IssueToken(ctx, req); err != nil {
			b.Fatalf("IssueToken: %v", err)
		}
	}
}

// BenchmarkIssueTokenParallel is BenchmarkIssueToken from every CPU at once.
func BenchmarkIssueTokenParallel(b *testing.B) {
	e := newBenchEngine(b)
	ctx := context.Background()
	req := auth.TokenRequest{ClientID: e.clientID, ClientSecret: e.secret, RemoteAddr: e.remote}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.IssueToken(ctx, req); err != nil {
				b.Errorf("IssueToken: %v", err)
				return
			}
		}
	})
}

// BenchmarkIssueTokenGroupCommit issues tokens from 16 concurrent callers for 1,000 keys,
// as the load generator's 16 clients do: each call waits for the durable commit of its
// audit record, which it shares with the calls that queued meanwhile, and the records of
// different keys land on different index pages. No HTTP or TLS is involved.
func BenchmarkIssueTokenGroupCommit(b *testing.B) {
	e := newBenchEngine(b)
	ctx := context.Background()
	first, err := e.svc.IssueToken(ctx, auth.TokenRequest{ClientID: e.clientID, ClientSecret: e.secret, RemoteAddr: e.remote})
	if err != nil {
		b.Fatalf("IssueToken: %v", err)
	}
	reqs := make([]auth.TokenRequest, 1000)
	for i := range reqs {
		k, secret, err := e.svc.CreateKey(ctx, auth.CreateKeyRequest{AccountID: first.AccountID, Name: "bench"})
		if err != nil {
			b.Fatalf("CreateKey: %v", err)
		}
		reqs[i] = auth.TokenRequest{ClientID: k.ClientID, ClientSecret: secret.Reveal(), RemoteAddr: e.remote}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// A stride that is prime to 1,000 spreads consecutive calls over the keys.
			req := reqs[next.Add(7)%int64(len(reqs))]
			if _, err := e.svc.IssueToken(ctx, req); err != nil {
				b.Errorf("IssueToken: %v", err)
				return
			}
		}
	})
}
