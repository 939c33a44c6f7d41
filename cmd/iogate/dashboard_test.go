package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/iogate/iogate/user"
)

// TestLogSweepNamesEachKind checks that logSweep logs each kind of deleted row under a
// message of its own, skips kinds with no deleted rows, and logs a failure with its error.
func TestLogSweepNamesEachKind(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	logSweep(log, user.SweepReport{RevokedTokens: 3, KeyChanges: 2}, errors.New("delete ended sessions: disk I/O error"))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`"level":"INFO","msg":"revocations of expired access tokens swept","revoked_tokens":3}`,
		`"level":"INFO","msg":"change-feed rows older than a day swept","key_changes":2}`,
		`"level":"ERROR","msg":"sweep failed; the next sweep tries again","error":"delete ended sessions: disk I/O error"}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("logSweep logged %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		if !strings.HasSuffix(line, want[i]) {
			t.Errorf("line %d = %s, want it to end with %s", i+1, line, want[i])
		}
	}
}
