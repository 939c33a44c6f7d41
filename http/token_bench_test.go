package http

import "testing"

// BenchmarkDecodeStrictObject decodes a token request body the way /v1/auth/accessToken
// does. Run it with: go test ./http -run '^$' -bench DecodeStrict -benchmem
func BenchmarkDecodeStrictObject(b *testing.B) {
	body := []byte(`{"clientId":"0b0d1f4e-8c55-4a4b-9f3e-2f8f3c1e9a77","clientSecret":"iogs_3hZ8kQvN1xYbT5mR7pW2cL9dF4gJ6sA0eU8iO1nK3vB7qX2zC5"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeStrictObject(body, "clientId", "clientSecret"); err != nil {
			b.Fatalf("decodeStrictObject: %v", err)
		}
	}
}
