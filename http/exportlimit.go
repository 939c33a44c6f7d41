package http

import (
	"sync"

	"github.com/iogate/iogate"
)

// maxExports is how many dashboard audit exports one process runs at once. An export holds
// a store connection until the browser has downloaded it, which a slow reader can stretch to
// --write-timeout. The SQLite store reads through 8 connections and a PostgreSQL pool has 4
// by default on a 2-core machine, so without a bound a signed-in user could hold every one
// of them and stall the pages, the key view's resyncs and, on PostgreSQL, the audit writes
// of token issuance.
const maxExports = 2

var (
	errExportRunning = iogate.Errorf(iogate.CodeRateLimited,
		"An export of this account's audit log is already running. Wait until its download ends, then try again.")
	errExportsBusy = iogate.Errorf(iogate.CodeRateLimited,
		"Too many audit exports are running on this server. Try again in a minute.")
)

// exportLimit bounds the dashboard audit exports that run at once: one per account, and
// maxExports in the process. Its zero value is ready to use. The bound is per process, as
// the sign-in limits are, so each node of a cluster allows its own.
type exportLimit struct {
	mu      sync.Mutex
	running map[string]bool
}

// start reserves a place for an export of accountID's log, or returns a rate-limited error
// when the account has one running or the process has maxExports. The caller must call the
// returned function when the export ends, however it ends.
func (l *exportLimit) start(accountID string) (done func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.running[accountID]:
		return nil, errExportRunning
	case len(l.running) >= maxExports:
		return nil, errExportsBusy
	}
	if l.running == nil {
		l.running = make(map[string]bool, maxExports)
	}
	l.running[accountID] = true
	return func() {
		l.mu.Lock()
		delete(l.running, accountID)
		l.mu.Unlock()
	}, nil
}
