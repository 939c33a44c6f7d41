package storetest

import (
	"testing"
	"time"

	"github.com/iogate/iogate"
)

// testPublicURL records the server's public URL twice and checks that the store returns
// nothing before the first record and the later URL with its time after the second.
func testPublicURL(t *testing.T, s iogate.Store) {
	ctx := ctxFor(t)
	_, _, err := s.PublicURL(ctx)
	wantCode(t, "PublicURL before any record", err, iogate.CodeNotFound)

	must(t, "RecordPublicURL(first)", s.RecordPublicURL(ctx, "https://localhost:8443", base))
	url, at, err := s.PublicURL(ctx)
	must(t, "PublicURL after the first record", err)
	if url != "https://localhost:8443" || !at.Equal(base) {
		t.Errorf("PublicURL after the first record = %q at %v, want %q at %v", url, at, "https://localhost:8443", base)
	}

	later := base.Add(time.Minute)
	must(t, "RecordPublicURL(second)", s.RecordPublicURL(ctx, "https://iogate.example.com/base", later))
	url, at, err = s.PublicURL(ctx)
	must(t, "PublicURL after the second record", err)
	if url != "https://iogate.example.com/base" || !at.Equal(later) {
		t.Errorf("PublicURL after the second record = %q at %v, want %q at %v", url, at, "https://iogate.example.com/base", later)
	}
}

// recordPublicURLOnTwoHandles records a public URL through each handle, as two nodes that
// start one after the other do, and checks that both handles read the URL recorded last.
func recordPublicURLOnTwoHandles(t *testing.T, first, second iogate.Store) {
	ctx := ctxFor(t)
	must(t, "RecordPublicURL through the first handle", first.RecordPublicURL(ctx, "https://node-1.example.com", base))
	must(t, "RecordPublicURL through the second handle", second.RecordPublicURL(ctx, "https://node-2.example.com", base.Add(time.Second)))
	for name, s := range map[string]iogate.Store{"first": first, "second": second} {
		url, _, err := s.PublicURL(ctx)
		must(t, "PublicURL through the "+name+" handle", err)
		if url != "https://node-2.example.com" {
			t.Errorf("PublicURL through the %s handle = %q, want %q, the URL recorded last", name, url, "https://node-2.example.com")
		}
	}
}
