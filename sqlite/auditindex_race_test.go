package sqlite

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// tokenLog tracks the records of one account as they are committed, for checks that run
// while more are appended.
type tokenLog struct {
	mu sync.Mutex
	// byClient maps each client to the sequence numbers of its committed records, in
	// commit order.
	byClient map[string][]int64
	// tokens maps each client to the sequence numbers of its committed token.issued records.
	tokens map[string][]int64
}

// add records the committed records. The caller holds l.mu.
func (l *tokenLog) add(records []*iogate.AuditRecord) {
	for _, r := range records {
		l.byClient[r.ClientID] = append(l.byClient[r.ClientID], r.Seq)
		if r.Event == iogate.AuditTokenIssued {
			l.tokens[r.ClientID] = append(l.tokens[r.ClientID], r.Seq)
		}
	}
}

func (l *tokenLog) snapshot(client string, tokensOnly bool) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tokensOnly {
		return slices.Clone(l.tokens[client])
	}
	return slices.Clone(l.byClient[client])
}

// checkListing compares a listing with the records committed before it started (before)
// and after it ended (after). The listing must be strictly descending and contain every
// record of before, and it must be exactly the records of after up to its newest record.
func checkListing(got, before, after []int64) error {
	for i := 1; i < len(got); i++ {
		if got[i] >= got[i-1] {
			return fmt.Errorf("not strictly descending at %d: %d after %d (listing %v)", i, got[i], got[i-1], got)
		}
	}
	seen := make(map[int64]bool, len(got))
	for _, s := range got {
		seen[s] = true
	}
	for _, s := range before {
		if !seen[s] {
			return fmt.Errorf("record %d committed before the listing is missing (listing %v)", s, got)
		}
	}
	var want []int64
	top := int64(0)
	if len(got) > 0 {
		top = got[0]
	}
	for _, s := range slices.Backward(after) {
		if s <= top {
			want = append(want, s)
		}
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("listing %v, want %v", got, want)
	}
	return nil
}

// raceTokenIndex appends token records for clients while indexer runs and several
// goroutines list each client's records page by page, for d.
func raceTokenIndex(t *testing.T, db *DB, account string, clients []string, d time.Duration, indexer func(stop <-chan struct{})) {
	ctx := context.Background()
	chain := newTestChain(t)
	log := &tokenLog{byClient: map[string][]int64{}, tokens: map[string][]int64{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)

	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for {
			select {
			case <-stop:
				return
			default:
			}
			size := 1 + n%13
			batch := make([]*iogate.AuditRecord, 0, size)
			for i := range size {
				client := clients[(n+i*7)%len(clients)]
				event, actor := iogate.AuditTokenIssued, iogate.Actor{Type: iogate.ActorClient, ID: client, IP: "127.0.0.1"}
				if (n+i)%9 == 4 {
					event, actor = iogate.AuditKeyUpdated, iogate.Actor{Type: iogate.ActorOperator, ID: "ops"}
				}
				r, err := chain.NewRecord(account, event, actor, time.Now(), nil)
				if err != nil {
					errs <- err
					return
				}
				r.ClientID = client
				batch = append(batch, r)
			}
			// The log's lock is held across the commit, so that a snapshot taken after a
			// listing includes every record that the listing could have seen.
			log.mu.Lock()
			err := db.AppendAuditRecords(ctx, batch)
			if err == nil {
				log.add(batch)
			}
			log.mu.Unlock()
			if err != nil {
				errs <- fmt.Errorf("AppendAuditRecords failed: %w", err)
				return
			}
			n += size
			time.Sleep(5 * time.Millisecond)
		}
	}()

	if indexer != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			indexer(stop)
		}()
	}

	var listings, failures int
	var countMu sync.Mutex
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				client := clients[(w+i)%len(clients)]
				filters := []struct {
					filter     iogate.AuditFilter
					tokensOnly bool
				}{
					{iogate.AuditFilter{AccountID: account, ClientID: client}, false},
					{iogate.AuditFilter{AccountID: account, ClientID: client, Event: iogate.AuditTokenIssued}, true},
				}
				fc := filters[i%len(filters)]
				before := log.snapshot(client, fc.tokensOnly)
				got, err := listAll(ctx, db, fc.filter, 1+(i%5)*4)
				if err != nil {
					errs <- err
					return
				}
				after := log.snapshot(client, fc.tokensOnly)
				countMu.Lock()
				listings++
				if err := checkListing(got, before, after); err != nil {
					failures++
					if failures <= 3 {
						errs <- fmt.Errorf("client %d, filter %+v: %w", slices.Index(clients, client), fc.filter, err)
					}
				}
				countMu.Unlock()
			}
		}()
	}

	time.Sleep(d)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d listings, %d failures", listings, failures)
}

// indexBackToBack returns a function that runs IndexTokenRecords for account on each of dbs
// in turn, again and again, until stop is closed.
func indexBackToBack(t *testing.T, account string, dbs ...*DB) func(stop <-chan struct{}) {
	return func(stop <-chan struct{}) {
		runs := 0
		for {
			select {
			case <-stop:
				t.Logf("%d index runs", runs)
				return
			default:
			}
			for _, db := range dbs {
				if err := db.IndexTokenRecords(context.Background(), []string{account}); err != nil {
					t.Errorf("IndexTokenRecords failed: %v", err)
					return
				}
			}
			runs++
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// TestTokenIndexRaceManualRuns lists while IndexTokenRecords runs back to back.
func TestTokenIndexRaceManualRuns(t *testing.T) {
	f := newTokenIndexFixture(t)
	raceTokenIndex(t, f.db, f.account, f.clients, 3*time.Second, indexBackToBack(t, f.account, f.db))
}

// TestTokenIndexRaceBackground lists while the database's own goroutine indexes every
// tokenIndexInterval, across two of its runs.
func TestTokenIndexRaceBackground(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for two intervals of the background indexing")
	}
	db := openTestDB(t)
	account := createTestAccount(t, db)
	clients := []string{iogate.NewClientID(), iogate.NewClientID(), iogate.NewClientID()}
	raceTokenIndex(t, db, account, clients, 2*tokenIndexInterval+time.Second, nil)
	var mark int64
	if err := db.reader.QueryRow(`SELECT COALESCE((SELECT seq FROM audit_token_marks WHERE account_id = ?), 0)`, account).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	t.Logf("mark after the run: %d", mark)
	if mark == 0 {
		t.Errorf("the background indexing never moved the mark")
	}
}

// TestTokenIndexRaceTwoHandles lists through a second handle on the same file, as the CLI
// does while the server runs, with both handles indexing the account.
func TestTokenIndexRaceTwoHandles(t *testing.T) {
	f := newTokenIndexFixture(t)
	other := openTestDBAt(t, f.db.Path())
	defer other.Close()
	raceTokenIndex(t, other, f.account, f.clients, 3*time.Second, indexBackToBack(t, f.account, f.db, other))
}
