package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

// failingUseStore is a SQLite store whose RecordKeyUse returns err instead of writing
// while err is set, as a database that stopped responding does.
type failingUseStore struct {
	*sqlite.DB
	err error
}

func (s *failingUseStore) RecordKeyUse(ctx context.Context, uses []iogate.KeyUse) error {
	if s.err != nil {
		return s.err
	}
	return s.DB.RecordKeyUse(ctx, uses)
}

// useLogLine is the part of a JSON log line that the recorder's tests check.
type useLogLine struct {
	Msg        string `json:"msg"`
	Suppressed int    `json:"suppressed"`
}

// readUseLog returns the JSON lines in buf and empties it.
func readUseLog(t *testing.T, buf *bytes.Buffer) []useLogLine {
	t.Helper()
	var lines []useLogLine
	dec := json.NewDecoder(buf)
	for dec.More() {
		var line useLogLine
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("decode log line: %v", err)
		}
		lines = append(lines, line)
	}
	return lines
}

// checkUseLog compares the lines in buf with want, then empties buf.
func checkUseLog(t *testing.T, step string, buf *bytes.Buffer, want []useLogLine) {
	t.Helper()
	got := readUseLog(t, buf)
	if len(got) != len(want) {
		t.Fatalf("log lines %s = %+v, want %+v", step, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("log line %d %s = %+v, want %+v", i, step, got[i], want[i])
		}
	}
}

// TestUseRecorderFailureLogInterval checks that failed writes of last-used times are
// logged once in full, then counted in one line per interval, and that the first write
// that succeeds logs the count left and the end of the failures.
func TestUseRecorderFailureLogInterval(t *testing.T) {
	var buf bytes.Buffer
	db, _ := openService(t, filepath.Join(t.TempDir(), "iogate.db"), nil)
	store := &failingUseStore{DB: db, err: errors.New("connection refused")}
	r := newUseRecorder(store, slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.now = func() time.Time { return clock }

	// One flush a second for 25 seconds, as run does while the store is down.
	for range 25 {
		r.record(iogate.KeyUse{ClientID: "c1", Generation: 1, At: clock})
		r.flush(context.Background())
		clock = clock.Add(time.Second)
	}
	failed := useLogLine{Msg: "record key last-used times failed"}
	summary := func(n int) useLogLine {
		return useLogLine{Msg: "repeated key last-used write failures suppressed", Suppressed: n}
	}
	checkUseLog(t, "after 25 failed writes", &buf, []useLogLine{failed, summary(10), summary(10)})

	// The store responds again: the 4 failures since the last summary get their line.
	store.err = nil
	r.record(iogate.KeyUse{ClientID: "c1", Generation: 1, At: clock})
	r.flush(context.Background())
	checkUseLog(t, "after the store recovered", &buf,
		[]useLogLine{summary(4), {Msg: "record key last-used times succeeded again"}})

	// A new failure is logged in full again.
	store.err = errors.New("connection refused")
	r.record(iogate.KeyUse{ClientID: "c1", Generation: 1, At: clock})
	r.flush(context.Background())
	checkUseLog(t, "after a new failure", &buf, []useLogLine{failed})
}
