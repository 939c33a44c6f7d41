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
