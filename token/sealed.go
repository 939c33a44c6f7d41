package token

// SealedName returns the name that binds the sealed private key of signing key kid to its
// slot under the master key, for re-encrypting it under a new master key.
func SealedName(kid string) string { return privateKeyName(kid) }
