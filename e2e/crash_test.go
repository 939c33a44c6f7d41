package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate/internal/testenv"
	"github.com/iogate/iogate/sqlite"
)

// mutationLedger records what the CLI reported: keys whose creation, rotation or deletion
// it acknowledged, and the commands that were killed before they could report.
type mutationLedger struct {
	mu             sync.Mutex
	live           map[string]createdKey // acknowledged creations not (yet) deleted, with their latest secret
	deleted        map[string]createdKey // acknowledged deletions
	rotations      map[string]int        // acknowledged rotations per key
	killedCreates  int
	killedDeletes  map[string]createdKey // deletions killed midway: either outcome is fine
	killedRotated  map[string]bool       // keys whose rotation was killed midway: the secret is unknown
	completedCount int
}

// cliOutcome runs one CLI command, killing it after killAfter when killAfter > 0. It
// returns the output when the command exited 0, and killed when it did not finish.
func cliOutcome(t *testing.T, dir string, killAfter time.Duration, args ...string) (out []byte, killed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Binary(t), append(args, "--data-dir", dir, "--json")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, false, err
	}
	if killAfter > 0 {
		timer := time.AfterFunc(killAfter, func() { cmd.Process.Kill() })
		defer timer.Stop()
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok && !ee.Exited() {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, &cliError{args: args, stderr: stderr.String()}
	}
	return stdout.Bytes(), false, nil
}

type cliError struct {
	args   []string
	stderr string
}

func (e *cliError) Error() string { return "iogate " + strings.Join(e.args[:2], " ") + ": " + e.stderr }

