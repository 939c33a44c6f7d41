package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// knownEnvVariables returns, sorted, every IOGATE_* variable that some command of cmd's
// tree reads: those of the global flags and of the flags of serve and migrate, and
// otherEnvVariables.
func knownEnvVariables(cmd *cobra.Command) []string {
	var names []string
	add := func(f *pflag.Flag) { names = append(names, envVariable(f.Name)) }
	root := cmd.Root()
	root.PersistentFlags().VisitAll(add)
	for _, c := range root.Commands() {
		if c.Annotations[envAnnotation] == "all" {
			c.Flags().VisitAll(add)
		}
	}
	for name := range otherEnvVariables {
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// suggestVariable returns the name in known, which is sorted, that is closest to name by
// edit distance, ignoring case, or "" when none is close. A name is close when it is at
// most two edits away, or a quarter of the length after IOGATE_ for longer names, so that
// IOGATE_TRUSTED_PROXY finds IOGATE_TRUSTED_PROXIES. A name that is itself in known gets
// no suggestion, because it is spelt right for another command.
func suggestVariable(name string, known []string) string {
	if _, found := slices.BinarySearch(known, name); found {
		return ""
	}
	upper := strings.ToUpper(name)
	maxDistance := max(2, len(strings.TrimPrefix(upper, "IOGATE_"))/4)
	best, bestDistance := "", maxDistance+1
	for _, candidate := range known {
		if d := editDistance(upper, candidate); d < bestDistance {
			best, bestDistance = candidate, d
		}
	}
	return best
}

// editDistance returns the Levenshtein distance between a and b: the fewest insertions,
// deletions and substitutions of one byte that turn a into b. Bytes suffice because
// environment variable names are ASCII.
func editDistance(a, b string) int {
	// previous[j] is the distance between the first i-1 bytes of a and the first j of b.
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			substitution := previous[j-1]
			if a[i-1] != b[j-1] {
				substitution++
			}
			current[j] = min(previous[j]+1, current[j-1]+1, substitution)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}
