package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// keyChangeCases check that the sweep's delete of old change-feed rows takes the oldest
// rows only, in batches, and that later changes keep numbers above every deleted one.
var keyChangeCases = []struct {
	name string
	fn   func(t *testing.T, s iogate.Store)
}{
	{"DeleteKeyChangesBefore", testDeleteKeyChangesBefore},
	{"DeleteKeyChangesKeepsNumbering", testDeleteKeyChangesKeepsNumbering},
}

// keyChangeSeqs returns the sequence numbers of every stored key change, in order.
func keyChangeSeqs(t *testing.T, s iogate.Store) []int64 {
	t.Helper()
	changes, err := s.KeyChangesSince(ctxFor(t), 0)
	must(t, "KeyChangesSince 0", err)
	seqs := make([]int64, len(changes))
	for i, c := range changes {
		seqs[i] = c.Seq
	}
	return seqs
}

// waitForClockPast returns once the wall clock has passed at, polling it at most 1000
// times, so that rows stamped afterwards are recorded after at.
func waitForClockPast(t *testing.T, at time.Time) {
	t.Helper()
	for range 1000 {
		if time.Now().After(at) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the clock did not pass %s", at)
}

// testDeleteKeyChangesBefore records changes before and after a cutoff and deletes in
// batches of two: the changes recorded before the cutoff go, the later ones stay with
// their numbers.
func testDeleteKeyChangesBefore(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	for range 3 {
		storedKey(t, s, a.ID)
	}
	lastOld, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)
	// The stores stamp changes with the wall clock, to the microsecond.
	cutoff := time.Now().Add(500 * time.Microsecond)
	waitForClockPast(t, cutoff.Add(500*time.Microsecond))
	for range 2 {
		storedKey(t, s, a.ID)
	}
	all := keyChangeSeqs(t, s)
	var old, recent []int64
	for _, seq := range all {
		if seq <= lastOld {
			old = append(old, seq)
		} else {
			recent = append(recent, seq)
		}
	}
	if len(old) < 3 || len(recent) != 2 {
		t.Fatalf("key changes = %v with the last old one %d, want at least 3 old and 2 recent", all, lastOld)
	}
	latest, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	n, err := s.DeleteKeyChangesBefore(ctx, cutoff, 0)
	must(t, "DeleteKeyChangesBefore with limit 0", err)
	if n != 0 {
		t.Errorf("DeleteKeyChangesBefore with limit 0 deleted %d changes, want 0", n)
	}
	deleted := 0
	for batch := 1; batch <= len(all); batch++ {
		n, err := s.DeleteKeyChangesBefore(ctx, cutoff, 2)
		must(t, "DeleteKeyChangesBefore", err)
		if n > 2 {
			t.Errorf("DeleteKeyChangesBefore batch %d of at most 2 deleted %d changes", batch, n)
		}
		deleted += n
		if n == 0 {
			break
		}
	}
	if deleted != len(old) {
		t.Errorf("DeleteKeyChangesBefore deleted %d changes in all, want the %d recorded before the cutoff", deleted, len(old))
	}
	if got := keyChangeSeqs(t, s); !slices.Equal(got, recent) {
		t.Errorf("key changes after the deletes = %v, want %v", got, recent)
	}
	if got, err := s.LatestKeyChange(ctx); err != nil || got != latest {
		t.Errorf("LatestKeyChange after the deletes = %d, %v, want %d", got, err, latest)
	}
}

// testDeleteKeyChangesKeepsNumbering deletes every change and records another: it gets a
// number above every deleted one, so that a server whose cursor is at the last deleted
// change still reads it. LatestKeyChange keeps the last deleted number meanwhile.
func testDeleteKeyChangesKeepsNumbering(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	a := newAccount(t, s)
	storedKey(t, s, a.ID)
	cursor, err := s.LatestKeyChange(ctx)
	must(t, "LatestKeyChange", err)

	n, err := s.DeleteKeyChangesBefore(ctx, time.Now().Add(time.Hour), 500)
	must(t, "DeleteKeyChangesBefore", err)
	if n < 1 {
		t.Errorf("DeleteKeyChangesBefore of every change deleted %d changes, want at least 1", n)
	}
	if got := keyChangeSeqs(t, s); len(got) != 0 {
		t.Errorf("key changes after deleting every one = %v, want none", got)
	}
	// A running server takes a latest change below its own for a restored database.
	if got, err := s.LatestKeyChange(ctx); err != nil || got != cursor {
		t.Errorf("LatestKeyChange after deleting every change = %d, %v, want the last deleted one, %d", got, err, cursor)
	}

	k := storedKey(t, s, a.ID)
	changes, err := s.KeyChangesSince(ctx, cursor)
	must(t, "KeyChangesSince", err)
	if len(changes) != 1 || changes[0].ClientID != k.ClientID || changes[0].Seq <= cursor {
		t.Errorf("KeyChangesSince %d after deleting every change = %+v, want one change of %s numbered above %d",
			cursor, changes, k.ClientID, cursor)
	}
}
