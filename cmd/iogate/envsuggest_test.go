package main

import (
	"io"
	"slices"
	"testing"
)

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "ABC", 3},
		{"ABC", "", 3},
		{"DATABASE", "DATABASE", 0},
		{"DATABSE", "DATABASE", 1},
		{"DATABASEE", "DATABASE", 1},
		{"DATEBASE", "DATABASE", 1},
		{"DATBAASE", "DATABASE", 2},
		{"KITTEN", "SITTING", 3},
	}
	for _, c := range cases {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestSuggestVariable checks the suggestions against the variables that the real command
// tree reads.
func TestSuggestVariable(t *testing.T) {
	root, _ := newRootCommand(noEnv, noEnviron, io.Discard, io.Discard)
	known := knownEnvVariables(root)
	for _, name := range []string{"IOGATE_DATABASE", "IOGATE_LISTEN", "IOGATE_NODE_ROLE", "IOGATE_MASTER_KEY"} {
		if _, found := slices.BinarySearch(known, name); !found {
			t.Errorf("knownEnvVariables lacks %s", name)
		}
	}

	cases := []struct {
		name string
		want string
	}{
		{"IOGATE_DATABSE", "IOGATE_DATABASE"},
		{"IOGATE_database", "IOGATE_DATABASE"},
		{"IOGATE_LISTN", "IOGATE_LISTEN"},
		{"IOGATE_TRUSTED_PROXY", "IOGATE_TRUSTED_PROXIES"},
		{"IOGATE_MASTERKEY", "IOGATE_MASTER_KEY"},
		// Known names are spelt right, for the command that reads them.
		{"IOGATE_DATABASE", ""},
		{"IOGATE_NODE_ROLE", ""},
		// Names too far from any known one.
		{"IOGATE_WHATEVER", ""},
		{"IOGATE_X", ""},
	}
	for _, c := range cases {
		if got := suggestVariable(c.name, known); got != c.want {
			t.Errorf("suggestVariable(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
