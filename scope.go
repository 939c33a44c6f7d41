package iogate

import (
	"slices"
	"strings"
)

// Scopes that API keys and access tokens can carry. This list is the single place where
// scopes are defined; every endpoint names the one it needs.
const (
	ScopeVaultsRead  = "vaults:read"
	ScopeVaultsWrite = "vaults:write"
)

// AllScopes lists every scope, in the order documentation and the dashboard show them.
var AllScopes = []string{ScopeVaultsRead, ScopeVaultsWrite}

// DefaultScopes are given to a key created without explicit scopes.
var DefaultScopes = []string{ScopeVaultsRead}

// ValidateScopes checks that every entry is a known scope and returns them sorted and
// without duplicates. An empty list is invalid: a key must be able to do something.
func ValidateScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, Errorf(CodeInvalid, "at least one scope is required; known scopes: %s", strings.Join(AllScopes, ", "))
	}
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if !slices.Contains(AllScopes, s) {
			return nil, Errorf(CodeInvalidScope, "unknown scope %s; known scopes: %s", QuoteInput(s), strings.Join(AllScopes, ", "))
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ScopeSubset reports whether every scope in sub is also in set.
func ScopeSubset(sub, set []string) bool {
	for _, s := range sub {
		if !slices.Contains(set, s) {
			return false
		}
	}
	return true
}
