package iogate

import (
	"testing"
	"time"
)

func TestAPIKeyExposure(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	exposedAt := now.Add(-2 * time.Hour)
	graceEnd := now.Add(time.Hour)
	// key returns a key at secret generation 3 exposed at generation exposed, with a
	// previous secret of generation 2 valid until previousUntil, or none when it is zero.
	key := func(exposed int, previousUntil time.Time) *APIKey {
		k := &APIKey{SecretGeneration: 3, Exposed: true, ExposedAt: exposedAt, ExposedGeneration: exposed}
		if !previousUntil.IsZero() {
			k.Previous = &PreviousSecret{Generation: 2, RotatedAt: now.Add(-time.Hour), ExpiresAt: previousUntil}
		}
		return k
	}
	cases := []struct {
		name      string
		key       *APIKey
		wantValid bool
		wantUntil *time.Time
	}{
		{"never exposed", &APIKey{SecretGeneration: 3}, false, nil},
		{"current secret", key(3, time.Time{}), true, nil},
		{"current secret during a grace period", key(3, graceEnd), true, nil},
		{"previous secret during its grace period", key(2, graceEnd), true, &graceEnd},
		{"previous secret at the end of its grace period", key(2, now), false, nil},
		{"previous secret retired without grace", key(2, time.Time{}), false, nil},
		{"older secret", key(1, graceEnd), false, nil},
		{"generation unknown", key(0, time.Time{}), true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.key.ExposedSecretValid(now); got != c.wantValid {
				t.Errorf("ExposedSecretValid = %t, want %t", got, c.wantValid)
			}
			v := c.key.View(now)
			if v.Exposed != c.wantValid {
				t.Errorf("View: Exposed = %t, want %t", v.Exposed, c.wantValid)
			}
			if c.wantValid && (v.ExposedAt == nil || !v.ExposedAt.Equal(exposedAt)) {
				t.Errorf("View: ExposedAt = %v, want %v", v.ExposedAt, exposedAt)
			}
			if !c.wantValid && (v.ExposedAt != nil || v.ExposedGeneration != 0) {
				t.Errorf("View of a key whose exposed secret retired: ExposedAt = %v, ExposedGeneration = %d, want neither", v.ExposedAt, v.ExposedGeneration)
			}
			if c.wantValid && v.ExposedGeneration != c.key.ExposedGeneration {
				t.Errorf("View: ExposedGeneration = %d, want %d", v.ExposedGeneration, c.key.ExposedGeneration)
			}
			if (v.ExposedUntil == nil) != (c.wantUntil == nil) || v.ExposedUntil != nil && !v.ExposedUntil.Equal(*c.wantUntil) {
				t.Errorf("View: ExposedUntil = %v, want %v", v.ExposedUntil, c.wantUntil)
			}
		})
	}
}
