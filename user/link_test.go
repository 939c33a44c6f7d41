package user

import (
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// TestLinkExpiryAsStored checks that InviteUser and CreateResetLink return the expiry that
// the store recorded. The clock reads a time with nanoseconds, which the store cannot keep.
func TestLinkExpiryAsStored(t *testing.T) {
	f := newFixture(t)
	f.clock.Advance(123456789 * time.Nanosecond)

	cases := []struct {
		name    string
		purpose string
		ttl     time.Duration
		create  func() (string, time.Time, error)
	}{
		{"invitation", iogate.LinkInvite, InviteLinkTTL, func() (string, time.Time, error) {
			return f.svc.InviteUser(f.ctx, f.owner.AccountID, "admin@acme.test", iogate.RoleAdmin)
		}},
		{"password reset", iogate.LinkReset, ResetLinkTTL, func() (string, time.Time, error) {
			return f.svc.CreateResetLink(f.ctx, "owner@acme.test")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			token, expiresAt, err := c.create()
			if err != nil {
				t.Fatalf("create the link: %v", err)
			}
			stored, err := f.svc.CheckLink(f.ctx, token, c.purpose)
			if err != nil {
				t.Fatalf("CheckLink: %v", err)
			}
			if !expiresAt.Equal(stored.ExpiresAt) {
				t.Errorf("returned expiry %s, want %s, the one stored", expiresAt.Format(time.RFC3339Nano), stored.ExpiresAt.Format(time.RFC3339Nano))
			}
			if want := f.clock.Now().Add(c.ttl).Truncate(time.Microsecond); !expiresAt.Equal(want) {
				t.Errorf("returned expiry %s, want %s, the clock's time plus %s", expiresAt.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), c.ttl)
			}
		})
	}
}
