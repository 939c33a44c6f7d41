package token

import (
	"testing"
	"time"
)

// BenchmarkSign and BenchmarkVerify measure one access token per algorithm. Run them with:
// go test ./token -run '^$' -bench . -benchmem
func BenchmarkSign(b *testing.B) {
	for _, alg := range Algorithms {
		b.Run(alg, func(b *testing.B) {
			r, _ := loadTestKeyring(b, alg)
			claims := benchClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Sign(claims); err != nil {
					b.Fatalf("Sign: %v", err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range Algorithms {
		b.Run(alg, func(b *testing.B) {
			r, _ := loadTestKeyring(b, alg)
			tok, err := r.Sign(benchClaims())
			if err != nil {
				b.Fatalf("Sign: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Verify(tok); err != nil {
					b.Fatalf("Verify: %v", err)
				}
			}
		})
	}
}

func benchClaims() *Claims {
	now := time.Now().Unix()
	return &Claims{
		Issuer: "https://127.0.0.1:8443", Subject: "0b0d1f4e-8c55-4a4b-9f3e-2f8f3c1e9a77", Audience: "https://127.0.0.1:8443",
		ClientID: "0b0d1f4e-8c55-4a4b-9f3e-2f8f3c1e9a77", AccountID: "01939d7e-5b1c-7cc1-a1c4-6f0f3b8e2d11", Scope: "vaults:read",
		IssuedAt: now, NotBefore: now, Expiry: now + 3600, ID: "5d0c8a55-0f39-4f7e-8d5c-8a4c3a8f4b21", Generation: 1,
	}
}
