package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iogate/iogate"
	"github.com/iogate/iogate/sqlite"
)

// unblockChanges returns the address_unblock changes stored in the SQLite database of dir.
func unblockChanges(t *testing.T, dir string) []iogate.KeyChange {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "iogate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	changes, err := db.KeyChangesSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []iogate.KeyChange
	for _, c := range changes {
		if c.Kind == iogate.ChangeAddressUnblock {
			out = append(out, c)
		}
	}
	return out
}

// TestAddressUnblockOutput records unblocks of an IPv4 address, an IPv4 prefix and an IPv6
// address, in text and JSON, and checks the output and the changes stored: the IPv6
// address is widened to its /64, and each change names the operator.
func TestAddressUnblockOutput(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, err := runCLI(t, dir, nil, "migrate"); err != nil {
		t.Fatalf("iogate migrate: %v; stderr %s", err, stderr)
	}

	stdout, stderr, err := runCLI(t, dir, nil, "address", "unblock", "203.0.113.7")
	if err != nil {
		t.Fatalf("iogate address unblock 203.0.113.7: %v; stderr %s", err, stderr)
	}
	if !strings.HasPrefix(stdout, "Recorded an unblock of 203.0.113.7/32. Every running server lifts the block") {
		t.Errorf("text output %q, want it to start with the recorded prefix", stdout)
	}
	if !strings.Contains(stdout, "An address that no server has blocked is not an error.") {
		t.Errorf("text output %q does not say that an address no server blocked is not an error", stdout)
	}

	var out map[string]any
	runCLIJSON(t, dir, nil, &out, "address", "unblock", "198.51.100.0/24")
	if diff := cmp.Diff(map[string]any{"address": "198.51.100.0/24", "recorded": true}, out); diff != "" {
		t.Errorf("address unblock 198.51.100.0/24 --json (-want +got):\n%s", diff)
	}

	stdout, stderr, err = runCLI(t, dir, nil, "address", "unblock", "2001:db8:1:2::5")
	if err != nil {
		t.Fatalf("iogate address unblock 2001:db8:1:2::5: %v; stderr %s", err, stderr)
	}
	if !strings.HasPrefix(stdout, "Servers count IPv6 addresses per /64, so the unblock of 2001:db8:1:2::5 covers 2001:db8:1:2::/64.\n") {
		t.Errorf("text output %q, want it to name the /64 that the address widens to", stdout)
	}

	operator := operatorActor(noEnv).ID
	want := []iogate.KeyChange{
		{Kind: iogate.ChangeAddressUnblock, Address: "203.0.113.7/32", Operator: operator},
		{Kind: iogate.ChangeAddressUnblock, Address: "198.51.100.0/24", Operator: operator},
		{Kind: iogate.ChangeAddressUnblock, Address: "2001:db8:1:2::/64", Operator: operator},
	}
	if diff := cmp.Diff(want, unblockChanges(t, dir), cmpopts.IgnoreFields(iogate.KeyChange{}, "Seq")); diff != "" {
		t.Errorf("stored unblocks (-want +got):\n%s", diff)
	}
}

// TestAddressUnblockRejectsInvalidInput runs the command with arguments that name no
// address or prefix in canonical form: each fails with an error that names the argument,
// as JSON with --json, and records nothing.
func TestAddressUnblockRejectsInvalidInput(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, err := runCLI(t, dir, nil, "migrate"); err != nil {
		t.Fatalf("iogate migrate: %v; stderr %s", err, stderr)
	}
	cases := []struct {
		name, arg, want string
	}{
		{"host bits", "10.0.0.1/8", `iogate: invalid address "10.0.0.1/8": host bits are set; the network is 10.0.0.0/8`},
		{"IPv6 prefix longer than /64", "2001:db8::/96", `invalid address "2001:db8::/96": the rate limits count IPv6 addresses per /64`},
		{"host name", "office.example", `invalid address "office.example": "office.example" is not an IPv4 or IPv6 address`},
		{"leading zero", "10.0.0.01", "leading zeros are not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, dir, nil, "address", "unblock", c.arg)
			if err == nil {
				t.Fatalf("iogate address unblock %s succeeded with output %q, want an error", c.arg, stdout)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("iogate address unblock %s: stderr %q, want it to contain %q", c.arg, stderr, c.want)
			}

			_, stderr, err = runCLI(t, dir, nil, "address", "unblock", c.arg, "--json")
			if err == nil {
				t.Fatalf("iogate address unblock %s --json succeeded, want an error", c.arg)
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(stderr), &body); err != nil {
				t.Fatalf("iogate address unblock %s --json: stderr %q is not JSON: %v", c.arg, stderr, err)
			}
			if body.Error.Code != "invalid_request" {
				t.Errorf("iogate address unblock %s --json: error code %q, want invalid_request", c.arg, body.Error.Code)
			}
		})
	}
	if got := unblockChanges(t, dir); len(got) != 0 {
		t.Errorf("stored unblocks after invalid arguments = %+v, want none", got)
	}
}
