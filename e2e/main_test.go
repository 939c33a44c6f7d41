package e2e

import (
	"os"
	"testing"

	"github.com/iogate/iogate/internal/testenv"
)

// TestMain removes the iogate binary that the tests built once they have run.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinary()
	os.Exit(code)
}
