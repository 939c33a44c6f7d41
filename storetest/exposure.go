package storetest

import (
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// RunExposedGenerationBackfill checks the migration that adds the exposed secret
// generation to API keys and fills it in for keys exposed before it. It exposes and
// rotates keys on s the way an iogate without the column did, with key.exposed records at
// known times, prunes the records of one account, and then calls remigrate. remigrate must
// take the database back to the schema before that migration, dropping the column, and
// return a store on it that has applied the migration again. The migration must take the
// generation from the newest key.exposed record that retention kept: the previous
// generation when that record is older than the current secret, else the current one.
func RunExposedGenerationBackfill(t *testing.T, s iogate.Store, remigrate func(t *testing.T) iogate.Store) {
	t.Helper()
	ctx := ctxFor(t)
	a, b := newAccount(t, s), newAccount(t, s)
	// updateAt changes k with change and appends a record of event at the given time.
	updateAt := func(k *iogate.APIKey, event string, at time.Time, change func(k *iogate.APIKey)) *iogate.AuditRecord {
		t.Helper()
		rec := record(t, k.AccountID, event, k.ClientID)
		rec.Time = at
		_, err := s.UpdateAPIKey(ctx, k.ClientID, func(k *iogate.APIKey) (*iogate.AuditRecord, error) {
			change(k)
			return rec, nil
		})
		must(t, "UpdateAPIKey("+event+")", err)
		return rec
	}
	// expose marks k exposed at at, keeping the time of an earlier exposure, as iogate
	// did before the column existed.
	expose := func(k *iogate.APIKey, at time.Time) *iogate.AuditRecord {
		t.Helper()
		return updateAt(k, iogate.AuditKeyExposed, at, func(k *iogate.APIKey) {
			if !k.Exposed {
				k.Exposed, k.ExposedAt = true, at
			}
		})
	}
	rotateAt := func(k *iogate.APIKey, at time.Time) *iogate.AuditRecord {
		t.Helper()
		return updateAt(k, iogate.AuditKeyRotated, at, func(k *iogate.APIKey) { rotate(k, at) })
	}
	newExposable := func(accountID string) *iogate.APIKey {
		t.Helper()
		k := newKey(accountID, base)
		must(t, "CreateAPIKey", s.CreateAPIKey(ctx, k, created(t, k)))
		return k
	}

	// The exposed secret is still the current one.
	current := newExposable(a.ID)
	expose(current, base.Add(time.Minute))

	// The exposed secret was rotated away: it is the previous one.
	previous := newExposable(a.ID)
	expose(previous, base.Add(time.Minute))
	rotateAt(previous, base.Add(2*time.Minute))

	// The new secret was exposed too, after the rotation. exposed_at keeps the first
	// exposure, so only the audit record shows the second one.
	both := newExposable(a.ID)
	expose(both, base.Add(time.Minute))
	rotateAt(both, base.Add(2*time.Minute))
	expose(both, base.Add(3*time.Minute))

	// Retention pruned the records of this exposure and rotation, so the current
	// generation is assumed.
	pruned := newExposable(b.ID)
	exposure := expose(pruned, base.Add(time.Minute))
	rotateAt(pruned, base.Add(2*time.Minute))
	newExposable(b.ID)
	pruneThrough(t, s, exposure)

	// A key never exposed keeps generation 0, even when rotated.
	never := newExposable(a.ID)
	rotateAt(never, base.Add(2*time.Minute))

	s = remigrate(t)
	cases := []struct {
		name string
		key  *iogate.APIKey
		want int
	}{
		{"current secret exposed", current, 1},
		{"previous secret exposed", previous, 1},
		{"both secrets exposed", both, 2},
		{"exposure records pruned", pruned, 2},
		{"never exposed", never, 0},
	}
	for _, c := range cases {
		got, err := s.FindAPIKey(ctx, c.key.ClientID)
		must(t, "FindAPIKey", err)
		if got.ExposedGeneration != c.want {
			t.Errorf("%s: ExposedGeneration after the migration = %d, want %d", c.name, got.ExposedGeneration, c.want)
		}
		wantExposed := c.want != 0
		if got.Exposed != wantExposed {
			t.Errorf("%s: Exposed after the migration = %t, want %t", c.name, got.Exposed, wantExposed)
		}
		if wantExposed && !got.ExposedAt.Equal(base.Add(time.Minute)) {
			t.Errorf("%s: ExposedAt after the migration = %v, want the first exposure at %v", c.name, got.ExposedAt, base.Add(time.Minute))
		}
	}
}
