package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// BenchmarkAppendAuditRecords appends batches of token.issued records of one account, as
// the group commit of token issuance writes them, and reports the cost per record. Each
// batch is one durable commit (synchronous=FULL), so the figure includes a share of an
// fsync; run it on the disk the server uses.
func BenchmarkAppendAuditRecords(b *testing.B) {
	for _, size := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx := context.Background()
			db, account, chain, clients := newAuditBench(b)
			batch := make([]*iogate.AuditRecord, size)
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				for j := range batch {
					client := clients[n%len(clients)]
					n += 7
					r, err := chain.NewRecord(account, iogate.AuditTokenIssued, iogate.Actor{Type: iogate.ActorClient, ID: client, IP: "127.0.0.1"}, time.Now(),
						map[string]any{"scopes": []string{"vaults:read", "vaults:write"}, "secretGeneration": 1, "expiresAt": time.Now().Add(time.Hour).UTC()})
					if err != nil {
						b.Fatal(err)
					}
					r.ClientID, r.TokenID = client, iogate.NewID()
					batch[j] = r
				}
				if err := db.AppendAuditRecords(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// newAuditBench opens a database on the machine's disk with one account, and returns a
// chain and 1,000 client IDs for its records. Records that name one of 1,000 clients
// update the by-client indexes at scattered places, as under real load.
func newAuditBench(b *testing.B) (db *DB, account string, chain *iogate.AuditChain, clients []string) {
	b.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "iogate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if chain, err = iogate.NewAuditChain(make([]byte, 32)); err != nil {
		b.Fatal(err)
	}
	a := &iogate.Account{ID: iogate.NewID(), Name: "Bench", Email: "bench@example.com", Status: iogate.AccountActive, CreatedAt: time.Now().UTC()}
	if err := db.CreateAccount(ctx, a, accountCreatedRecord(b, chain, a)); err != nil {
		b.Fatal(err)
	}
	clients = make([]string, 1000)
	for i := range clients {
		clients[i] = iogate.NewClientID()
	}
	return db, a.ID, chain, clients
}
