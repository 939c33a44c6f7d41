package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/iogate/iogate/internal/pgtest"
	"github.com/iogate/iogate/storetest"
)

// TestCreateVaultOnceRepeatableRead runs concurrent creations with one idempotency key on
// sessions whose default isolation is REPEATABLE READ. There the lookup of the key can
// miss a creation that committed while the transaction waited for the account lock, and
// the store must turn the unique violation of its insert into a replay.
func TestCreateVaultOnceRepeatableRead(t *testing.T) {
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("default_transaction_isolation", "repeatable read")
	// pgx reads a plus sign in the query as itself, not as a space.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")

	conn := pgtest.Connect(t, u.String())
	var isolation string
	if err := conn.QueryRow(context.Background(), `SHOW default_transaction_isolation`).Scan(&isolation); err != nil {
		t.Fatal(err)
	}
	if isolation != "repeatable read" {
		t.Fatalf("default_transaction_isolation = %q, want repeatable read from the URL", isolation)
	}
	storetest.RunVaultKeyConcurrent(t, open(t, u.String()))
}
