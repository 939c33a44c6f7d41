package auth

import (
	"slices"
	"strings"

	"github.com/iogate/iogate"
)

// scopeSet is a set of the scopes in iogate.AllScopes, one bit per scope in sorted order,
// so that the key view stores a key's scopes in two bytes and checks a token's scopes
// with one AND.
type scopeSet uint16

var (
	// scopeNames are iogate.AllScopes sorted; bit i of a scopeSet stands for scopeNames[i].
	scopeNames = slices.Sorted(slices.Values(iogate.AllScopes))
	// scopeLists holds the sorted list of every scopeSet, so that reading a key's scopes
	// allocates nothing.
	scopeLists = func() [][]string {
		if len(scopeNames) > 8 {
			return nil
		}
		lists := make([][]string, 1<<len(scopeNames))
		for set := range lists {
			for i, name := range scopeNames {
				if set&(1<<i) != 0 {
					lists[set] = append(lists[set], name)
				}
			}
		}
		return lists
	}()
	// scopeClaims contains the scope claim of every scopeSet, its sorted list joined with
	// spaces, so that cached tokens with the same scopes share one string.
	scopeClaims = func() []string {
		claims := make([]string, len(scopeLists))
		for set, list := range scopeLists {
			claims[set] = strings.Join(list, " ")
		}
		return claims
	}()
	// scopeClaimSets maps each claim of scopeClaims back to its scopeSet.
	scopeClaimSets = func() map[string]scopeSet {
		sets := make(map[string]scopeSet, len(scopeClaims))
		for set, claim := range scopeClaims {
			sets[claim] = scopeSet(set)
		}
		return sets
	}()
)

// scopeBit returns the bit of a known scope.
func scopeBit(name string) (scopeSet, bool) {
	if len(scopeNames) > 16 {
		return 0, false
	}
	i, found := slices.BinarySearch(scopeNames, name)
	if !found {
		return 0, false
	}
	return 1 << i, true
}

// newScopeSet returns the set of list when list is sorted, without duplicates and of known
// scopes only, as iogate.ValidateScopes leaves it. The set's list() is then equal to list.
// It returns false for any other list.
func newScopeSet(list []string) (scopeSet, bool) {
	var set scopeSet
	for i, name := range list {
		bit, ok := scopeBit(name)
		if !ok || i > 0 && list[i-1] >= name {
			return 0, false
		}
		set |= bit
	}
	return set, true
}

// list returns the scopes of s in sorted order. The slice may be shared: do not modify
// it.
func (s scopeSet) list() []string {
	if int(s) < len(scopeLists) {
		return scopeLists[s]
	}
	var out []string
	for i, name := range scopeNames {
		if s&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// tokenScopes parses a token's space-separated scope claim into its list and, when every
// scope is known, its set.
func tokenScopes(claim string) (set scopeSet, known bool, list []string) {
	list = strings.Fields(claim)
	known = true
	for _, name := range list {
		bit, ok := scopeBit(name)
		if !ok {
			known = false
		}
		set |= bit
	}
	return set, known, list
}
