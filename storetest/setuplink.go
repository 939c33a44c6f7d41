package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// createSetupLinksAtOnce creates two setup links at the same moment, one through each
// handle, as two nodes that start together do, and checks that exactly one of them stays
// valid and the other reports that it was replaced. With two valid links, the one printed
// first would still create the first account after the log that shows it leaked.
func createSetupLinksAtOnce(t *testing.T, first, second iogate.Store) {
	ctx := ctxFor(t)
	const rounds = 10
	for round := range rounds {
		links := [2]*iogate.UserLink{}
		for i := range links {
			links[i] = &iogate.UserLink{TokenHash: digest(fmt.Sprintf("round-%d-%d", round, i)), Purpose: iogate.LinkSetup,
				CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		}
		start := make(chan struct{})
		errs := [2]error{}
		var wg sync.WaitGroup
		for i, s := range []iogate.Store{first, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.CreateUserLink(ctx, links[i], nil)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			must(t, fmt.Sprintf("CreateUserLink %d of round %d", i, round), err)
		}

		var valid, replaced int
		for i, l := range links {
			_, err := first.FindUserLink(ctx, l.TokenHash, iogate.LinkSetup, base)
			switch {
			case err == nil:
				valid++
			case errors.Is(err, iogate.ErrSetupLinkReplaced):
				replaced++
			default:
				t.Fatalf("FindUserLink of link %d of round %d: %v, want the link or ErrSetupLinkReplaced", i, round, err)
			}
		}
		if valid != 1 || replaced != 1 {
			t.Fatalf("round %d: after two setup links were created at once, %d are valid and %d replaced, want 1 and 1", round, valid, replaced)
		}
	}
}

// testReplacedSetupLinkBehindClock checks that a replaced setup link stays invalid on a
// node whose clock is behind the one that created it. Replacing a link sets its expiry to
// its creation time, which such a node still takes to be in the future.
func testReplacedSetupLinkBehindClock(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	// The first node's clock is five minutes ahead of the second's.
	ahead := &iogate.UserLink{TokenHash: digest("ahead"), Purpose: iogate.LinkSetup,
		CreatedAt: base.Add(5 * time.Minute), ExpiresAt: base.Add(65 * time.Minute)}
	later := &iogate.UserLink{TokenHash: digest("later"), Purpose: iogate.LinkSetup,
		CreatedAt: base.Add(time.Minute), ExpiresAt: base.Add(61 * time.Minute)}
	must(t, "CreateUserLink", s.CreateUserLink(ctx, ahead, nil))
	must(t, "CreateUserLink", s.CreateUserLink(ctx, later, nil))

	now := base.Add(2 * time.Minute)
	_, err := s.FindUserLink(ctx, ahead.TokenHash, iogate.LinkSetup, now)
	if !errors.Is(err, iogate.ErrSetupLinkReplaced) {
		t.Errorf("FindUserLink of the replaced link before its creation time: %v, want ErrSetupLinkReplaced", err)
	}
	a := &iogate.Account{ID: iogate.NewID(), Name: "Acme", Email: "ops@acme.test", Status: iogate.AccountActive, CreatedAt: now}
	owner := &iogate.User{ID: iogate.NewID(), AccountID: a.ID, Email: "owner@acme.test", Role: iogate.RoleOwner, CreatedAt: now, UpdatedAt: now}
	ownerRec, err := chain.NewUserRecord(owner, iogate.AuditUserCreated, iogate.Actor{Type: iogate.ActorUser, ID: owner.ID}, now, nil)
	must(t, "NewUserRecord", err)
	err = s.CreateAccountWithOwner(ctx, ahead.TokenHash, now, a, owner, accountCreated(t, a), ownerRec)
	if !errors.Is(err, iogate.ErrSetupLinkReplaced) {
		t.Errorf("CreateAccountWithOwner with the replaced link before its creation time: %v, want ErrSetupLinkReplaced", err)
	}
	if _, err := s.FindUserLink(ctx, later.TokenHash, iogate.LinkSetup, now); err != nil {
		t.Errorf("FindUserLink of the link printed last: %v", err)
	}
}
