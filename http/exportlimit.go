package http

import (
	"sync"

	"github.com/iogate/iogate"
)

// Bounds of the dashboard audit exports that one process runs at once. An export reads the
// log in pages (iogate.EachAuditRecord) and holds no store connection while the browser
// downloads, so the bounds limit the CPU time that page reads and encoding take, not
// connections. The bound per user keeps a member of an account, a viewer included, from
// taking every place. Two per user let a user who cancelled a download start another
// before the server has noticed the cancellation. A slow download costs almost nothing
// while it waits, so the process allows many, and only eight users who keep two slow
// downloads each running take every place.
const (
	maxExportsPerUser = 2
	maxExports        = 16
)

var (
	errExportsOfUser = iogate.Errorf(iogate.CodeRateLimited,
		"You have %d audit exports running. Wait until a download ends, then try again.", maxExportsPerUser)
	errExportsBusy = iogate.Errorf(iogate.CodeRateLimited,
		"Too many audit exports are running on this server. Try again in a minute.")
)

// exportLimit counts the dashboard audit exports that run, by user. Its zero value is ready
// to use. The counts are per process, as the sign-in limits are, so each node of a cluster
// allows its own.
type exportLimit struct {
	mu      sync.Mutex
	running map[string]int
	total   int
}

// start reserves a place for an export by userID, or returns a rate-limited error when the
// user runs maxExportsPerUser or the process maxExports. The caller must call the returned
// function when the export ends, however it ends.
func (l *exportLimit) start(userID string) (done func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.running[userID] >= maxExportsPerUser:
		return nil, errExportsOfUser
	case l.total >= maxExports:
		return nil, errExportsBusy
	}
	if l.running == nil {
		l.running = make(map[string]int)
	}
	l.running[userID]++
	l.total++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total--
		if l.running[userID]--; l.running[userID] == 0 {
			delete(l.running, userID)
		}
	}, nil
}