// hammerTokens requests tokens for live keys until stop closes, so that the server is
// writing last-used records when it is killed. Errors are expected while it is down.
func hammerTokens(srv *testenv.Server, ledger *mutationLedger, stop <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	client := &http.Client{Transport: srv.Client.Transport, Timeout: 2 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		ledger.mu.Lock()
		var k createdKey
		for _, v := range ledger.live {
			k = v
			break
		}
		ledger.mu.Unlock()
		if k.ClientID == "" {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		resp, err := client.Post(srv.URL+"/v1/auth/accessToken", "application/json", strings.NewReader(credentialsJSON(k.ClientID, k.ClientSecret)))
		if err == nil {
			resp.Body.Close()
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestCrashSafety kills the server with SIGKILL again and again while the CLI creates,
// rotates and deletes keys and the server writes last-used and audit records, and kills
// some CLI commands midway. Afterwards every mutation the CLI acknowledged must be there,
// complete and in the audit log, no killed one may be half-applied, the audit chain must
// verify and SQLite's integrity check must pass.
func TestCrashSafety(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := newDataDir(t)
	account := createAccount(t, dir, "Acme", "ops@acme.test")
	ledger := &mutationLedger{live: map[string]createdKey{}, deleted: map[string]createdKey{}, rotations: map[string]int{},
		killedDeletes: map[string]createdKey{}, killedRotated: map[string]bool{}}

	// Each round runs CLI mutations for 1.5s and kills the server at a random moment in
	// that time. The server flushes last-used records every second, so most rounds kill it
	// with its own writes in flight too.
	const rounds, roundLength = 5, 1500 * time.Millisecond
	for round := range rounds {
		srv := testenv.Start(t, dir, testenv.Options{})
		stop := make(chan struct{})
		var hammer sync.WaitGroup
		hammer.Add(1)
		go hammerTokens(srv, ledger, stop, &hammer)
		killAt := time.Duration(300+rng.IntN(1000)) * time.Millisecond
		killTimer := time.AfterFunc(killAt, srv.Kill)

		start := time.Now()
		for op := 0; time.Since(start) < roundLength; op++ {
			killAfter := time.Duration(0)
			if rng.IntN(4) == 0 {
				// Long enough for the process to reach the database some of the time.
				killAfter = time.Duration(5+rng.IntN(60)) * time.Millisecond
			}
			ledger.mu.Lock()
			var victim createdKey
			action := rng.IntN(3) // 0: create, 1: rotate, 2: delete
			if len(ledger.live) > 2 && action > 0 {
				for _, k := range ledger.live {
					victim = k
					break
				}
			}
			ledger.mu.Unlock()

			if victim.ClientID != "" && action == 1 {
				out, killed, err := cliOutcome(t, dir, killAfter, "key", "rotate", victim.ClientID, "--grace", "0")
				ledger.mu.Lock()
				switch {
				case killed:
					// The old or the new secret is valid now, and the new one was never seen:
					// the key leaves the ledger of keys whose secret is known.
					delete(ledger.live, victim.ClientID)
					ledger.killedRotated[victim.ClientID] = true
				case err != nil:
					ledger.mu.Unlock()
					t.Fatalf("round %d op %d: %v", round, op, err)
				default:
					var k createdKey
					if err := json.Unmarshal(out, &k); err != nil || k.ClientSecret == "" || k.ClientID != victim.ClientID {
						ledger.mu.Unlock()
						t.Fatalf("round %d op %d: key rotate printed no new secret", round, op)
					}
					ledger.live[k.ClientID] = k
					ledger.rotations[k.ClientID]++
					ledger.completedCount++
				}
				ledger.mu.Unlock()
				continue
			}
			if victim.ClientID != "" {
				out, killed, err := cliOutcome(t, dir, killAfter, "key", "delete", victim.ClientID)
				ledger.mu.Lock()
				delete(ledger.live, victim.ClientID)
				switch {
				case killed:
					ledger.killedDeletes[victim.ClientID] = victim
				case err != nil:
					ledger.mu.Unlock()
					t.Fatalf("round %d op %d: %v", round, op, err)
				default:
					if !bytes.Contains(out, []byte(`"deleted": true`)) {
						t.Errorf("key delete printed %s", out)
					}
					ledger.deleted[victim.ClientID] = victim
					ledger.completedCount++
				}
				ledger.mu.Unlock()
				continue
			}

			out, killed, err := cliOutcome(t, dir, killAfter, "key", "create", "--account", account, "--name", "crash")
			ledger.mu.Lock()
			switch {
			case killed:
				ledger.killedCreates++
			case err != nil:
				ledger.mu.Unlock()
				t.Fatalf("round %d op %d: %v", round, op, err)
			default:
				var k createdKey
				if err := json.Unmarshal(out, &k); err != nil || k.ClientID == "" || k.ClientSecret == "" {
					ledger.mu.Unlock()
					t.Fatalf("round %d op %d: key create printed no key", round, op)
				}
				ledger.live[k.ClientID] = k
				ledger.completedCount++
			}
			ledger.mu.Unlock()
		}
		killTimer.Stop()
		srv.Kill()
		close(stop)
		hammer.Wait()
	}
	t.Logf("%d acknowledged mutations, %d creates, %d rotations and %d deletes killed midway",
		ledger.completedCount, ledger.killedCreates, len(ledger.killedRotated), len(ledger.killedDeletes))

	srv := testenv.Start(t, dir, testenv.Options{})
	t.Run("acknowledged creations survive intact", func(t *testing.T) {
		for id, k := range ledger.live {
			if r := tokenRequest(t, srv.Client, srv, nil, id, k.ClientSecret); r.status != 200 {
				t.Errorf("key %s, created and acknowledged: token request status %d, want 200", id, r.status)
			}
		}
	})
	t.Run("acknowledged deletions stay deleted", func(t *testing.T) {
		for id, k := range ledger.deleted {
			if r := tokenRequest(t, srv.Client, srv, nil, id, k.ClientSecret); r.status != 401 {
				t.Errorf("key %s, deleted and acknowledged: token request status %d, want 401", id, r.status)
			}
		}
	})
	t.Run("interrupted rotations leave the key", func(t *testing.T) {
		for id := range ledger.killedRotated {
			if res := testenv.RunCLI(t, dir, nil, "key", "show", id); res.ExitCode != 0 {
				t.Errorf("key %s after an interrupted rotation: key show exit %d, want the key", id, res.ExitCode)
			}
		}
	})
	t.Run("interrupted deletions are all or nothing", func(t *testing.T) {
		for id, k := range ledger.killedDeletes {
			r := tokenRequest(t, srv.Client, srv, nil, id, k.ClientSecret)
			res := testenv.RunCLI(t, dir, nil, "key", "show", id)
			exists := res.ExitCode == 0
			if exists != (r.status == 200) {
				t.Errorf("key %s after an interrupted delete: key show exit %d but token status %d", id, res.ExitCode, r.status)
			}
		}
	})
	var listed struct{ Data []struct{ ClientID string } }
	testenv.CLIJSON(t, dir, &listed, "key", "list", "--account", account)
	t.Run("no unexplained keys", func(t *testing.T) {
		unexplained := 0
		for _, k := range listed.Data {
			_, live := ledger.live[k.ClientID]
			_, maybe := ledger.killedDeletes[k.ClientID]
			if !live && !maybe && !ledger.killedRotated[k.ClientID] {
				unexplained++
			}
		}
		if unexplained > ledger.killedCreates {
			t.Errorf("%d keys that no acknowledged create explains, but only %d creates were killed", unexplained, ledger.killedCreates)
		}
	})
	t.Run("audit log records every acknowledged mutation", func(t *testing.T) {
		res := testenv.RunCLI(t, dir, nil, "audit", "export", "--account", account, "--format", "json")
		var records []struct {
			Event    string `json:"event"`
			ClientID string `json:"clientId"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &records); err != nil {
			t.Fatalf("audit export: exit %d, output is not a JSON array: %v", res.ExitCode, err)
		}
		count := map[string]map[string]int{}
		for _, r := range records {
			if count[r.Event] == nil {
				count[r.Event] = map[string]int{}
			}
			count[r.Event][r.ClientID]++
		}
		for id := range ledger.live {
			if count["key.created"][id] != 1 {
				t.Errorf("key %s: %d key.created records, want 1", id, count["key.created"][id])
			}
			if got, want := count["key.rotated"][id], ledger.rotations[id]; got != want {
				t.Errorf("key %s: %d key.rotated records, want the %d acknowledged rotations", id, got, want)
			}
		}
		for id := range ledger.deleted {
			if count["key.deleted"][id] != 1 {
				t.Errorf("deleted key %s: %d key.deleted records, want 1", id, count["key.deleted"][id])
			}
		}
		if res := testenv.RunCLI(t, dir, nil, "audit", "verify"); res.ExitCode != 0 {
			t.Errorf("audit verify after the crashes: exit %d: %s", res.ExitCode, res.Stderr)
		}
	})
	srv.Stop()

	t.Run("store is consistent", func(t *testing.T) {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(dir, "iogate.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if got, err := db.Pragma(ctx, "integrity_check"); err != nil || got != "ok" {
			t.Errorf("PRAGMA integrity_check = %q, %v; want ok", got, err)
		}
		// Every key row was written in one transaction with its change-feed row, so a
		// key without one was half-applied.
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var orphans int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE client_id NOT IN (SELECT client_id FROM key_changes)`).Scan(&orphans); err != nil {
			t.Fatal(err)
		}
		if orphans != 0 {
			t.Errorf("%d keys have no change-feed record: a write was half-applied", orphans)
		}
		for id := range ledger.deleted {
			var changes int
			conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM key_changes WHERE client_id = ?`, id).Scan(&changes)
			if changes < 2 {
				t.Errorf("deleted key %s has %d change-feed records, want its creation and deletion", id, changes)
			}
		}
	})
}
