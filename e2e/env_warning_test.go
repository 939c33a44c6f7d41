package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestEnvWarningNamesOnly checks that the warning about unused IOGATE_* variables names
// them without their values, which may be secrets: a misspelt IOGATE_DATABASE holds a
// database password. It also checks that an empty IOGATE_MASTER_KEY is named, because the
// key file then silently takes its place.
func TestEnvWarningNamesOnly(t *testing.T) {
	const canary = "canary-pw-1f3e9a"
	env := []string{
		"IOGATE_DATABSE=postgres://iogate:" + canary + "@127.0.0.1:1/iogate",
		"IOGATE_MASTER_KEY=",
	}

	res := testenv.RunCLI(t, t.TempDir(), env, "migrate")
	if res.ExitCode != 0 {
		t.Fatalf("migrate: exit %d", res.ExitCode)
	}
	for _, want := range []string{"no flag of iogate migrate: IOGATE_DATABSE (did you mean IOGATE_DATABASE?);", "count as unset: IOGATE_MASTER_KEY;"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("migrate's standard error lacks %q", want)
		}
	}
	if strings.Contains(res.Stdout+res.Stderr, canary) {
		t.Error("migrate printed the value of IOGATE_DATABSE")
	}

	srv := testenv.Start(t, t.TempDir(), testenv.Options{Env: env})
	logs := srv.SyncedLogs(t)
	if strings.Contains(logs, canary) {
		t.Error("serve logged the value of IOGATE_DATABSE")
	}
	var variables []string
	for _, rec := range logRecords(logs) {
		if rec.str("level") == "WARN" && strings.HasPrefix(rec.str("msg"), "ignoring ") {
			got, _ := json.Marshal(rec["variables"])
			variables = append(variables, string(got))
		}
	}
	if want := []string{`["IOGATE_DATABSE"]`, `["IOGATE_MASTER_KEY"]`}; !slices.Equal(variables, want) {
		t.Errorf("serve's warnings name %v, want %v", variables, want)
	}
}
