package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpOmitsEmptyListDefault runs --help on every command and checks that no flag
// shows "(default [])". That text gives the reader nothing, and it reads as if the flag
// defaulted to an empty list.
func TestHelpOmitsEmptyListDefault(t *testing.T) {
	root, _ := newRootCommand(noEnv, noEnviron, io.Discard, io.Discard)
	var paths [][]string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		paths = append(paths, strings.Fields(c.CommandPath())[1:])
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	checked := 0
	for _, path := range paths {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(path, "--help"), noEnv, noEnviron, &stdout, &stderr); err != nil {
			t.Errorf("iogate %s --help: %v; stderr: %s", strings.Join(path, " "), err, stderr.String())
			continue
		}
		help := stdout.String()
		for _, line := range strings.Split(help, "\n") {
			if strings.Contains(line, "(default [])") {
				t.Errorf("iogate %s --help shows an empty default: %s", strings.Join(path, " "), strings.TrimSpace(line))
			}
		}
		if strings.Contains(help, "stringArray") {
			checked++
		}
	}
	if checked == 0 {
		t.Error("no command's help lists a repeatable flag, so the check above tested nothing")
	}
}

func noEnv(string) string { return "" }

func noEnviron() []string { return nil }

// TestAuditHelpDescribesFilters checks that the help of audit list and audit export lists
// the three filters and every form that --actor takes.
func TestAuditHelpDescribesFilters(t *testing.T) {
	for _, command := range []string{"list", "export"} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"audit", command, "--help"}, noEnv, noEnviron, &stdout, &stderr); err != nil {
			t.Fatalf("iogate audit %s --help: %v; stderr: %s", command, err, stderr.String())
		}
		help := stdout.String()
		for _, want := range []string{"--client-id string", "--actor string", "--event string",
			"EMAIL", "user:ID", "client:CLIENT_ID", "operator:NAME", "system", "With --signing-keys"} {
			if !strings.Contains(help, want) {
				t.Errorf("iogate audit %s --help does not mention %q:\n%s", command, want, help)
			}
		}
	}
}
