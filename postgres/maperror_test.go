package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iogate/iogate"
)

// TestMapErrorRetryMessages checks that a deadlock or a serialization failure is a 503
// whose message requests a retry without calling the database unreachable, and that a
// connection failure still calls it unreachable.
func TestMapErrorRetryMessages(t *testing.T) {
	for _, c := range []struct {
		code, want string
	}{
		{"40P01", errConflictRetry},
		{"40001", errConflictRetry},
		{"08006", errUnavailable},
		{"57P01", errUnavailable},
	} {
		err := mapError(&pgconn.PgError{Code: c.code, Message: "from the server"})
		if got := iogate.ErrorCodeOf(err); got != iogate.CodeUnavailable {
			t.Errorf("SQLSTATE %s: code %q, want %q", c.code, got, iogate.CodeUnavailable)
		}
		if got := iogate.ErrorMessageOf(err); got != c.want {
			t.Errorf("SQLSTATE %s: message %q, want %q", c.code, got, c.want)
		}
	}
}
